"""Guarded rollouts API: list and read rollouts with their steps; record runs of stable and
candidate (the guardrails are read after every batch; a breach stops the rollout at once)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crucible.api.serializers import OutputModelSerializer, StrictFieldsMixin
from crucible.api.viewsets import TeamScopedMixin
from improvement import conf, services
from improvement.api.serializers import Bool, Flt, Int
from improvement.filters import RolloutFilterSet
from improvement.models import Rollout, RolloutStatus, RolloutStep


class RolloutStepSerializer(serializers.ModelSerializer):
    class Meta:
        model = RolloutStep
        fields = ["action", "share", "evidence", "created_at"]
        read_only_fields = fields


class RolloutSerializer(OutputModelSerializer):
    candidate_version = serializers.CharField(source="candidate.version", read_only=True)
    stable_version = serializers.CharField(source="stable.version", read_only=True, allow_null=True)
    steps = RolloutStepSerializer(many=True, read_only=True)

    class Meta:
        model = Rollout
        fields = [
            "id",
            "experiment",
            "agent",
            "candidate",
            "candidate_version",
            "stable",
            "stable_version",
            "schedule",
            "step",
            "share",
            "status",
            "min_results",
            "next_step_at",
            "reason",
            "started_at",
            "finished_at",
            "steps",
        ]
        read_only_fields = fields


class RolloutRunSerializer(StrictFieldsMixin, serializers.Serializer):
    version_id = Int(min_value=1, help_text="The stable or the candidate version the run used.")
    success = Bool()
    duration_ms = Flt(min_value=0.0, default=0.0)
    cost = Flt(min_value=0.0, default=0.0)


class RolloutRunsSerializer(StrictFieldsMixin, serializers.Serializer):
    results = RolloutRunSerializer(many=True, allow_empty=False, max_length=conf.MAX_RESULTS_PER_REQUEST)


class RolloutRecordedSerializer(serializers.Serializer):
    recorded = serializers.IntegerField()
    status = serializers.ChoiceField(choices=RolloutStatus.choices, help_text="stopped when a guardrail breached.")


class RolloutViewSet(TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Guarded rollouts of promoted winners (``POST /experiments/{id}/promote/`` with ``guarded``)."""

    serializer_class = RolloutSerializer
    filterset_class = RolloutFilterSet
    ordering_fields = ["started_at", "id"]
    ordering = ["-started_at"]

    def base_queryset(self):
        return Rollout.objects.select_related("candidate", "stable").prefetch_related("steps")

    @extend_schema(request=RolloutRunsSerializer, responses={201: RolloutRecordedSerializer})
    @action(detail=True, methods=["post"])
    def results(self, request, pk=None):
        """Runs of the stable or candidate version; all or nothing, every bad field named."""
        rollout = self.get_object()
        data = RolloutRunsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        runs = [dict(r) for r in data.validated_data["results"]]
        return Response(services.rollout_results_record(rollout=rollout, results=runs), status=status.HTTP_201_CREATED)
