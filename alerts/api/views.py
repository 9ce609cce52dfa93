"""Alerts API (thin: shape the input, call a service or selector, serialize)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from alerts import services
from alerts.api import serializers as s
from alerts.filters import AlertRuleFilterSet, AlertTransitionFilterSet
from alerts.models import AlertRule, AlertTransition
from crucible import access
from crucible.api.viewsets import TeamScopedMixin


class AlertRuleViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Alert rules of your teams: a metric over a window, warning and critical thresholds, and the
    state the worker's evaluation (every minute) gives them. ``mute`` silences notifications."""

    serializer_class = s.AlertRuleSerializer
    filterset_class = AlertRuleFilterSet
    ordering_fields = ["name", "created_at", "updated_at", "state", "metric"]
    ordering = ["name"]

    def base_queryset(self):
        return AlertRule.objects.select_related("team")

    def _respond(self, rule, code=status.HTTP_200_OK):
        return Response(s.AlertRuleSerializer(self.base_queryset().get(pk=rule.pk)).data, status=code)

    @extend_schema(
        request=s.AlertRuleInputSerializer,
        responses={201: s.AlertRuleSerializer, 400: OpenApiResponse(description="A field is refused (named).")},
    )
    def create(self, request):
        data = s.AlertRuleInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = services.alert_rule_create(
            team=self.team, data=dict(data.validated_data), created_by=access.actor_user(request)
        )
        return self._respond(rule, status.HTTP_201_CREATED)

    @extend_schema(
        request=s.AlertRuleInputSerializer,
        responses={200: s.AlertRuleSerializer, 400: OpenApiResponse(description="A field is refused (named).")},
    )
    def partial_update(self, request, pk=None):
        rule = self.get_object()
        data = s.AlertRuleInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return self._respond(services.alert_rule_update(rule=rule, data=dict(data.validated_data)))

    def destroy(self, request, pk=None):
        services.alert_rule_delete(rule=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=s.MuteSerializer, responses={200: s.AlertRuleSerializer})
    @action(detail=True, methods=["post"])
    def mute(self, request, pk=None):
        """No notifications before ``until`` (null: unmute); evaluation and history go on."""
        rule = self.get_object()
        data = s.MuteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return self._respond(services.alert_rule_mute(rule=rule, until=data.validated_data["until"]))


class AlertTransitionViewSet(
    TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The history of your teams' alert rules: each change of state with the value that caused it."""

    serializer_class = s.AlertTransitionSerializer
    filterset_class = AlertTransitionFilterSet
    ordering_fields = ["tick", "created_at"]
    ordering = ["-tick"]

    def base_queryset(self):
        return AlertTransition.objects.all()
