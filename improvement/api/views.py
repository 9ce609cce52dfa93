"""Improvement API (thin: validate, call a service or selector, serialize)."""

from __future__ import annotations

import re

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response

from crucible import access
from crucible.api.pagination import CursorPagination
from crucible.api.serializers import plain_text_input
from crucible.api.viewsets import TeamScopedMixin
from improvement import selectors, services
from improvement.api import serializers as s
from improvement.filters import AssignmentFilterSet, ExperimentFilterSet, VariantFilterSet
from improvement.models import Assignment, Experiment, Variant
from marketplace import selectors as marketplace_selectors


def report_payload(experiment: Experiment) -> dict:
    report = selectors.experiment_report(experiment=experiment)
    report["timeline"] = selectors.experiment_timeline(experiment=experiment)
    return s.ReportSerializer(report).data  # the documented shape, money as decimal strings


class ExperimentViewSet(TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Prompt experiments of your teams. Create, change, start, pause, conclude and promote;
    ``select`` serves a variant; ``report`` gives the evidence and the verdict."""

    team_actions = ("select",)  # serving a variant writes an assignment for the active team
    serializer_class = s.ExperimentSerializer
    filterset_class = ExperimentFilterSet
    ordering_fields = ["created_at", "name", "status", "updated_at"]
    ordering = ["-created_at"]

    def base_queryset(self):
        return Experiment.objects.select_related("team", "agent", "promoted_version").prefetch_related(
            Prefetch("variants", queryset=Variant.objects.order_by("id"))
        )

    def _respond(self, experiment, code=status.HTTP_200_OK):
        experiment = self.base_queryset().get(pk=experiment.pk)
        return Response(s.ExperimentSerializer(experiment, context=self.get_serializer_context()).data, status=code)

    # Documented as JSON only: the nested variants list has no form encoding (a form body that
    # names variants is refused, see ExperimentCreateSerializer).
    @extend_schema(request={"application/json": s.ExperimentCreateSerializer}, responses={201: s.ExperimentSerializer})
    def create(self, request):
        data = s.ExperimentCreateSerializer(data=request.data, context={"request": request, "team": self.team})
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        experiment = services.experiment_create(team=self.team, created_by=access.actor_user(request), **values)
        return self._respond(experiment, status.HTTP_201_CREATED)

    @extend_schema(request=s.ExperimentUpdateSerializer, responses=s.ExperimentSerializer)
    def partial_update(self, request, pk=None):
        experiment = self.get_object()
        data = s.ExperimentUpdateSerializer(
            data=request.data, partial=True, context={"request": request, "team": experiment.team}
        )
        data.is_valid(raise_exception=True)
        experiment = services.experiment_update(experiment=experiment, **data.validated_data)
        return self._respond(experiment)

    @extend_schema(request=None, responses=s.ExperimentSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """Start (or resume) serving variants: draft or paused -> running."""
        return self._respond(services.experiment_start(experiment=self.get_object()))

    @extend_schema(request=None, responses=s.ExperimentSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        """Stop serving variants for now (results of calls in flight are still taken)."""
        return self._respond(services.experiment_pause(experiment=self.get_object()))

    @extend_schema(request=s.ConcludeInputSerializer, responses=s.ExperimentSerializer)
    @action(detail=True, methods=["post"])
    def conclude(self, request, pk=None):
        """Conclude; the winner is the one given, else the one the evidence names (maybe none)."""
        experiment = self.get_object()
        data = s.ConcludeInputSerializer(data=request.data if request.data else {})
        data.is_valid(raise_exception=True)
        winner = None
        if data.validated_data.get("winner"):
            winner = Variant.objects.filter(pk=data.validated_data["winner"], experiment=experiment).first()
            if winner is None:
                from rest_framework.exceptions import ValidationError

                raise ValidationError({"winner": "Not a variant of this experiment."})
        experiment = services.experiment_conclude(
            experiment=experiment,
            winner=winner,
            promote=data.validated_data["promote"],
            user=access.actor_user(request),
        )
        return self._respond(experiment)

    @extend_schema(request=s.PromoteInputSerializer, responses={201: s.PromotedSerializer})
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        """Publish the concluded experiment's winner as a new version of its marketplace agent."""
        experiment = self.get_object()
        data = s.PromoteInputSerializer(data=request.data if request.data else {})
        data.is_valid(raise_exception=True)
        version = services.experiment_promote(
            experiment=experiment,
            user=access.actor_user(request),
            version=data.validated_data.get("version"),
            guarded=data.validated_data["guarded"],
            schedule=data.validated_data.get("schedule"),
        )
        experiment = self.base_queryset().get(pk=experiment.pk)
        rollout = experiment.rollouts.filter(candidate=version).values_list("pk", flat=True).first()
        body = {
            "experiment": s.ExperimentSerializer(experiment, context=self.get_serializer_context()).data,
            "agent_version_id": version.pk,
            "version": version.version,
            "rollout": rollout,
        }
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.TryVersionSerializer,
        responses={200: s.ExperimentSerializer, 201: s.ExperimentSerializer},
        summary="Upgrade advisor: run your installed version against the agent's newest one (idempotent)",
    )
    @action(detail=False, methods=["post"], url_path="try-version")
    def try_version(self, request):
        """Start the "current against new" experiment for an agent the active team installed: the
        two versions as variants (the installed one is the control), with the error-rate guardrail.
        An open experiment for the same pair is answered again (200)."""
        data = s.TryVersionSerializer(data=request.data, context={"request": request, "team": self.team})
        data.is_valid(raise_exception=True)
        experiment, created = services.experiment_upgrade_start(
            team=self.team, agent=data.validated_data["agent"], created_by=access.actor_user(request)
        )
        return self._respond(experiment, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=s.SelectUnitSerializer, responses={201: s.SelectResultSerializer})
    @action(detail=True, methods=["post"])
    def select(self, request, pk=None):
        """Serve a variant of this running experiment (same as ``POST /select/``)."""
        if not re.fullmatch(r"[0-9]{1,18}", str(pk)):
            raise NotFound("No such experiment.")
        data = _select_input(s.SelectUnitSerializer, request.data if request.data else {})
        return _select_response(request, experiment_id=int(pk), unit=data.get("unit"), context=data.get("context"))

    @extend_schema(responses=s.ReportSerializer)
    @action(detail=True, methods=["get"])
    def report(self, request, pk=None):
        """Per-variant evidence (objective mean and interval, Wilson success interval, probability
        of being best, lift against the control), the verdict, results still needed, timeline."""
        return Response(report_payload(self.get_object()))


