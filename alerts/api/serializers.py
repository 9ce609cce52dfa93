"""Alerts API shapes: the rule as read, the input of create and update, mute, transitions."""

from __future__ import annotations

from rest_framework import serializers

from alerts.models import WINDOW_CHOICES, AlertRule, AlertTransition, Direction, Metric, NoData
from alerts.services.rules import MAX_THRESHOLD
from crucible import limits
from crucible.api.serializers import OutputModelSerializer, ShapeOnlyMixin, StrictFieldsMixin

THRESHOLD = {"min_value": -MAX_THRESHOLD, "max_value": MAX_THRESHOLD}  # the service's limits, for the schema


class AlertRuleSerializer(OutputModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    url = serializers.SerializerMethodField(help_text="The rule's page.")

    class Meta:
        model = AlertRule
        fields = [
            "id", "team", "name", "metric", "agent_name", "model", "version", "tag", "window_minutes", "direction",
            "warning_threshold", "critical_threshold", "min_samples", "no_data", "pending_minutes", "enabled",
            "muted_until", "state", "severity", "state_since", "last_value", "last_samples", "last_tick",
            "created_at", "updated_at", "url",
        ]  # fmt: skip
        read_only_fields = fields

    def get_url(self, rule) -> str:
        from django.urls import reverse

        return reverse("alerts:rule-detail", kwargs={"pk": rule.pk})


class AlertRuleInputSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    """Create: name, metric, a window and at least one threshold are needed. Update: any subset."""

    name = serializers.CharField(max_length=limits.NAME_CHARS)
    metric = serializers.ChoiceField(choices=Metric.choices)
    agent_name = serializers.CharField(
        max_length=limits.LABEL_CHARS, required=False, allow_blank=True, help_text="Empty: every agent."
    )
    model = serializers.CharField(
        max_length=limits.LABEL_CHARS, required=False, allow_blank=True, help_text="Empty: every model."
    )
    version = serializers.CharField(max_length=64, required=False, allow_blank=True, help_text="Empty: every version.")
    tag = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="Empty: every execution; else only executions with this tag (read from raw executions).",
    )
    window_minutes = serializers.ChoiceField(choices=WINDOW_CHOICES)
    direction = serializers.ChoiceField(choices=Direction.choices, required=False)
    warning_threshold = serializers.FloatField(required=False, allow_null=True, **THRESHOLD)
    critical_threshold = serializers.FloatField(required=False, allow_null=True, **THRESHOLD)
    min_samples = serializers.IntegerField(required=False, min_value=1, max_value=limits.MAX_TOKENS)
    no_data = serializers.ChoiceField(choices=NoData.choices, required=False)
    pending_minutes = serializers.IntegerField(required=False, min_value=0, max_value=1440)
    enabled = serializers.BooleanField(required=False)


class MuteSerializer(StrictFieldsMixin, serializers.Serializer):
    until = serializers.DateTimeField(allow_null=True, help_text="No notifications before this time; null unmutes.")


class AlertTransitionSerializer(OutputModelSerializer):
    class Meta:
        model = AlertTransition
        fields = [
            "id", "rule", "tick", "from_state", "to_state", "severity", "value", "samples", "threshold", "reason",
            "notified", "created_at",
        ]  # fmt: skip
        read_only_fields = fields
