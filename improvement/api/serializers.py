"""Input (strict) and output serializers of the improvement API."""

from __future__ import annotations

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crucible import limits
from crucible.api.fields import MoneyField, MoneyInputField, TeamObjectField
from crucible.api.serializers import OutputModelSerializer, OutputSerializer, ShapeOnlyMixin, StrictFieldsMixin
from improvement import conf, srm
from improvement.api.cuped import CupedSerializer
from improvement.models import Assignment, Experiment, Status, Strategy, Variant
from marketplace import selectors as marketplace_selectors

WEIGHT = {"min_value": 0.0, "max_value": 1000.0}


def _is_number(data) -> bool:
    return isinstance(data, (int, float)) and not isinstance(data, bool)


class Flt(serializers.FloatField):
    """A JSON number only (DRF would also take "0.5" as text)."""

    def to_internal_value(self, data):
        if not _is_number(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class Int(serializers.IntegerField):
    """A JSON integer only."""

    def to_internal_value(self, data):
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class Bool(serializers.BooleanField):
    """true or false only (DRF would also take "yes", 1, "on")."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


@extend_schema_field({"type": "number", "minimum": 0})
class Money(MoneyInputField):
    """A JSON number (not its text), passed on as sent: the service rounds it and checks it."""


# --- output --------------------------------------------------------------------------------


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


class AssignmentSerializer(OutputModelSerializer):
    class Meta:
        model = Assignment
        fields = ["id", "experiment", "variant", "context", "created_at", "result_at"]
        read_only_fields = fields


# --- input ---------------------------------------------------------------------------------


class VariantSpecSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=limits.NAME_CHARS)
    prompt = serializers.CharField(max_length=limits.PROMPT_CHARS, trim_whitespace=False)
    is_control = Bool(default=False)


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


UNIT_HELP = (
    "Optional unit key (an end user, a session, a build): the same unit gets the same variant for the "
    "experiment's life. Without it every call is a fresh draw."
)


class SelectUnitSerializer(StrictFieldsMixin, serializers.Serializer):
    unit = serializers.CharField(max_length=200, required=False, help_text=UNIT_HELP)
    context = serializers.CharField(
        max_length=100,
        required=False,
        help_text="Optional context bucket (e.g. the build's stack): a Thompson-sampling experiment chooses "
        "from the variants' results within it.",
    )


class SelectInputSerializer(SelectUnitSerializer):
    experiment = serializers.CharField(max_length=100, help_text="The experiment's name (the key clients use).")


class SelectResultSerializer(serializers.Serializer):
    assignment_id = serializers.IntegerField()
    experiment = serializers.CharField(help_text="The experiment's name.")
    experiment_id = serializers.IntegerField()
    strategy = serializers.ChoiceField(choices=Strategy.choices)
    variant = VariantBriefSerializer()
    unit = serializers.CharField(allow_null=True, help_text="The unit key sent, if any.")
    context = serializers.CharField(allow_null=True, help_text="The context bucket sent, if any.")
    returning_unit = serializers.BooleanField(help_text="True when the unit kept the variant it was given before.")


class ResultInputSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    """Shapes one result; ``improvement.services.results_check`` checks it (the same rules as
    for the results of observability events)."""

    assignment_id = Int(min_value=1, required=False, help_text="From select; preferred.")
    variant_id = Int(min_value=1, required=False, help_text="When the call did not go through select.")
    success = Bool()
    quality = Flt(min_value=limits.MIN_QUALITY, max_value=limits.MAX_QUALITY, required=False, allow_null=True)
    duration_ms = Flt(min_value=0.0, max_value=limits.MAX_DURATION_MS, default=0.0)
    tokens = Int(min_value=0, max_value=limits.MAX_TOKENS, default=0)
    cost = Money(max_digits=None, decimal_places=6, min_value=0, max_value=limits.MAX_COST, default=0)
    covariate = Flt(
        required=False,
        allow_null=True,
        help_text="CUPED: the unit's metric before the experiment (e.g. its mean score or success rate then).",
    )
    unit = serializers.CharField(
        max_length=200,
        required=False,
        help_text="The unit key sent to select. With CUPED on and no covariate, a unit 'build:<client build id>' "
        "or 'project:<project name>' gets its project's build score before the experiment from team memory.",
    )


class ResultBatchSerializer(StrictFieldsMixin, serializers.Serializer):
    results = ResultInputSerializer(many=True, allow_empty=False, max_length=conf.MAX_RESULTS_PER_REQUEST)


class RecordedSerializer(serializers.Serializer):
    recorded = serializers.IntegerField()


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


# --- report ---------------------------------------------------------------------------------


class ReportVariantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_control = serializers.BooleanField()
    retired = serializers.BooleanField()
    results = serializers.IntegerField()
    scored_results = serializers.IntegerField()
    objective_mean = serializers.FloatField(allow_null=True)
    objective_low = serializers.FloatField(allow_null=True)
    objective_high = serializers.FloatField(allow_null=True)
    success_rate = serializers.FloatField(allow_null=True)
    success_low = serializers.FloatField(allow_null=True)
    success_high = serializers.FloatField(allow_null=True)
    quality_mean = serializers.FloatField(allow_null=True)
    duration_mean_ms = serializers.FloatField(allow_null=True)
    tokens_mean = serializers.FloatField(allow_null=True)
    cost_mean = MoneyField(allow_null=True, help_text="cost_sum / results, rounded half-even to 8 places.")
    retired_reason = serializers.CharField(help_text="Why it was retired (a guardrail's evidence), or empty.")
    probability_best = serializers.FloatField(allow_null=True)
    lift_vs_control = serializers.FloatField(allow_null=True, help_text="(mean - control mean) / control mean.")
    below_minimum = serializers.BooleanField()


class ReportExperimentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.choices)
    strategy = serializers.ChoiceField(choices=Strategy.choices)


class ReportWinnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    probability_best = serializers.FloatField()


class TimelinePointSerializer(serializers.Serializer):
    t = serializers.DateTimeField()
    variant_id = serializers.IntegerField()
    assignments = serializers.IntegerField()
    results = serializers.IntegerField()
    cumulative = serializers.IntegerField(help_text="Results of this variant up to and including this period.")


class TimelineSerializer(serializers.Serializer):
    granularity = serializers.CharField(help_text="hour or day.")
    points = TimelinePointSerializer(many=True)


class GuardrailCheckSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(choices=["error_rate", "p95_duration", "cost_per_run"])
    label = serializers.CharField()
    margin = serializers.FloatField()
    control_value = serializers.FloatField(allow_null=True)
    variant_value = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True, help_text="Lower bound of the compared difference (always-valid).")
    high = serializers.FloatField(allow_null=True)
    breached = serializers.BooleanField(help_text="Clearly worse than the control beyond the margin.")
    evidence = serializers.CharField()


class GuardrailVariantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    breached = serializers.BooleanField()
    checks = GuardrailCheckSerializer(many=True)


class GuardrailsSerializer(serializers.Serializer):
    control = serializers.CharField(allow_null=True)
    variants = GuardrailVariantSerializer(many=True)
    breached = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of variants that breach.")
    note = serializers.CharField(required=False)


class SrmCheckSerializer(serializers.Serializer):
    check = serializers.ChoiceField(choices=["uniform_draws", "exploration_share"])
    status = serializers.ChoiceField(choices=srm.STATUSES)
    statistic = serializers.FloatField(allow_null=True, help_text="Pearson's chi-square.")
    df = serializers.IntegerField()
    p_value = serializers.FloatField(allow_null=True)
    observed = serializers.DictField(child=serializers.FloatField())
    expected = serializers.DictField(child=serializers.FloatField())
    message = serializers.CharField()


class SrmSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=srm.STATUSES, help_text="Warning at p < 0.01, alert at p < 0.001.")
    status_label = serializers.CharField()
    checks = SrmCheckSerializer(many=True)


class ReportSerializer(OutputSerializer):
    experiment = ReportExperimentSerializer()
    min_results = serializers.IntegerField()
    confidence = serializers.FloatField()
    win_probability = serializers.FloatField()
    total_results = serializers.IntegerField()
    variants = ReportVariantSerializer(many=True)
    winner = ReportWinnerSerializer(allow_null=True)
    verdict = serializers.CharField()
    reasons = serializers.ListField(child=serializers.CharField())
    results_needed = serializers.IntegerField(
        allow_null=True,
        help_text="Estimated more results in total, over all active variants (not per variant); null when the "
        "leaders look tied.",
    )
    interval_method = serializers.CharField(help_text="The intervals are always-valid confidence sequences.")
    estimates = serializers.ChoiceField(
        choices=["unadjusted", "cuped"],
        help_text="cuped: the objective's means, intervals, probability of being best and the winner rule are "
        "CUPED-adjusted (the experiment has cuped on and results brought a varying covariate).",
    )
    guardrails = GuardrailsSerializer()
    srm = SrmSerializer(help_text="Sample ratio mismatch checks.")
    cuped = CupedSerializer(
        allow_null=True, help_text="CUPED-adjusted estimates; null unless the experiment has cuped."
    )
    timeline = TimelineSerializer()
