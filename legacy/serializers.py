"""Input and output shapes of the earlier routes. Component names in the OpenAPI schema are the
ones these serializers always had."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from crucible import limits
from crucible.api.serializers import StrictFieldsMixin
from marketplace import conf as marketplace_conf
from marketplace.api import serializers as marketplace_serializers
from marketplace.models import Category
from observability.api import serializers as observability_serializers


def component(name: str):
    return extend_schema_serializer(component_name=name)


# --- marketplace -----------------------------------------------------------------------------


@component("MarketplaceLegacyCreateAgent")
class MarketplaceLegacyCreateAgentSerializer(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=marketplace_conf.MAX_DESCRIPTION_CHARS
    )
    summary = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)
    category = serializers.ChoiceField(choices=Category.choices, default=Category.OTHER)
    system_prompt = serializers.CharField(
        required=False, max_length=marketplace_conf.MAX_SYSTEM_PROMPT_CHARS, trim_whitespace=False
    )
    prompt = serializers.CharField(
        required=False,
        max_length=marketplace_conf.MAX_SYSTEM_PROMPT_CHARS,
        trim_whitespace=False,
        help_text="Older name of system_prompt.",
    )
    input_schema = serializers.JSONField(required=False, allow_null=True, default=None)
    output_schema = serializers.JSONField(required=False, allow_null=True, default=None)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, default=list, max_length=marketplace_conf.MAX_TAGS
    )
    version = serializers.CharField(max_length=64, default="1.0.0")
    is_public = serializers.BooleanField(default=True)
    author = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Ignored: the publisher is the caller's team."
    )

    def validate(self, attrs):
        if not attrs.get("system_prompt") and not attrs.get("prompt"):
            raise serializers.ValidationError({"system_prompt": ["This field is required."]})
        return attrs


@component("MarketplaceLegacyAgent")
class MarketplaceLegacyAgentSerializer(marketplace_serializers.AgentSerializer):
    agent_id = serializers.IntegerField(source="id", read_only=True)
    rating = serializers.FloatField(source="rating_avg", read_only=True, allow_null=True, help_text="Average stars.")
    downloads = serializers.IntegerField(source="download_count", read_only=True)
    installs = serializers.IntegerField(source="install_count", read_only=True)
    description = serializers.CharField(read_only=True)

    class Meta(marketplace_serializers.AgentSerializer.Meta):
        fields = (
            ["agent_id"]
            + marketplace_serializers.AgentSerializer.Meta.fields
            + ["description", "rating", "downloads", "installs"]
        )
        read_only_fields = fields


@component("MarketplaceLegacyCreated")
class MarketplaceLegacyCreatedSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    agent_id = serializers.IntegerField()
    agent = MarketplaceLegacyAgentSerializer()


@component("MarketplaceLegacySearchQuery")
class MarketplaceLegacySearchQuerySerializer(StrictFieldsMixin, serializers.Serializer):
    reads_query_string = True  # the view hands over the query string as a dict of text
    query = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=marketplace_conf.SEARCH_MAX_QUERY_LENGTH,
        help_text="Words to look for (typo tolerant on names).",
    )
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    min_rating = serializers.FloatField(required=False, min_value=0, max_value=5, help_text="Minimum average stars.")
    page = serializers.IntegerField(required=False, min_value=1)
    page_size = serializers.IntegerField(required=False, min_value=1)


@component("MarketplaceLegacyInstall")
class MarketplaceLegacyInstallSerializer(StrictFieldsMixin, serializers.Serializer):
    version = serializers.CharField(max_length=64, required=False, allow_null=True, default=None)


@component("MarketplaceLegacyInstallResult")
class MarketplaceLegacyInstallResultSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    agent_id = serializers.IntegerField()
    version = serializers.CharField()
    outcome = serializers.CharField()
    installs = serializers.IntegerField()


@component("MarketplaceLegacyRate")
class MarketplaceLegacyRateSerializer(StrictFieldsMixin, serializers.Serializer):
    rating = serializers.IntegerField(min_value=1, max_value=5, help_text="Stars, 1 to 5.")
    review = serializers.CharField(required=False, allow_blank=True, default="", max_length=limits.REVIEW_CHARS)


@component("MarketplaceLegacyRateResult")
class MarketplaceLegacyRateResultSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    agent_id = serializers.IntegerField()
    rating = serializers.FloatField(help_text="The agent's new average.")
    rating_count = serializers.IntegerField()


# --- observability ---------------------------------------------------------------------------


@component("LegacyAgent")
class ObservabilityLegacyAgentSerializer(serializers.Serializer):
    executions = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True)
    avg_duration_ms = serializers.FloatField(allow_null=True)
    p95_duration_ms = serializers.FloatField(allow_null=True)
    total_tokens = serializers.IntegerField()
    cost = serializers.FloatField()


@component("LegacyDashboard")
class ObservabilityLegacyDashboardSerializer(serializers.Serializer):
    period = observability_serializers.PeriodSerializer()
    total_executions = serializers.IntegerField()
    agents = serializers.DictField(child=ObservabilityLegacyAgentSerializer())
    bottlenecks = observability_serializers.BottleneckItemSerializer(many=True)
    recommendations = observability_serializers.RecommendationSerializer(many=True)


# --- improvement -----------------------------------------------------------------------------


@component("LegacyTestVariant")
class ImprovementLegacyTestVariantSerializer(StrictFieldsMixin, serializers.Serializer):
    agent_name = serializers.CharField(max_length=100, help_text="The prompt (experiment) name.")
    variant_prompt = serializers.CharField(max_length=100_000, trim_whitespace=False)
    variant_name = serializers.CharField(max_length=100, required=False, allow_blank=True)


class ImprovementLegacyTestVariantBodySerializer(ImprovementLegacyTestVariantSerializer):
    """The body as the schema shows it: each field may come in the query string instead (as the
    earlier clients send them), so none is required in the body itself."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.required = False
        return fields


@component("LegacyVariantCreated")
class ImprovementLegacyVariantCreatedSerializer(serializers.Serializer):
    variant_id = serializers.CharField()


@component("LegacyBestVariant")
class ImprovementLegacyBestVariantSerializer(serializers.Serializer):
    variant_id = serializers.CharField()
    executions = serializers.IntegerField()
    avg_quality = serializers.FloatField(allow_null=True)
    success_rate = serializers.FloatField(help_text="Percent.")
    avg_duration_s = serializers.FloatField()


@component("LegacyReport")
class ImprovementLegacyReportSerializer(serializers.Serializer):
    message = serializers.CharField(
        required=False, help_text="Set instead of the other fields when there is no winner yet."
    )
    agent_name = serializers.CharField(required=False)
    best_variant = ImprovementLegacyBestVariantSerializer(required=False)
    variants_tested = serializers.IntegerField(required=False)
    total_executions = serializers.IntegerField(required=False)
    recommendation = serializers.CharField(required=False)
