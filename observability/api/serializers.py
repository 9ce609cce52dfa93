from rest_framework import serializers

from crucible import limits, periods
from crucible.api.fields import MoneyField
from crucible.api.serializers import OutputModelSerializer, StrictFieldsMixin
from observability.models import Execution, ExecutionStatus, ModelPrice, SpanKind
from observability.selectors.rollup_reads import PERIOD_RULES


class ExecutionSerializer(OutputModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    unpriced = serializers.BooleanField(read_only=True)
    cost = MoneyField(allow_null=True, help_text="USD, a decimal string with 8 decimal places; null when unpriced.")

    class Meta:
        model = Execution
        fields = [
            "id",
            "team",
            "client_id",
            "agent_name",
            "agent",
            "agent_version",
            "version",
            "model",
            "operation",
            "variant",
            "build",
            "source",
            "trace_id",
            "span_id",
            "started_at",
            "duration_ms",
            "status",
            "error_type",
            "error_message",
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "reasoning_tokens",
            "cost",
            "cost_source",
            "unpriced",
            "quality",
            "received_at",
        ]


class ModelPriceSerializer(OutputModelSerializer):
    class Meta:
        model = ModelPrice
        fields = [
            "id",
            "pattern",
            "input_per_million",
            "cached_input_per_million",
            "output_per_million",
            "reasoning_per_million",
            "effective_from",
            "notes",
            "updated_at",
        ]


# --- Ingest -------------------------------------------------------------------------------


class EventSerializer(serializers.Serializer):
    """One execution event (documentation of the format; the service validates events itself,
    event by event, so one bad event does not refuse the batch)."""

    id = serializers.CharField(
        max_length=200,
        required=False,
        help_text="Your id of this event; a retry with the same id is stored once. "
        "May be left out for a span sent with trace_id and span_id.",
    )
    agent = serializers.CharField(
        max_length=200, required=False, help_text="Agent name (required unless agent_ref is given)."
    )
    agent_ref = serializers.CharField(required=False, help_text="Marketplace agent: id, 'slug' or 'team-slug/slug'.")
    agent_version = serializers.CharField(max_length=64, required=False)
    model = serializers.CharField(max_length=200, required=False)
    operation = serializers.CharField(max_length=64, required=False)
    variant_id = serializers.IntegerField(
        required=False, help_text="Prompt variant (improvement app) that produced this run."
    )
    trace_id = serializers.CharField(max_length=32, required=False, help_text="32 hex digits.")
    span_id = serializers.CharField(max_length=16, required=False, help_text="16 hex digits.")
    parent_span_id = serializers.CharField(
        max_length=16, required=False, help_text="The parent span (same trace); left out for a root span."
    )
    kind = serializers.ChoiceField(choices=SpanKind.choices, required=False, default="agent")
    name = serializers.CharField(max_length=200, required=False)
    input = serializers.JSONField(required=False, help_text="Any JSON: chat messages, tool arguments, text.")
    output = serializers.JSONField(required=False)
    attributes = serializers.DictField(required=False)
    request_params = serializers.DictField(required=False, help_text="temperature, max_tokens, ...")
    time_to_first_token_ms = serializers.FloatField(min_value=0, required=False)
    session_id = serializers.CharField(max_length=200, required=False)
    user_id = serializers.CharField(max_length=200, required=False, help_text="Your end user's id.")
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=50)
    started_at = serializers.DateTimeField(help_text="ISO 8601 with a time zone; at most 5 minutes in the future.")
    duration_ms = serializers.FloatField(
        min_value=0, max_value=limits.MAX_DURATION_MS, required=False, help_text="Required unless ended_at is sent."
    )
    ended_at = serializers.DateTimeField(required=False, help_text="A span's end, instead of duration_ms.")
    status = serializers.ChoiceField(choices=ExecutionStatus.choices, required=False, default="success")
    error_type = serializers.CharField(max_length=200, required=False)
    error_message = serializers.CharField(max_length=limits.ERROR_MESSAGE_CHARS, required=False)
    input_tokens = serializers.IntegerField(
        min_value=0, max_value=limits.MAX_TOKENS, required=False, help_text="All input tokens, cached ones included."
    )
    output_tokens = serializers.IntegerField(
        min_value=0,
        max_value=limits.MAX_TOKENS,
        required=False,
        help_text=f"All output tokens, reasoning ones included; input + output at most {limits.MAX_TOKENS}.",
    )
    cached_input_tokens = serializers.IntegerField(min_value=0, max_value=limits.MAX_TOKENS, required=False)
    reasoning_tokens = serializers.IntegerField(min_value=0, max_value=limits.MAX_TOKENS, required=False)
    cost = serializers.DecimalField(
        max_digits=18,
        decimal_places=8,
        min_value=0,
        max_value=limits.MAX_COST,
        required=False,
        help_text="USD; computed from model prices when left out.",
    )
    quality = serializers.FloatField(
        min_value=0,
        max_value=100,
        required=False,
        help_text="Optional 0..100 score; with variant_id it feeds the experiment.",
    )


