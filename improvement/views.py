"""Experiment pages (server-rendered; thin: forms in, services and selectors out)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from crucible import access
from crucible.lists import FilteredListView
from crucible.pages import TeamPageMixin, form_add_service_errors
from improvement import charts, selectors, services
from improvement.filters import ExperimentFilterSet
from improvement.forms import ConcludeForm, ExperimentCreateForm, ExperimentForm, VariantForm
from improvement.models import Experiment, Status, Variant
from marketplace import selectors as marketplace_selectors

EXPERIMENT_FIELDS = ExperimentForm.Meta.fields


def _flash_errors(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


class IndexView(FilteredListView):
    """Experiments of the active team, filterable (the API's FilterSet), sortable and paginated."""

    template_name = "improvement/index.html"
    filterset_class = ExperimentFilterSet
    sorts = {"name": ("name",), "results": ("total_results",), "created": ("created_at",)}
    default_ordering = "-created"
    item_name = ("experiment", "experiments")
    form_fields = ("q", "status", "strategy")

    def get_queryset(self):
        return selectors.experiment_list(team_ids=[self.team.pk])

    def get_context_data(self, **kwargs):
        return super().get_context_data(can_write=access.can(self.request, self.team.pk), **kwargs)


class ExperimentMixin(TeamPageMixin):
    """Pages of one experiment of the active team; changing it needs write access to its team."""

    def object_queryset(self):
        return Experiment.objects.select_related("team", "agent", "winner", "promoted_version").filter(team=self.team)

    def get_experiment(self) -> Experiment:
        return self.get_object()


class ExperimentDetailView(ExperimentMixin, TemplateView):
    """Variants table with intervals and probability of being best, charts, verdict and actions."""

    template_name = "improvement/experiment_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        experiment = self.get_experiment()
        variants = list(Variant.objects.filter(experiment=experiment).order_by("id"))
        report = selectors.experiment_report(experiment=experiment, variants=variants)
        timeline = selectors.experiment_timeline(experiment=experiment)
        prompts = {v.pk: v for v in variants}
        breached = {row["id"]: row for row in report["guardrails"]["variants"] if row["breached"]}
        for row in report["variants"]:
            row["guardrail"] = breached.get(row["id"])
            row["prompt"] = prompts[row["id"]].prompt
            row["version_label"] = prompts[row["id"]].version_label
            row["model_hints"] = prompts[row["id"]].model_hints
        context.update(
            experiment=experiment,
            report=report,
            charts=charts.report_charts(report=report, timeline=timeline),
            can_write=access.can(self.request, self.team.pk),
            variant_form=VariantForm(),
            conclude_form=ConcludeForm(experiment=experiment, variants=variants),
            source_link=source_link(experiment),
            can_promote=(
                experiment.status == Status.CONCLUDED
                and experiment.winner_id
                and experiment.agent_id
                and not experiment.promoted_version_id
            ),
        )
        return context


class ExperimentCreateView(TeamPageMixin, TemplateView):
    template_name = "improvement/experiment_form.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", ExperimentCreateForm(team=self.team))
        context["creating"] = True
        return context

    def post(self, request):
        form = ExperimentCreateForm(request.POST, team=self.team)
        if form.is_valid():
            data = form.cleaned_data
            variants = []
            if data["control_prompt"].strip():
                variants.append({"name": "control", "prompt": data["control_prompt"], "is_control": True})
            if data["challenger_prompt"].strip():
                variants.append({"name": "challenger", "prompt": data["challenger_prompt"]})
            try:
                experiment = services.experiment_create(
                    team=self.team,
                    created_by=request.user,
                    variants=variants,
                    status=Status.RUNNING if data["start_now"] else Status.DRAFT,
                    **{k: data[k] for k in EXPERIMENT_FIELDS},
                )
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, f"Experiment '{experiment.name}' created.")
                return redirect("improvement:experiment-detail", pk=experiment.pk)
        return self.render_to_response(self.get_context_data(form=form))


class ExperimentEditView(ExperimentMixin, TemplateView):
    template_name = "improvement/experiment_form.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        experiment = self.get_experiment()
        context.setdefault("form", ExperimentForm(instance=experiment, team=self.team))
        context["experiment"] = experiment
        return context

    def post(self, request, pk):
        experiment = self.get_experiment()
        form = ExperimentForm(request.POST, instance=Experiment.objects.get(pk=experiment.pk), team=self.team)
        if form.is_valid():
            try:
                changes = {k: form.cleaned_data[k] for k in EXPERIMENT_FIELDS}
                services.experiment_update(experiment=experiment, **changes)
            except ValidationError as exc:
                form_add_service_errors(form, exc)
            else:
                messages.success(request, "Experiment saved.")
                return redirect("improvement:experiment-detail", pk=experiment.pk)
        return self.render_to_response(self.get_context_data(form=form))


