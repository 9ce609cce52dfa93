"""Alert pages: the rule list, a rule's page (chart with thresholds, history), the form, mute."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib import messages
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from alerts import charts, selectors, services
from alerts.filters import AlertRuleFilterSet
from alerts.forms import RULE_FIELDS, AlertRuleForm, MuteForm
from alerts.metrics import METRICS
from alerts.models import AlertRule
from alerts.templatetags.alert_links import finding_load
from crucible import access
from crucible.lists import FilteredListView, page_of
from crucible.pages import TeamPageMixin, form_add_service_errors


class IndexView(FilteredListView):
    """The active team's rules, filterable (the API's FilterSet), sortable and paginated."""

    template_name = "alerts/index.html"
    filterset_class = AlertRuleFilterSet
    sorts = {"name": ("name",), "state": ("state",), "updated": ("updated_at",)}
    default_ordering = "name"
    item_name = ("rule", "rules")
    form_fields = ("q", "state", "metric")

    def get_queryset(self):
        return selectors.alert_rule_list(team=self.team)

    def get_context_data(self, **kwargs):
        return super().get_context_data(can_write=access.can(self.request, self.team.pk), **kwargs)


class RuleMixin(TeamPageMixin):
    """Pages of one rule of the active team; changing it needs write access to its team."""

    def object_queryset(self):
        return AlertRule.objects.select_related("team").filter(team=self.team)


class RuleDetailView(RuleMixin, TemplateView):
    template_name = "alerts/rule_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rule = self.get_object()
        spec = METRICS[rule.metric]
        context.update(
            rule=rule,
            spec=spec,
            last_value=spec.display(rule.last_value),
            warning=spec.display(rule.warning_threshold),
            critical=spec.display(rule.critical_threshold),
            chart=charts.rule_chart(rule=rule, series=selectors.alert_rule_series(rule=rule)),
            history=page_of(self.request, selectors.alert_transition_list(rule=rule), item_name=("change", "changes")),
            muted=rule.muted_until is not None and rule.muted_until > timezone.now(),
            mute_form=MuteForm(),
            can_write=access.can(self.request, self.team.pk),
        )
        return context


def _prefill(params) -> dict:
    """Initial values from the query string (the "create an alert" links of other pages)."""
    return {name: params[name] for name in RULE_FIELDS if params.get(name)}


class RuleCreateView(TeamPageMixin, TemplateView):
    template_name = "alerts/rule_form.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", AlertRuleForm(initial=_prefill(self.request.GET)))
        context["creating"] = True
        return context

    def post(self, request):
        form = AlertRuleForm(request.POST)
        if form.is_valid():
            try:
                rule = services.alert_rule_create(team=self.team, data=form.rule_data(), created_by=request.user)
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, f"Alert rule '{rule.name}' created.")
                return redirect("alerts:rule-detail", pk=rule.pk)
        return self.render_to_response(self.get_context_data(form=form))


class RuleFromFindingView(TeamPageMixin, View):
    """One click from a recommendation or a regression: the rule its "customize" link prefills,
    with the form's defaults for the rest, created through the same form and service (write access
    to the active team, checked by ``TeamPageMixin``). The posted values are signed with the
    finding's team: another team's finding, or a forged one, answers 404. Clicking twice leads to
    the rule the first click made (``alert_rule_create_once``)."""

    def post(self, request):
        try:
            finding = finding_load(request.POST.get("finding", ""))
        except signing.BadSignature:
            raise Http404("No such finding.") from None
        if finding.get("team") != self.team.pk or not isinstance(finding.get("rule"), dict):
            raise Http404("No such finding.")
        customize = f"{reverse('alerts:rule-create')}?{urlencode(finding['rule'])}"
        defaults = {name: field.initial for name, field in AlertRuleForm.base_fields.items()}
        form = AlertRuleForm({**defaults, **_prefill(finding["rule"])})
        if not form.is_valid():
            messages.error(request, "This finding does not make a rule by itself: complete the form.")
            return redirect(customize)
        try:
            rule, created = services.alert_rule_create_once(
                team=self.team, data=form.rule_data(), created_by=request.user
            )
        except ValidationError as exc:
            reasons = " ".join(" ".join(msgs) for msgs in exc.message_dict.values())
            messages.error(request, f"The alert rule was not created: {reasons} Adjust it here.")
            return redirect(customize)
        if created:
            messages.success(request, f"Alert rule '{rule.name}' created.")
        else:
            messages.info(request, f"Your team already has this rule: '{rule.name}'.")
        return redirect("alerts:rule-detail", pk=rule.pk)


class RuleEditView(RuleMixin, TemplateView):
    template_name = "alerts/rule_form.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        rule = self.get_object(access.READ)
        context.setdefault("form", AlertRuleForm.for_rule(rule))
        context["rule"] = rule
        return context

    def post(self, request, pk):
        rule = self.get_object()
        form = AlertRuleForm(request.POST)
        if form.is_valid():
            try:
                services.alert_rule_update(rule=rule, data=form.rule_data())
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, "Alert rule saved.")
                return redirect("alerts:rule-detail", pk=rule.pk)
        return self.render_to_response(self.get_context_data(form=form))


class RuleMuteView(RuleMixin, View):
    def post(self, request, pk):
        rule = self.get_object()
        form = MuteForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Pick how long to mute the rule.")
            return redirect("alerts:rule-detail", pk=rule.pk)
        hours = form.cleaned_data["hours"]
        until = timezone.now() + dt.timedelta(hours=hours) if hours else None
        services.alert_rule_mute(rule=rule, until=until)
        messages.success(request, f"Muted until {until:%Y-%m-%d %H:%M} UTC." if until else "Unmuted.")
        return redirect("alerts:rule-detail", pk=rule.pk)


class RuleDeleteView(RuleMixin, View):
    def post(self, request, pk):
        rule = self.get_object()
        services.alert_rule_delete(rule=rule)
        messages.success(request, f"Alert rule '{rule.name}' deleted.")
        return redirect("alerts:index")
