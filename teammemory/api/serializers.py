from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crucible import limits, periods
from crucible.api.fields import MoneyField, MoneyInputField
from crucible.api.serializers import OutputModelSerializer, ShapeOnlyMixin, StrictFieldsMixin
from teammemory import conf, services
from teammemory.models import Build, BuildStatus
from teammemory.selectors import PERIOD_RULES

# --- Builds ------------------------------------------------------------------------------------


class BuildAgentRefSerializer(StrictFieldsMixin, serializers.Serializer):
    agent = serializers.CharField(max_length=200, help_text="Agent id, slug, or team-slug/slug (marketplace).")
    version = serializers.CharField(max_length=64, required=False, allow_null=True, allow_blank=True)


class BuildErrorInputSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    type = serializers.CharField(
        max_length=limits.LABEL_CHARS, help_text="Error type used for grouping, e.g. 'TimeoutError'."
    )
    message = serializers.CharField(
        max_length=limits.ERROR_MESSAGE_CHARS, required=False, allow_blank=True, default="", trim_whitespace=False
    )


class BuildReportSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    """A build report. ``client_build_id`` makes it idempotent: a retried report is stored once.
    Shapes input; ``teammemory.services.build_record`` checks the values (every bad field at once)."""

    client_build_id = serializers.CharField(max_length=limits.LABEL_CHARS)
    project_name = serializers.CharField(max_length=limits.LABEL_CHARS, required=False, allow_blank=True, default="")
    requirements = serializers.CharField(
        required=False, allow_blank=True, default="", trim_whitespace=False, max_length=conf.MAX_REQUIREMENTS_CHARS
    )
    stack = serializers.DictField(
        child=serializers.CharField(max_length=80),
        required=False,
        default=dict,
        help_text='{role: component}, e.g. {"language": "Python", "framework": "Django", "database": "Postgres"}.',
    )
    status = serializers.ChoiceField(choices=BuildStatus.choices)
    quality = serializers.IntegerField(
        min_value=limits.MIN_QUALITY, max_value=limits.MAX_QUALITY, required=False, allow_null=True, default=None
    )
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()
    tokens = serializers.IntegerField(min_value=0, max_value=limits.MAX_TOKENS, required=False, default=0)
    cost = MoneyInputField(
        allow_text=True,
        decimal_places=services.COST_PLACES,
        min_value=0,
        max_value=limits.MAX_COST,
        required=False,
        default=0,
    )
    agents = BuildAgentRefSerializer(many=True, required=False, default=list, max_length=conf.MAX_AGENTS_PER_BUILD)
    errors = BuildErrorInputSerializer(many=True, required=False, default=list, max_length=conf.MAX_ERRORS_PER_BUILD)
    executions = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        default=None,
        allow_null=True,
        max_length=conf.MAX_EXECUTIONS_PER_BUILD,
        help_text="Agent executions of this build, in observability's ingest event format; stored by observability.",
    )


class BuildAgentSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField()
    agent = serializers.CharField(help_text="team-slug/slug")
    version = serializers.CharField(allow_null=True)


class BuildErrorSerializer(serializers.Serializer):
    type = serializers.CharField(source="error_type")
    message = serializers.CharField()


