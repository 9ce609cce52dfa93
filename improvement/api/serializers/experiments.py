"""Experiments: output, create and update input, try-a-version, conclude and promote."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crucible import limits
from crucible.api.fields import MoneyField
from crucible.api.serializers import OutputModelSerializer, ShapeOnlyMixin, StrictFieldsMixin
from improvement import conf
from improvement.api.serializers.fields import WEIGHT, Bool, Flt, Int, Money
from improvement.api.serializers.variants import VariantSerializer, VariantSpecSerializer
from improvement.models import Experiment, Status, Strategy
from marketplace import selectors as marketplace_selectors


class ExperimentSerializer(OutputModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    agent = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    agent_name = serializers.SerializerMethodField()
    variants = VariantSerializer(many=True, read_only=True)
    promoted_version_label = serializers.SerializerMethodField()
    cost_reference = MoneyField(help_text="A result this cheap scores 0.5 on cost (USD, 8 decimal places).")
    promoted_as = serializers.CharField(
        read_only=True, help_text="'published' (new version of your agent), 'pinned' (your installation) or ''."
    )
    source_kind = serializers.CharField(
        read_only=True, help_text="Where it came from: 'upgrade', 'observability', 'teammemory' or '' (by hand)."
    )

    class Meta:
        model = Experiment
        fields = [
            "id",
            "team",
            "name",
            "description",
            "agent",
            "agent_name",
            "status",
            "strategy",
            "epsilon",
            "weight_quality",
            "weight_success",
            "weight_speed",
            "weight_cost",
            "speed_reference_ms",
            "cost_reference",
            "min_results",
            "guardrail_error_margin",
            "guardrail_p95_margin",
            "guardrail_cost_margin",
            "guardrail_auto_stop",
            "cuped",
            "winner",
            "promoted_version",
            "promoted_version_label",
            "promoted_as",
            "source_kind",
            "source_key",
            "started_at",
            "concluded_at",
            "created_at",
            "updated_at",
            "variants",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_agent_name(self, experiment) -> str | None:
        return experiment.agent.name if experiment.agent_id else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_promoted_version_label(self, experiment) -> str | None:
        return experiment.promoted_version.version if experiment.promoted_version_id else None


class AgentRefField(serializers.Field):
    """A marketplace agent by id, ``slug`` or ``team-slug/slug`` (resolved by the marketplace)."""

    def to_representation(self, value):
        return value.pk

    def to_internal_value(self, data):
        if data is None or data == "":
            return None
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            raise serializers.ValidationError("Give the agent's id or slug.")
        agent = marketplace_selectors.agent_for_team(team=self.context["team"], ref=data)
        if agent is None:
            raise serializers.ValidationError("No such agent.")
        return agent  # the service checks it is the team's own or installed


extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}], "nullable": True})(AgentRefField)


class ExperimentWriteSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    """Shapes input; ``improvement.services.experiment_validate`` checks the values."""

    name = serializers.CharField(max_length=limits.NAME_CHARS)
    description = serializers.CharField(max_length=limits.LONG_TEXT_CHARS, allow_blank=True, required=False)
    agent = AgentRefField(required=False, allow_null=True)
    strategy = serializers.ChoiceField(choices=Strategy.choices, required=False)
    epsilon = Flt(min_value=0.0, max_value=1.0, required=False)
    weight_quality = Flt(required=False, **WEIGHT)
    weight_success = Flt(required=False, **WEIGHT)
    weight_speed = Flt(required=False, **WEIGHT)
    weight_cost = Flt(required=False, **WEIGHT)
    speed_reference_ms = Int(min_value=1, max_value=limits.MAX_DURATION_MS, required=False)
    cost_reference = Money(
        max_digits=None, decimal_places=6, min_value=Decimal("0.000001"), max_value=limits.MAX_COST, required=False
    )
    min_results = Int(min_value=1, max_value=1_000_000, required=False)
    guardrail_error_margin = Flt(
        min_value=0.0, max_value=1.0, required=False, allow_null=True, help_text="Points (0.02 = 2); null: off."
    )
    guardrail_p95_margin = Flt(
        min_value=0.0, max_value=100.0, required=False, allow_null=True, help_text="Share (0.2 = 20%); null: off."
    )
    guardrail_cost_margin = Flt(
        min_value=0.0, max_value=100.0, required=False, allow_null=True, help_text="Share (0.2 = 20%); null: off."
    )
    guardrail_auto_stop = Bool(required=False, help_text="Retire a variant clearly worse than the control.")
    cuped = Bool(required=False, help_text="Also report CUPED-adjusted estimates (results send a covariate).")


class TryVersionSerializer(StrictFieldsMixin, serializers.Serializer):
    agent = AgentRefField(help_text="An agent your team installed: id, slug or team-slug/slug.")


class ExperimentCreateSerializer(ExperimentWriteSerializer):
    status = serializers.ChoiceField(choices=Status.choices, default=Status.DRAFT, help_text="draft or running.")
    variants = VariantSpecSerializer(many=True, required=False, max_length=conf.MAX_VARIANTS)

    def to_internal_value(self, data):
        # A form body's "variants=x" would be silently dropped (DRF reads nested lists from forms
        # only as variants[0]name): refuse it rather than create an experiment without them.
        if hasattr(data, "getlist") and data.getlist("variants"):
            raise serializers.ValidationError(
                {"variants": ["Send the variants as a JSON list of objects {name, prompt, is_control}."]}
            )
        return super().to_internal_value(data)


class ExperimentUpdateSerializer(ExperimentWriteSerializer):
    name = serializers.CharField(max_length=limits.NAME_CHARS, required=False)


class ConcludeInputSerializer(StrictFieldsMixin, serializers.Serializer):
    winner = Int(
        min_value=1,
        required=False,
        allow_null=True,
        help_text="A variant id; default: the winner the report names (if any).",
    )
    promote = Bool(default=False, help_text="Also publish the winner's prompt as a new agent version.")


class PromoteInputSerializer(StrictFieldsMixin, serializers.Serializer):
    version = serializers.RegexField(
        r"^\d+\.\d+\.\d+$",
        max_length=64,
        required=False,
        allow_null=True,
        help_text="Semantic version to publish; default: the next minor after the latest.",
    )
    guarded = Bool(
        default=False,
        help_text="Publish on the candidate channel and roll it out in steps while guardrails compare it with stable.",
    )
    schedule = serializers.ListField(
        child=Flt(min_value=0.0, max_value=1.0),
        required=False,
        max_length=10,
        help_text="Guarded rollout: rising candidate shares ending at 1 (default 0.05, 0.25, 0.5, 1).",
    )


class PromotedSerializer(serializers.Serializer):
    experiment = ExperimentSerializer()
    agent_version_id = serializers.IntegerField()
    version = serializers.CharField()
    rollout = serializers.IntegerField(allow_null=True, help_text="The guarded rollout's id, when guarded.")