class ExperimentActionView(ExperimentMixin, View):
    """POST start / pause / conclude / promote from the experiment page."""

    def post(self, request, pk, verb):
        experiment = self.get_experiment()
        try:
            if verb == "start":
                services.experiment_start(experiment=experiment)
                messages.success(request, "The experiment is running.")
            elif verb == "pause":
                services.experiment_pause(experiment=experiment)
                messages.success(request, "The experiment is paused.")
            elif verb == "conclude":
                form = ConcludeForm(request.POST, experiment=experiment)
                if not form.is_valid():
                    raise ValidationError("Pick a winner among the experiment's variants.")
                winner = None
                if form.cleaned_data["winner"]:
                    winner = get_object_or_404(Variant, pk=form.cleaned_data["winner"], experiment=experiment)
                experiment = services.experiment_conclude(
                    experiment=experiment,
                    winner=winner,
                    promote=form.cleaned_data["promote"],
                    user=request.user,
                )
                text = (
                    f"Concluded; winner: {experiment.winner.name}."
                    if experiment.winner_id
                    else "Concluded without a winner."
                )
                if experiment.promoted_version_id:
                    text += f" Published as version {experiment.promoted_version.version}."
                messages.success(request, text)
            elif verb == "promote":
                version = services.experiment_promote(experiment=experiment, user=request.user)
                messages.success(
                    request, f"Published the winner as version {version.version} of {experiment.agent.name}."
                )
            else:
                raise ValidationError("Unknown action.")
        except ValidationError as exc:
            _flash_errors(request, exc)
        return redirect("improvement:experiment-detail", pk=experiment.pk)


class VariantAddView(ExperimentMixin, View):
    def post(self, request, pk):
        experiment = self.get_experiment()
        form = VariantForm(request.POST)
        if form.is_valid():
            try:
                variant = services.variant_create(experiment=experiment, **form.cleaned_data)
            except ValidationError as exc:
                _flash_errors(request, exc)
            else:
                messages.success(request, f"Variant '{variant.name}' added.")
        else:
            for field, errors in form.errors.items():
                for error in errors:
                    messages.error(request, f"{field}: {error}")
        return redirect("improvement:experiment-detail", pk=experiment.pk)


class VariantRetireView(TeamPageMixin, View):
    def object_queryset(self):
        return Variant.objects.select_related("experiment").filter(team=self.team)

    def post(self, request, pk):
        variant = self.get_object()
        try:
            services.variant_retire(variant=variant)
        except ValidationError as exc:
            _flash_errors(request, exc)
        else:
            messages.success(request, f"Variant '{variant.name}' retired.")
        return redirect("improvement:experiment-detail", pk=variant.experiment_id)


class TryVersionView(TeamPageMixin, View):
    """The upgrade advisor's button: run the installed version against the newest one."""

    http_method_names = ["post"]

    def post(self, request):
        agent = marketplace_selectors.agent_for_team(team=self.team, ref=request.POST.get("agent", ""))
        if agent is None:
            raise Http404("No such agent.")
        try:
            experiment, created = services.experiment_upgrade_start(
                team=self.team, agent=agent, created_by=request.user
            )
        except ValidationError as exc:
            _flash_errors(request, exc)
            return redirect("marketplace:agent-detail", pk=agent.pk)
        if created:
            messages.success(request, f"Experiment '{experiment.name}' started on your traffic.")
        else:
            messages.info(request, f"Experiment '{experiment.name}' is already comparing these versions.")
        return redirect("improvement:experiment-detail", pk=experiment.pk)


SOURCE_PAGES = {
    "upgrade": ("marketplace:agent-detail", True, "the upgrade advisor of {agent}"),
    "observability": ("observability:recommendations", False, "an observability recommendation"),
    "teammemory": ("teammemory:index", False, "a team memory recommendation"),
}


def source_link(experiment: Experiment) -> dict | None:
    """Where the experiment came from (the finding or the advisor), as {label, url}; None if made by hand."""
    page = SOURCE_PAGES.get(experiment.source_kind)
    if page is None:
        return None
    name, by_agent, label = page
    if by_agent and not experiment.agent_id:
        return None
    url = reverse(name, args=[experiment.agent_id]) if by_agent else reverse(name)
    return {"label": label.format(agent=experiment.agent.name if experiment.agent_id else ""), "url": url}
