"""Experiment pages (server-rendered; thin: forms in, services and selectors out)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.views import View
from django.views.generic import TemplateView

from crucible import access
from crucible.lists import FilteredListView
from crucible.pages import TeamPageMixin
from improvement import charts, selectors, services
from improvement.filters import ExperimentFilterSet
from improvement.forms import ConcludeForm, ExperimentCreateForm, ExperimentForm, VariantForm
from improvement.models import Experiment, Status, Variant

EXPERIMENT_FIELDS = ExperimentForm.Meta.fields


def _form_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


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
    def get_experiment(self) -> Experiment:
        return get_object_or_404(
            Experiment.objects.select_related("team", "agent", "winner", "promoted_version"),
            pk=self.kwargs["pk"],
            team=self.team,
        )


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
        for row in report["variants"]:
            row["prompt"] = prompts[row["id"]].prompt
        context.update(
            experiment=experiment,
            report=report,
            charts=charts.report_charts(report=report, timeline=timeline),
            can_write=access.can(self.request, self.team.pk),
            variant_form=VariantForm(),
            conclude_form=ConcludeForm(experiment=experiment, variants=variants),
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
                _form_errors(form, exc)
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
                _form_errors(form, exc)
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
    def post(self, request, pk):
        variant = get_object_or_404(Variant.objects.select_related("experiment"), pk=pk, team=self.team)
        try:
            services.variant_retire(variant=variant)
        except ValidationError as exc:
            _flash_errors(request, exc)
        else:
            messages.success(request, f"Variant '{variant.name}' retired.")
        return redirect("improvement:experiment-detail", pk=variant.experiment_id)