def variant_version(variant: Variant) -> dict | None:
    """What the caller needs to run a version variant besides its prompt; None for prompt-only."""
    if variant.agent_version_id is None and not variant.model_hints:
        return None
    return {
        "id": variant.agent_version_id,
        "version": variant.version_label or None,
        "model_hints": variant.model_hints or {},
        "input_schema": variant.input_schema,
        "output_schema": variant.output_schema,
    }


def _select_input(serializer_class, data) -> dict:
    # A body of plain text values (the usual one) is taken as the serializer would take it, without
    # building it; anything else goes through the serializer, which names every bad field.
    values = plain_text_input(serializer_class, data)
    if values is None:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
    return values


def _select_response(request, *, name=None, experiment_id=None, unit=None, context=None) -> Response:
    # Select and result both act for the active team (the permission has checked the caller may
    # write there): the assignment and the result land in one team, whatever other teams the
    # caller belongs to, so a result for the assignment is always accepted by POST /results/.
    team = access.active_team(request)
    selection = services.experiment_select(
        team_ids=[team.pk],
        name=name,
        experiment_id=experiment_id,
        prefer_team_id=team.pk,
        unit=unit,
        context=context,
    )
    if selection is None:
        where = f"in team '{team.slug}' (the team you act for)"
        raise NotFound(f"No experiment named '{name}' {where}." if name is not None else f"No such experiment {where}.")
    body = {
        "assignment_id": selection.assignment_id,
        "experiment": selection.experiment_name,
        "experiment_id": selection.experiment_id,
        "strategy": selection.strategy,
        "variant": {
            "id": selection.variant.pk,
            "name": selection.variant.name,
            "prompt": selection.variant.prompt,
            "is_control": selection.variant.is_control,
            "agent_version": variant_version(selection.variant),
        },
        "unit": selection.unit,
        "context": context,
        "returning_unit": selection.returning_unit,
    }
    return Response(body, status=status.HTTP_201_CREATED)


