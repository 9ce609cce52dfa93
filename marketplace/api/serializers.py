from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from crucible import limits
from crucible.api.fields import TeamObjectField
from crucible.api.serializers import OutputModelSerializer, ShapeOnlyMixin, StrictFieldsMixin
from marketplace import conf
from marketplace.evidence import agent_search_evidence
from marketplace.models import Agent, AgentVersion, Category, Installation, Rating, Report, Visibility


class PublisherSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    is_verified = serializers.BooleanField()


class AgentSearchEvidenceSerializer(serializers.Serializer):
    teams = serializers.IntegerField(help_text="Opted-in teams that measured the latest version.")
    success_rate_median = serializers.FloatField(allow_null=True, help_text="Median of the per-team success rates.")
    cost_per_run_median = serializers.FloatField(
        allow_null=True, help_text="Median of the per-team costs per run (USD)."
    )
    failure_rose = serializers.BooleanField(help_text="The latest version fails clearly more than the previous one.")


class AgentSerializer(OutputModelSerializer):
    """An agent as listed: counters and ratings, no description body."""

    publisher = PublisherSerializer(source="team", read_only=True)
    ref = serializers.SerializerMethodField(help_text="'team-slug/agent-slug': how other apps and clients name it.")
    latest_version = serializers.SlugRelatedField(slug_field="version", read_only=True, allow_null=True)
    rating_average = serializers.FloatField(source="rating_avg", read_only=True, allow_null=True)
    weighted_rating = serializers.FloatField(read_only=True, help_text="Bayesian average used for ranking.")
    evidence = serializers.SerializerMethodField(
        help_text="Measured evidence of the latest version across opted-in teams; null below the team threshold."
    )

    class Meta:
        model = Agent
        fields = [
            "id",
            "ref",
            "name",
            "slug",
            "summary",
            "category",
            "tags",
            "visibility",
            "is_listed",
            "publisher",
            "latest_version",
            "install_count",
            "active_install_count",
            "download_count",
            "rating_count",
            "rating_average",
            "weighted_rating",
            "evidence",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_ref(self, agent) -> str:
        return f"{agent.team.slug}/{agent.slug}"

    @extend_schema_field(AgentSearchEvidenceSerializer(allow_null=True))
    def get_evidence(self, agent) -> dict | None:
        return agent_search_evidence(agent)


class ForkOriginSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ref = serializers.CharField(help_text="'team-slug/agent-slug' of the original.")
    version = serializers.CharField(allow_null=True, help_text="The version the fork copied.")


class AgentDetailSerializer(AgentSerializer):
    histogram = serializers.SerializerMethodField()
    forked_from = serializers.SerializerMethodField()
    description_html = serializers.CharField(
        read_only=True, help_text="The description rendered from Markdown and sanitized."
    )
    unlisted_reason = serializers.CharField(read_only=True)

    class Meta(AgentSerializer.Meta):
        fields = AgentSerializer.Meta.fields + [
            "description",
            "description_html",
            "histogram",
            "unlisted_reason",
            "forked_from",
            "fork_count",
        ]
        read_only_fields = fields

    @extend_schema_field(ForkOriginSerializer(allow_null=True))
    def get_forked_from(self, agent) -> dict | None:
        origin = agent.forked_from
        if origin is None:
            return None
        version = agent.forked_from_version
        return {
            "id": origin.pk,
            "ref": f"{origin.team.slug}/{origin.slug}",
            "version": version.version if version else None,
        }

    @extend_schema_field(
        serializers.DictField(child=serializers.IntegerField(), help_text="Ratings per star, '1' to '5'.")
    )
    def get_histogram(self, agent) -> dict:
        return {str(stars): count for stars, count in agent.histogram.items()}


class AgentCreateSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    """Shapes input; ``marketplace.services.agent_create`` checks the values (every bad field at once)."""

    name = serializers.CharField(max_length=limits.NAME_CHARS)
    slug = serializers.SlugField(max_length=limits.NAME_CHARS, required=False, help_text="Default: made from the name.")
    summary = serializers.CharField(max_length=limits.SHORT_TEXT_CHARS, required=False, allow_blank=True, default="")
    description = serializers.CharField(
        max_length=conf.MAX_DESCRIPTION_CHARS, required=False, allow_blank=True, default="", help_text="Markdown."
    )
    category = serializers.ChoiceField(choices=Category.choices, default=Category.OTHER)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, default=list, max_length=conf.MAX_TAGS
    )
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PUBLIC)
    version = serializers.CharField(max_length=64, default="1.0.0", help_text="Semantic version of the first release.")
    system_prompt = serializers.CharField(max_length=conf.MAX_SYSTEM_PROMPT_CHARS, trim_whitespace=False)
    changelog = serializers.CharField(required=False, allow_blank=True, default="", max_length=limits.CHANGELOG_CHARS)
    input_schema = serializers.JSONField(
        required=False, allow_null=True, default=None, help_text="A JSON Schema document."
    )
    output_schema = serializers.JSONField(
        required=False, allow_null=True, default=None, help_text="A JSON Schema document."
    )
    model_hints = serializers.DictField(
        required=False, default=dict, help_text='e.g. {"model": "gpt-4o", "temperature": 0.2}'
    )


class AgentUpdateSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=limits.NAME_CHARS, required=False)
    summary = serializers.CharField(max_length=limits.SHORT_TEXT_CHARS, required=False, allow_blank=True)
    description = serializers.CharField(max_length=conf.MAX_DESCRIPTION_CHARS, required=False, allow_blank=True)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=40), required=False, max_length=conf.MAX_TAGS)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)


class AgentVersionSerializer(OutputModelSerializer):
    """A version's listing: schemas and hints, without the system prompt (fetch the definition)."""

    agent_ref = serializers.SerializerMethodField()
    published_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    input_schema = serializers.JSONField(read_only=True, allow_null=True)
    output_schema = serializers.JSONField(read_only=True, allow_null=True)
    model_hints = serializers.JSONField(read_only=True)

    class Meta:
        model = AgentVersion
        fields = [
            "id",
            "agent",
            "agent_ref",
            "version",
            "major",
            "minor",
            "patch",
            "prerelease",
            "is_release",
            "input_schema",
            "output_schema",
            "model_hints",
            "changelog",
            "is_yanked",
            "yanked_reason",
            "yanked_at",
            "download_count",
            "published_by",
            "created_at",
        ]
        read_only_fields = fields

    def get_agent_ref(self, version) -> str:
        return f"{version.agent.team.slug}/{version.agent.slug}"


class AgentVersionDefinitionSerializer(AgentVersionSerializer):
    class Meta(AgentVersionSerializer.Meta):
        fields = AgentVersionSerializer.Meta.fields + ["system_prompt"]
        read_only_fields = fields


class AgentVersionCreateSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    agent = TeamObjectField(
        queryset=Agent.objects.all(),
        help_text="Id of an agent of your team.",
        not_found="No agent of your teams has this id.",
    )
    version = serializers.CharField(
        max_length=64, required=False, allow_null=True, default=None, help_text="Default: next minor version."
    )
    system_prompt = serializers.CharField(max_length=conf.MAX_SYSTEM_PROMPT_CHARS, trim_whitespace=False)
    changelog = serializers.CharField(required=False, allow_blank=True, default="", max_length=limits.CHANGELOG_CHARS)
    input_schema = serializers.JSONField(
        required=False, allow_null=True, default=None, help_text="Default: the latest version's."
    )
    output_schema = serializers.JSONField(
        required=False, allow_null=True, default=None, help_text="Default: the latest version's."
    )
    model_hints = serializers.DictField(
        required=False, allow_null=True, default=None, help_text="Default: the latest version's."
    )


class YankSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=limits.SHORT_TEXT_CHARS)


class InstalledAgentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    ref = serializers.CharField()
    name = serializers.CharField()
    latest_version = serializers.CharField(allow_null=True)


