"""Variants: output, the brief form select answers with, and input."""

from __future__ import annotations

from rest_framework import serializers

from crucible import limits
from crucible.api.fields import MoneyField, TeamObjectField
from crucible.api.serializers import OutputModelSerializer, ShapeOnlyMixin, StrictFieldsMixin
from improvement.api.serializers.fields import Bool
from improvement.models import Experiment, Variant


class VariantSerializer(OutputModelSerializer):
    cost_sum = MoneyField(help_text="USD of the variant's results (exact), a decimal string with 8 decimal places.")

    experiment_name = serializers.CharField(source="experiment.name", read_only=True)
    is_retired = serializers.BooleanField(read_only=True)
    objective_mean = serializers.FloatField(read_only=True, allow_null=True)
    success_rate = serializers.FloatField(read_only=True, allow_null=True)
    quality_mean = serializers.FloatField(read_only=True, allow_null=True)
    duration_mean_ms = serializers.FloatField(source="duration_mean", read_only=True, allow_null=True)

    class Meta:
        model = Variant
        fields = [
            "id",
            "experiment",
            "experiment_name",
            "name",
            "prompt",
            "is_control",
            "is_retired",
            "retired_at",
            "created_at",
            "results_count",
            "success_count",
            "objective_count",
            "objective_mean",
            "success_rate",
            "quality_mean",
            "duration_mean_ms",
            "tokens_sum",
            "cost_sum",
            "agent_version",
            "version_label",
            "model_hints",
            "input_schema",
            "output_schema",
        ]
        read_only_fields = fields


class VariantVersionSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="The marketplace version's id (None: model hints only).")
    version = serializers.CharField(allow_null=True)
    model_hints = serializers.DictField()
    input_schema = serializers.JSONField(allow_null=True)
    output_schema = serializers.JSONField(allow_null=True)


class VariantBriefSerializer(serializers.ModelSerializer):
    agent_version = VariantVersionSerializer(
        allow_null=True, help_text="For a variant that is a marketplace version: what to run besides the prompt."
    )

    class Meta:
        model = Variant
        fields = ["id", "name", "prompt", "is_control", "agent_version"]
        read_only_fields = fields


class VariantSpecSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=limits.NAME_CHARS)
    prompt = serializers.CharField(max_length=limits.PROMPT_CHARS, trim_whitespace=False)
    is_control = Bool(default=False)


class VariantCreateSerializer(VariantSpecSerializer):
    experiment = TeamObjectField(
        queryset=Experiment.objects.all(), help_text="The experiment's id.", not_found="No such experiment."
    )
    prompt = serializers.CharField(
        max_length=limits.PROMPT_CHARS, trim_whitespace=False, required=False, help_text="Default: the version's."
    )
    agent_version = serializers.CharField(
        max_length=64,
        required=False,
        help_text="A version of the experiment's agent ('1.2.0'): the variant runs that whole version.",
    )
    model_hints = serializers.DictField(required=False, help_text="Model hints (default: the version's).")


class VariantUpdateSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=limits.NAME_CHARS, required=False)
    prompt = serializers.CharField(max_length=limits.PROMPT_CHARS, trim_whitespace=False, required=False)
    is_control = Bool(required=False)
