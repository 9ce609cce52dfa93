"""The redaction rules page: every member reads the team's rules, team admins add, switch and
delete them (the same services as the API and the admin)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.generic import TemplateView

from crucible import access
from crucible.pages import TeamPageMixin
from observability import services
from observability.models import RedactionRule
from observability.redaction import BUILTIN_PATTERNS


class RedactionRulesView(TeamPageMixin, TemplateView):
    template_name = "observability/redaction_rules.html"
    write_action = access.MANAGE

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            rules=RedactionRule.objects.filter(team=self.team),
            builtins=sorted(BUILTIN_PATTERNS),
            is_admin=access.can(self.request, self.team.pk, access.MANAGE),
        )
        return context

    def post(self, request, *args, **kwargs):
        try:
            rule = services.redaction_rule_create(
                team=self.team,
                name=request.POST.get("name", ""),
                pattern=request.POST.get("pattern", ""),
                replacement=request.POST.get("replacement", "") or "[REDACTED]",
            )
        except ValidationError as exc:
            for field, problems in exc.message_dict.items():
                for problem in problems:
                    messages.error(request, f"{field}: {problem}")
        else:
            messages.success(request, f"Rule '{rule.name}' added; it applies to spans ingested from now on.")
        return redirect("observability:redaction-rules")


class RedactionRuleChangeView(TeamPageMixin, TemplateView):
    """POST only: ``action=toggle`` switches the rule on or off, ``action=delete`` deletes it."""

    write_action = access.MANAGE
    http_method_names = ["post"]

    def object_queryset(self):
        return access.restrict(RedactionRule.objects.all(), self.request)

    def post(self, request, *args, **kwargs):
        rule = self.get_object()
        if request.POST.get("action") == "delete":
            services.redaction_rule_delete(rule=rule)
            messages.success(request, f"Rule '{rule.name}' deleted.")
        else:
            services.redaction_rule_update(rule=rule, enabled=not rule.enabled)
        return redirect("observability:redaction-rules")
