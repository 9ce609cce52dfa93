"""The experiment report (winner, intervals, guardrails, SRM, CUPED, timeline), for the OpenAPI schema."""

from __future__ import annotations

from rest_framework import serializers

from crucible.api.fields import MoneyField
from crucible.api.serializers import OutputSerializer
from improvement import srm
from improvement.api.cuped import CupedSerializer
from improvement.models import Status, Strategy


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
