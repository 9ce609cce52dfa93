"""The report's CUPED section (improvement.cuped), documented for the OpenAPI schema."""

from __future__ import annotations

from rest_framework import serializers


class CupedDifferenceSerializer(serializers.Serializer):
    estimate = serializers.FloatField(allow_null=True, help_text="Variant mean minus control mean.")
    low = serializers.FloatField(allow_null=True, help_text="Always-valid interval, as the report's others.")
    high = serializers.FloatField(allow_null=True)


class CupedVariantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    results = serializers.IntegerField(help_text="Scored results; those without a covariate count unadjusted.")
    results_with_covariate = serializers.IntegerField()
    mean = serializers.FloatField(allow_null=True, help_text="Unadjusted mean objective.")
    low = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True)
    mean_adjusted = serializers.FloatField(allow_null=True, help_text="mean - theta (mean X of the variant - mean X).")
    low_adjusted = serializers.FloatField(allow_null=True)
    high_adjusted = serializers.FloatField(allow_null=True)
    vs_control = CupedDifferenceSerializer(allow_null=True)
    vs_control_adjusted = CupedDifferenceSerializer(allow_null=True)


class CupedSerializer(serializers.Serializer):
    theta = serializers.FloatField(allow_null=True, help_text="cov(Y, X) / var(X), pooled within variants.")
    variance_reduction = serializers.FloatField(
        allow_null=True, help_text="1 - adjusted variance / unadjusted variance (pooled over variants)."
    )
    variants = CupedVariantSerializer(many=True)