class BuildSerializer(OutputModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    reported_by = serializers.SerializerMethodField()
    agents = serializers.SerializerMethodField()
    errors = BuildErrorSerializer(many=True, read_only=True)
    cost = MoneyField()

    class Meta:
        model = Build
        fields = [
            "id",
            "team",
            "client_build_id",
            "project_name",
            "requirements",
            "stack",
            "components",
            "stack_key",
            "status",
            "quality",
            "started_at",
            "finished_at",
            "duration_ms",
            "tokens",
            "cost",
            "agents",
            "errors",
            "reported_by",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_reported_by(self, build) -> str | None:
        if build.reported_by_id:
            return build.reported_by.get_username()
        if build.api_key_id:
            return f"api key '{build.api_key.name}'"
        return None

    @extend_schema_field(BuildAgentSerializer(many=True))
    def get_agents(self, build) -> list[dict]:
        return [
            {
                "agent_id": use.agent_id,
                "agent": f"{use.agent.team.slug}/{use.agent.slug}",
                "version": use.agent_version.version if use.agent_version_id else None,
            }
            for use in build.agent_uses.all()
        ]


# --- Insights ----------------------------------------------------------------------------------


class InsightsRangeQuerySerializer(StrictFieldsMixin, periods.PeriodQuerySerializer):
    """``range`` (30d, 90d, 180d, 365d) or ``since``/``until``; see ``crucible.periods``."""

    reads_query_string = True  # the view hands over the query string as a dict of text

    rules = PERIOD_RULES


class BuildOutcomeSerializer(serializers.Serializer):
    builds = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    decided = serializers.IntegerField(help_text="succeeded + failed: the builds a success rate is taken over.")
    success_rate = serializers.FloatField(allow_null=True)
    failure_rate = serializers.FloatField(allow_null=True, help_text="1 - success_rate (change failure rate).")
    avg_quality = serializers.FloatField(allow_null=True)
    small_sample = serializers.BooleanField(help_text="Fewer builds than CRUCIBLE_TEAMMEMORY_MIN_SAMPLE.")


class BuildMetricsSerializer(BuildOutcomeSerializer):
    median_duration_ms = serializers.FloatField(allow_null=True)
    p90_duration_ms = serializers.FloatField(allow_null=True)
    total_tokens = serializers.IntegerField()
    total_cost = MoneyField(help_text="USD (exact), a decimal string with 8 decimal places.")
    tokens_per_build = serializers.FloatField(allow_null=True)
    cost_per_build = MoneyField(allow_null=True, help_text="total_cost / builds, rounded half-even to 8 places.")


class StackBuildMetricsSerializer(BuildMetricsSerializer):
    stack_key = serializers.CharField()


class ComponentBuildMetricsSerializer(BuildMetricsSerializer):
    component = serializers.CharField()


class BuildErrorTypeSerializer(serializers.Serializer):
    error_type = serializers.CharField()
    occurrences = serializers.IntegerField()
    builds = serializers.IntegerField()
    failed_builds = serializers.IntegerField()
    example_message = serializers.CharField(allow_null=True)


class QualityTrendWeekSerializer(serializers.Serializer):
    week = serializers.DateField()
    builds = serializers.IntegerField()
    avg_quality = serializers.FloatField(allow_null=True)
    success_rate = serializers.FloatField(allow_null=True)
    quality_fit = serializers.FloatField(required=False)


class QualityTrendFitSerializer(serializers.Serializer):
    slope_per_week = serializers.FloatField(allow_null=True)
    unit = serializers.CharField()
    r2 = serializers.FloatField(allow_null=True)
    weeks = serializers.IntegerField()
    t = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True)
    significant = serializers.BooleanField()
    alpha = serializers.FloatField()
    direction = serializers.CharField(help_text="rising, falling (only when significant), flat, or insufficient_data.")


class QualityTrendSerializer(serializers.Serializer):
    weeks = QualityTrendWeekSerializer(many=True)
    quality = QualityTrendFitSerializer()
    success_rate = QualityTrendFitSerializer()


class AgentBuildOutcomeSerializer(BuildOutcomeSerializer):
    agent_id = serializers.IntegerField()
    agent = serializers.CharField()
    agent_name = serializers.CharField()
    version_id = serializers.IntegerField(allow_null=True)
    version = serializers.CharField(allow_null=True)
    delta_success_rate = serializers.FloatField(allow_null=True, help_text="Minus the team's success rate.")
    delta_quality = serializers.FloatField(allow_null=True, help_text="Minus the team's average quality.")


class TeamInsightsSerializer(serializers.Serializer):
    team = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    summary = BuildMetricsSerializer()
    by_stack = StackBuildMetricsSerializer(many=True)
    by_component = ComponentBuildMetricsSerializer(many=True)
    top_errors = BuildErrorTypeSerializer(many=True)
    trend = QualityTrendSerializer()
    agents = AgentBuildOutcomeSerializer(many=True)


# --- Suggestions -------------------------------------------------------------------------------


class StackSuggestionRequestSerializer(StrictFieldsMixin, serializers.Serializer):
    requirements = serializers.CharField(
        max_length=conf.MAX_REQUIREMENTS_CHARS,
        trim_whitespace=False,
        allow_blank=True,
        help_text="What the new project must do.",
    )
    require = serializers.ListField(
        child=serializers.CharField(max_length=80),
        required=False,
        default=list,
        max_length=20,
        help_text="Components every suggested stack must have.",
    )
    exclude = serializers.ListField(
        child=serializers.CharField(max_length=80),
        required=False,
        default=list,
        max_length=20,
        help_text="Components no suggested stack may have.",
    )
    prefer = serializers.ListField(
        child=serializers.CharField(max_length=80),
        required=False,
        default=list,
        max_length=20,
        help_text="Components that count towards similarity.",
    )
    limit = serializers.IntegerField(min_value=1, max_value=10, required=False, default=3)

    def validate(self, attrs):
        if not attrs["requirements"].strip() and not (attrs["require"] or attrs["prefer"]):
            raise serializers.ValidationError(
                {"requirements": "Describe the project (or name components to require or prefer)."}
            )
        return attrs


class StackEvidenceBuildSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    client_build_id = serializers.CharField()
    project_name = serializers.CharField()
    status = serializers.ChoiceField(choices=BuildStatus.choices)
    quality = serializers.IntegerField(allow_null=True)
    started_at = serializers.DateTimeField()
    similarity = serializers.FloatField(required=False, allow_null=True)


class StackSuggestionSerializer(serializers.Serializer):
    stack_key = serializers.CharField()
    components = serializers.ListField(child=serializers.CharField())
    stack = serializers.DictField(child=serializers.CharField())
    builds = serializers.IntegerField()
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True)
    avg_quality = serializers.FloatField(allow_null=True)
    wilson_lower_bound = serializers.FloatField()
    score = serializers.FloatField(help_text="Wilson lower bound of the success rate × average quality / 100.")
    avg_similarity = serializers.FloatField(allow_null=True)
    small_sample = serializers.BooleanField()
    evidence = StackEvidenceBuildSerializer(many=True)