class InstallationSerializer(OutputModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    agent = serializers.SerializerMethodField()
    version = serializers.SlugRelatedField(slug_field="version", read_only=True)
    version_is_yanked = serializers.BooleanField(source="version.is_yanked", read_only=True)
    is_active = serializers.BooleanField(read_only=True)
    upgrade_available = serializers.SerializerMethodField()
    installed_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Installation
        fields = [
            "id",
            "team",
            "agent",
            "version",
            "version_is_yanked",
            "pinned",
            "is_active",
            "upgrade_available",
            "installed_by",
            "installed_at",
            "updated_at",
            "uninstalled_at",
        ]
        read_only_fields = fields

    @extend_schema_field(InstalledAgentSerializer)
    def get_agent(self, installation) -> dict:
        agent = installation.agent
        return {
            "id": agent.pk,
            "ref": f"{agent.team.slug}/{agent.slug}",
            "name": agent.name,
            "latest_version": agent.latest_version.version if agent.latest_version else None,
        }

    def get_upgrade_available(self, installation) -> bool:
        return installation.upgrade_to is not None


class InstallSerializer(StrictFieldsMixin, serializers.Serializer):
    version = serializers.CharField(
        max_length=64, required=False, allow_null=True, default=None, help_text="Default: latest version not yanked."
    )


class InstallationCreateSerializer(InstallSerializer):
    agent = serializers.IntegerField(min_value=1)


class InstallResultSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=["installed", "reinstalled", "changed", "unchanged"])
    installation = InstallationSerializer()


class RatingSerializer(OutputModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Rating
        fields = ["id", "agent", "user", "team", "stars", "review", "created_at", "updated_at"]
        read_only_fields = fields


class RateSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    stars = serializers.IntegerField(min_value=1, max_value=5)
    review = serializers.CharField(required=False, allow_blank=True, default="", max_length=limits.REVIEW_CHARS)


class RatingCreateSerializer(RateSerializer):
    agent = serializers.IntegerField(min_value=1)


class ReportCreateSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    reason = serializers.ChoiceField(choices=Report.Reason.choices)
    text = serializers.CharField(required=False, allow_blank=True, default="", max_length=limits.REVIEW_CHARS)


class ReportSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="open, actioned or dismissed")

    class Meta:
        model = Report
        fields = ["id", "agent", "rating", "reason", "text", "status", "created_at"]
        read_only_fields = fields


class DailyStatSerializer(serializers.Serializer):
    day = serializers.DateField()
    installs = serializers.IntegerField()
    uninstalls = serializers.IntegerField()
    downloads = serializers.IntegerField()


class AgentStatsSerializer(serializers.Serializer):
    installs = serializers.IntegerField(help_text="Distinct teams that ever installed the agent.")
    active_installs = serializers.IntegerField()
    downloads = serializers.IntegerField()
    rating_count = serializers.IntegerField()
    rating_average = serializers.FloatField(allow_null=True)
    weighted_rating = serializers.FloatField(allow_null=True)
    histogram = serializers.DictField(child=serializers.IntegerField())
    daily = DailyStatSerializer(many=True)


# Component names in the OpenAPI schema carry the app's name, so they never collide with
# another app's serializer of the same class name (AgentDetail, Report, ...).
for _name, _cls in list(globals().items()):
    if isinstance(_cls, type) and issubclass(_cls, serializers.BaseSerializer) and _cls.__module__ == __name__:
        extend_schema_serializer(component_name="Marketplace" + _name.removesuffix("Serializer"))(_cls)


class ForkSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    version = serializers.CharField(max_length=64, required=False, help_text="The version to copy (default: latest).")
    name = serializers.CharField(max_length=limits.NAME_CHARS, required=False, help_text="Default: the original's.")
    slug = serializers.SlugField(max_length=limits.NAME_CHARS, required=False, help_text="Default: the original's.")
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.PRIVATE)


class DiffLineSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["hunk", "add", "remove", "same"])
    text = serializers.CharField()


class FieldDiffSerializer(serializers.Serializer):
    field = serializers.CharField()
    label = serializers.CharField()
    changed = serializers.BooleanField()
    added = serializers.IntegerField()
    removed = serializers.IntegerField()
    unified = serializers.CharField(help_text="The unified diff as text (empty when unchanged).")
    lines = DiffLineSerializer(many=True)


class RunVersionSerializer(serializers.Serializer):
    agent = serializers.IntegerField()
    unit = serializers.CharField()
    reason = serializers.CharField(
        help_text="pinned (your team's pinned version), candidate (a guarded rollout's share) or stable."
    )
    version_id = serializers.IntegerField()
    version = serializers.CharField()
    channel = serializers.CharField()
    system_prompt = serializers.CharField()
    model_hints = serializers.JSONField()
    input_schema = serializers.JSONField(allow_null=True)
    output_schema = serializers.JSONField(allow_null=True)


class VersionDiffSerializer(serializers.Serializer):
    from_version = serializers.CharField()
    to_version = serializers.CharField()
    changed = serializers.BooleanField()
    fields = FieldDiffSerializer(many=True)