class IngestRequestDocSerializer(serializers.Serializer):
    events = EventSerializer(many=True)


INGEST_RESULT_STATUSES = [("stored", "stored"), ("duplicate", "duplicate"), ("error", "error")]
RECOMMENDATION_KINDS = [
    ("slow_agent", "slow_agent"),
    ("failing_agent", "failing_agent"),
    ("token_heavy_prompt", "token_heavy_prompt"),
    ("expensive_model", "expensive_model"),
    ("version_regression", "version_regression"),
]


class IngestResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    id = serializers.CharField(allow_null=True)
    status = serializers.ChoiceField(choices=INGEST_RESULT_STATUSES)
    field = serializers.CharField(required=False, help_text="The first bad field of the event.")
    message = serializers.CharField(required=False)
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Every bad field of the event (the names it was sent with) and its messages.",
    )


class IngestResponseSerializer(serializers.Serializer):
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    errors = serializers.IntegerField()
    results = IngestResultSerializer(many=True)


# --- Dashboards ---------------------------------------------------------------------------


class PeriodQuerySerializer(periods.PeriodQuerySerializer):
    """``range`` or ``start``/``end``; ``validated_data["period"]`` (see ``crucible.periods``)."""

    rules = PERIOD_RULES


class DashboardQuerySerializer(PeriodQuerySerializer):
    agent = serializers.CharField(required=False, max_length=200)
    model = serializers.CharField(required=False, max_length=200)
    status = serializers.ChoiceField(choices=ExecutionStatus.choices, required=False)


class PeriodSerializer(serializers.Serializer):
    range = serializers.CharField()
    label = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    bucket = serializers.CharField(help_text="Width of each point of the time series: 5min, hour, 6h, day or week.")


class MetricsSerializer(serializers.Serializer):
    executions = serializers.IntegerField()
    successes = serializers.IntegerField()
    errors = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True)
    error_rate = serializers.FloatField(allow_null=True)
    avg_duration_ms = serializers.FloatField(allow_null=True)
    max_duration_ms = serializers.FloatField()
    p50_ms = serializers.FloatField(allow_null=True)
    p95_ms = serializers.FloatField(allow_null=True)
    p99_ms = serializers.FloatField(allow_null=True)
    total_duration_ms = serializers.FloatField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cached_input_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField()
    tokens_per_execution = serializers.FloatField(allow_null=True)
    input_tokens_per_execution = serializers.FloatField(allow_null=True)
    cost = MoneyField(help_text="USD of priced executions (exact), a decimal string with 8 decimal places.")
    cost_per_execution = MoneyField(
        allow_null=True, help_text="cost / priced executions, rounded half-even to 8 decimal places."
    )
    unpriced = serializers.IntegerField(help_text="Executions whose model matches no price (not counted as free).")


class AgentMetricsSerializer(MetricsSerializer):
    agent = serializers.CharField()
    models = serializers.ListField(child=serializers.CharField())


class SeriesPointSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    executions = serializers.IntegerField()
    error_rate = serializers.FloatField(allow_null=True)
    p95_ms = serializers.FloatField(allow_null=True)
    cost = MoneyField()
    unpriced = serializers.IntegerField()


class UnpricedModelSerializer(serializers.Serializer):
    model = serializers.CharField()
    executions = serializers.IntegerField()


class UnpricedSerializer(serializers.Serializer):
    executions = serializers.IntegerField()
    models = UnpricedModelSerializer(many=True)


class FiltersSerializer(serializers.Serializer):
    agent = serializers.CharField()
    model = serializers.CharField()
    status = serializers.CharField()


class DashboardSerializer(serializers.Serializer):
    period = PeriodSerializer()
    filters = FiltersSerializer()
    totals = MetricsSerializer()
    agents = AgentMetricsSerializer(many=True)
    series = SeriesPointSerializer(many=True)
    unpriced = UnpricedSerializer()
    histogram_relative_error = serializers.FloatField(
        help_text="Largest relative error of p50/p95/p99 (durations 1 ms to 70 min)."
    )


class AgentSeriesPointSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    executions = serializers.IntegerField()
    error_rate = serializers.FloatField(allow_null=True)
    p50_ms = serializers.FloatField(allow_null=True)
    p95_ms = serializers.FloatField(allow_null=True)
    cost = MoneyField()
    tokens_per_execution = serializers.FloatField(allow_null=True)


class VersionMetricsSerializer(MetricsSerializer):
    version = serializers.CharField()
    first_seen = serializers.DateTimeField()


class ModelMetricsSerializer(MetricsSerializer):
    model = serializers.CharField()


class ErrorTypeSerializer(serializers.Serializer):
    error_type = serializers.CharField()
    executions = serializers.IntegerField()


class SlowExecutionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    client_id = serializers.CharField()
    started_at = serializers.DateTimeField()
    duration_ms = serializers.FloatField()
    status = serializers.CharField()
    model = serializers.CharField()
    version = serializers.CharField()
    error_type = serializers.CharField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost = MoneyField(allow_null=True)
    trace_id = serializers.CharField()


class AgentDetailSerializer(serializers.Serializer):
    agent = serializers.CharField()
    period = PeriodSerializer()
    totals = MetricsSerializer()
    series = AgentSeriesPointSerializer(many=True)
    versions = VersionMetricsSerializer(many=True)
    models = ModelMetricsSerializer(many=True)
    errors_by_type = ErrorTypeSerializer(many=True)
    slowest_recent = SlowExecutionSerializer(many=True)
    slowest_since = serializers.DateTimeField()


class BottleneckItemSerializer(serializers.Serializer):
    agent = serializers.CharField()
    executions = serializers.IntegerField()
    total_duration_ms = serializers.FloatField()
    time_share = serializers.FloatField()
    cost = MoneyField()
    cost_share = serializers.FloatField()
    p95_ms = serializers.FloatField(allow_null=True)
    p95_vs_fleet = serializers.FloatField(allow_null=True)


class FleetSerializer(serializers.Serializer):
    executions = serializers.IntegerField()
    p95_ms = serializers.FloatField(allow_null=True)
    total_duration_ms = serializers.FloatField()
    cost = MoneyField()


class ChangeSerializer(serializers.Serializer):
    metric = serializers.CharField()
    before = serializers.FloatField()
    after = serializers.FloatField()
    change = serializers.FloatField()
    threshold = serializers.FloatField()


class RegressionSerializer(serializers.Serializer):
    agent = serializers.CharField()
    kind = serializers.ChoiceField(choices=[("period", "period"), ("version", "version")])
    baseline = serializers.CharField()
    baseline_start = serializers.DateTimeField(required=False)
    baseline_end = serializers.DateTimeField(required=False)
    version_before = serializers.CharField(required=False)
    version_after = serializers.CharField(required=False)
    released_at = serializers.DateTimeField(required=False)
    changes = ChangeSerializer(many=True)


class BottlenecksSerializer(serializers.Serializer):
    period = PeriodSerializer()
    fleet = FleetSerializer()
    by_time = BottleneckItemSerializer(many=True)
    by_cost = BottleneckItemSerializer(many=True)
    by_p95 = BottleneckItemSerializer(many=True)
    regressions = RegressionSerializer(many=True)


class RecommendationSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=RECOMMENDATION_KINDS)
    agent = serializers.CharField()
    severity = serializers.ChoiceField(choices=[("high", "high"), ("medium", "medium")])
    title = serializers.CharField()
    evidence = serializers.DictField(help_text="The numbers behind the recommendation.")
    action = serializers.CharField()


class RecommendationsSerializer(serializers.Serializer):
    period = PeriodSerializer()
    recommendations = RecommendationSerializer(many=True)


class RecommendationExperimentInputSerializer(StrictFieldsMixin, serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["expensive_model", "token_heavy_prompt", "version_regression"], help_text="The finding's kind."
    )
    agent = serializers.CharField(max_length=200, help_text="The finding's agent, as the recommendations list it.")


class RecommendationExperimentSerializer(serializers.Serializer):
    experiment_id = serializers.IntegerField()
    experiment = serializers.CharField(help_text="The experiment's name.")
    status = serializers.CharField()
    created = serializers.BooleanField(help_text="False: the finding's open experiment, started before.")