class StackConstraintsSerializer(serializers.Serializer):
    require = serializers.ListField(child=serializers.CharField())
    exclude = serializers.ListField(child=serializers.CharField())
    prefer = serializers.ListField(child=serializers.CharField())


class StackSuggestionResultSerializer(serializers.Serializer):
    basis = serializers.CharField(
        help_text="similar_builds: ranked from builds like this one; team_history: too few similar builds, "
        "so the team's strongest stacks overall (a fallback); none: no history.",
    )
    fallback = serializers.BooleanField()
    similar_builds = serializers.IntegerField()
    min_similar_builds = serializers.IntegerField()
    note = serializers.CharField()
    constraints = StackConstraintsSerializer()
    suggestions = StackSuggestionSerializer(many=True)


# --- Recommendations ---------------------------------------------------------------------------


class BuildRecommendationSerializer(serializers.Serializer):
    kind = serializers.CharField(
        help_text="too_little_data, falling_quality, failing_stack, failing_component, recurring_error, "
        "slow_builds, worse_agent_version or flaky_stack."
    )
    severity = serializers.CharField(help_text="high, medium, low or info.")
    title = serializers.CharField()
    action = serializers.CharField()
    evidence = serializers.DictField(help_text="The figures behind the finding, with the threshold it crossed.")


class BuildRecommendationsSerializer(serializers.Serializer):
    team = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    builds = serializers.IntegerField()
    recommendations = BuildRecommendationSerializer(many=True)


class BuildRecommendationExperimentInputSerializer(StrictFieldsMixin, serializers.Serializer):
    kind = serializers.ChoiceField(choices=["worse_agent_version"], help_text="The finding's kind.")
    agent = serializers.CharField(
        max_length=300, help_text="The finding's agent and version: 'team-slug/agent-slug 1.2.0'."
    )


class BuildRecommendationExperimentSerializer(serializers.Serializer):
    experiment_id = serializers.IntegerField()
    experiment = serializers.CharField(help_text="The experiment's name.")
    status = serializers.CharField()
    created = serializers.BooleanField(help_text="False: the finding's open experiment, started before.")