class SelectViewSet(viewsets.GenericViewSet):
    """Serve a variant: ``{"experiment": "<name>"}`` -> the variant to use and an assignment id to
    report its result against. Fast path: no lock, two queries plus authentication."""

    serializer_class = s.SelectInputSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(request=s.SelectInputSerializer, responses={201: s.SelectResultSerializer})
    def create(self, request):
        data = _select_input(s.SelectInputSerializer, request.data)
        return _select_response(request, name=data["experiment"], unit=data.get("unit"), context=data.get("context"))


class ResultViewSet(viewsets.GenericViewSet):
    """Record results against an assignment (from select) or a variant. Statistics move in the
    database, exactly under concurrency; nothing is written when any result is invalid."""

    serializer_class = s.ResultInputSerializer
    pagination_class = None
    filter_backends = []

    def _record(self, results):
        team = access.active_team(self.request)
        return services.results_record_bulk(team=team, results=results)

    @extend_schema(request=s.ResultInputSerializer, responses={201: s.RecordedSerializer})
    def create(self, request):
        data = s.ResultInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team = access.active_team(self.request)
        return Response(services.result_record(team=team, **data.validated_data), status=status.HTTP_201_CREATED)

    @extend_schema(request=s.ResultBatchSerializer, responses={201: s.RecordedSerializer})
    @action(detail=False, methods=["post"])
    def batch(self, request):
        """Up to ``CRUCIBLE_IMPROVEMENT_MAX_RESULTS_PER_REQUEST`` results, all or nothing."""
        data = s.ResultBatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(self._record([dict(r) for r in data.validated_data["results"]]), status=status.HTTP_201_CREATED)


def _experiment_version(experiment: Experiment, label: str):
    if experiment.agent_id is None:
        raise DRFValidationError({"agent_version": ["Set the experiment's agent before adding one of its versions."]})
    version = marketplace_selectors.version_for_agent(agent=experiment.agent, version=label)
    if version is None:
        raise DRFValidationError({"agent_version": [f"The agent has no version '{label}'."]})
    return version


class VariantViewSet(TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Variants (prompts) with their running statistics. Add to a draft, running or paused
    experiment; rename; change the prompt until results exist; retire."""

    serializer_class = s.VariantSerializer
    filterset_class = VariantFilterSet
    ordering_fields = ["created_at", "name", "results_count", "id"]
    ordering = ["id"]

    def base_queryset(self):
        return Variant.objects.select_related("experiment")

    @extend_schema(request=s.VariantCreateSerializer, responses={201: s.VariantSerializer})
    def create(self, request):
        data = s.VariantCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        experiment = values.pop("experiment")
        if "agent_version" in values:
            values["agent_version"] = _experiment_version(experiment, values["agent_version"])
        variant = services.variant_create(experiment=experiment, **values)
        return Response(s.VariantSerializer(variant).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.VariantUpdateSerializer, responses=s.VariantSerializer)
    def partial_update(self, request, pk=None):
        variant = self.get_object()
        data = s.VariantUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        variant = services.variant_update(variant=variant, **data.validated_data)
        return Response(s.VariantSerializer(variant).data)

    @extend_schema(request=None, responses=s.VariantSerializer)
    @action(detail=True, methods=["post"])
    def retire(self, request, pk=None):
        """Stop serving this variant; it keeps its statistics and takes no more results."""
        variant = self.get_object()
        return Response(s.VariantSerializer(services.variant_retire(variant=variant)).data)


class AssignmentViewSet(TeamScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Assignments made by select (newest first, cursor-paginated)."""

    serializer_class = s.AssignmentSerializer
    filterset_class = AssignmentFilterSet
    pagination_class = CursorPagination
    cursor_ordering = "-id"
    ordering_fields = ["id"]

    def base_queryset(self):
        return Assignment.objects.all()


class ReportViewSet(viewsets.GenericViewSet):
    """The report of an experiment, by name (or id)."""

    serializer_class = s.ReportSerializer
    lookup_field = "name"
    lookup_value_regex = "[^/]+"
    pagination_class = None
    filter_backends = []

    @extend_schema(
        parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH, description="Experiment name or id.")],
        responses=s.ReportSerializer,
    )
    def retrieve(self, request, name=None):
        team = access.active_team(request)
        experiment = selectors.experiment_by_ref(team_ids=[team.pk], ref=name) if team else None
        if experiment is None:
            experiment = selectors.experiment_by_ref(team_ids=access.readable_team_ids(request), ref=name)
        if experiment is None:
            raise NotFound(f"No experiment named '{name}'.")
        return Response(report_payload(experiment))
