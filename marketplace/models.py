"""Marketplace tables: agents, their immutable versions, installations, ratings, reports.

Counters (installs, downloads, ratings) live on the rows they describe and only ever move in
the database (``F()`` updates inside the services, under a row lock where a read must precede
the write), so they stay exact under concurrent requests.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper


class Category(models.TextChoices):
    CODING = "coding", "Coding"
    CODE_REVIEW = "code-review", "Code review"
    TESTING = "testing", "Testing"
    DEVOPS = "devops", "DevOps"
    DATA = "data", "Data & analytics"
    DOCUMENTATION = "documentation", "Documentation"
    SECURITY = "security", "Security"
    DESIGN = "design", "Design"
    PRODUCT = "product", "Product"
    SUPPORT = "support", "Support"
    OTHER = "other", "Other"


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public"
    PRIVATE = "private", "Private (owning team only)"


SEARCH_CONFIG = "english"
# SQL function of the Bayesian rating (marketplace.search.rating_function_apply writes it with the
# prior from settings): browse by rating reads an index on it instead of sorting every agent.
RATING_FUNCTION = "marketplace_weighted_rating"


def weighted_rating():
    """Bayesian average (C * m + sum of stars) / (C + number of ratings), as PostgreSQL computes it."""
    return models.Func(
        models.F("rating_sum"), models.F("rating_count"), function=RATING_FUNCTION, output_field=models.FloatField()
    )


class Channel(models.TextChoices):
    STABLE = "stable", "Stable"
    CANDIDATE = "candidate", "Candidate"


class Agent(models.Model):
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="agents", db_index=False)
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100)
    summary = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True, help_text="Markdown; rendered through a sanitizer.")
    description_html = models.TextField(blank=True, editable=False)
    category = models.CharField(max_length=20, choices=Category.choices, default=Category.OTHER)
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    # Space-separated tags, kept by the services beside ``tags``: the generated search column
    # cannot call array_to_string (not immutable).
    tags_text = models.CharField(max_length=600, blank=True, editable=False)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    is_listed = models.BooleanField(
        default=True, help_text="Operators unlist an agent to remove it from the marketplace."
    )
    unlisted_reason = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    search_vector = models.GeneratedField(
        expression=(
            SearchVector("name", weight="A", config=SEARCH_CONFIG)
            + SearchVector("tags_text", weight="B", config=SEARCH_CONFIG)
            + SearchVector("summary", weight="B", config=SEARCH_CONFIG)
            + SearchVector("description", weight="C", config=SEARCH_CONFIG)
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    # The same words without the description: a search gathers the best of these matches first, so
    # a strong match in a name or summary is found however many descriptions mention the words.
    title_vector = models.GeneratedField(
        expression=(
            SearchVector("name", weight="A", config=SEARCH_CONFIG)
            + SearchVector("tags_text", weight="B", config=SEARCH_CONFIG)
            + SearchVector("summary", weight="B", config=SEARCH_CONFIG)
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    # Counters (exact: moved by the services in the database).
    install_count = models.PositiveIntegerField(default=0, help_text="Distinct teams that ever installed it.")
    active_install_count = models.PositiveIntegerField(default=0, help_text="Teams that have it installed now.")
    download_count = models.PositiveBigIntegerField(
        default=0, help_text="Definition fetches, once per team, version and day."
    )
    rating_count = models.PositiveIntegerField(default=0)
    rating_sum = models.PositiveIntegerField(default=0)
    rating_1 = models.PositiveIntegerField(default=0)
    rating_2 = models.PositiveIntegerField(default=0)
    rating_3 = models.PositiveIntegerField(default=0)
    rating_4 = models.PositiveIntegerField(default=0)
    rating_5 = models.PositiveIntegerField(default=0)
    latest_version = models.ForeignKey(
        "AgentVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The newest release that is not yanked: what an install picks by default.",
    )
    candidate_share = models.FloatField(
        default=0.0,
        db_default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of default-channel runs given the candidate version (a guarded rollout moves it).",
    )
    # Forks: the agent and version this one was copied from (kept when the original goes away).
    forked_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="forks")
    forked_from_version = models.ForeignKey(
        "AgentVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    fork_count = models.PositiveIntegerField(default=0, help_text="Agents forked from this one.")
    # Measured evidence of the latest version, denormalised for search (marketplace.evidence):
    # the median across opted-in teams, NULL below the K-team threshold; refreshed by a job.
    evidence_success_rate = models.FloatField(null=True, blank=True, editable=False)
    evidence_cost_per_run = models.FloatField(null=True, blank=True, editable=False)
    evidence_teams = models.PositiveIntegerField(default=0, editable=False)
    evidence_failure_warning = models.BooleanField(default=False, editable=False)
    evidence_refreshed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "slug"], name="agent_unique_team_slug"),
            models.CheckConstraint(
                condition=Q(
                    rating_count=models.F("rating_1")
                    + models.F("rating_2")
                    + models.F("rating_3")
                    + models.F("rating_4")
                    + models.F("rating_5")
                ),
                name="agent_rating_histogram_matches_count",
            ),
            models.CheckConstraint(
                condition=Q(active_install_count__lte=models.F("install_count")),
                name="agent_active_installs_le_installs",
            ),
            models.CheckConstraint(
                condition=Q(candidate_share__gte=0) & Q(candidate_share__lte=1), name="agent_candidate_share_0_1"
            ),
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="agent_search_gin"),
            GinIndex(fields=["tags"], name="agent_tags_gin"),
            # Covering: counting a filtered list reads only this narrow index, not the wide rows.
            models.Index(
                fields=["category"],
                include=["rating_sum", "rating_count", "team_id", "visibility", "is_listed"],
                name="agent_category_cover",
            ),
            GinIndex(fields=["title_vector"], name="agent_title_gin"),
            models.Index(Upper("name"), name="agent_name_upper"),
            models.Index(fields=["-install_count", "id"], name="agent_installs_desc_id"),
            models.Index(weighted_rating().desc(), models.F("rating_count").desc(), "id", name="agent_rating_desc"),
            models.Index(fields=["-created_at", "-id"], name="agent_created_desc"),
            models.Index(fields=["-updated_at", "-id"], name="agent_updated_desc"),
            models.Index(
                models.F("evidence_success_rate").desc(nulls_last=True),
                "id",
                include=["evidence_teams", "evidence_cost_per_run", "team_id", "visibility", "is_listed"],
                name="agent_evidence_success_cover",
            ),
            models.Index(models.F("evidence_cost_per_run").asc(nulls_last=True), "id", name="agent_evidence_cost_asc"),
        ]

    def __str__(self):
        return f"{self.team.slug}/{self.slug}"

    @property
    def rating_average(self) -> float | None:
        return round(self.rating_sum / self.rating_count, 2) if self.rating_count else None

    @property
    def histogram(self) -> dict[int, int]:
        return {stars: getattr(self, f"rating_{stars}") for stars in range(1, 6)}


class NameWord(models.Model):
    """Every word that appears in an agent name (lower case, with a letter): the small vocabulary
    typo-tolerant search corrects a query against, instead of comparing it with every name.
    Words are added when names are written (``marketplace.search_words.name_words_add``), never removed
    (a word no name carries any more only suggests a search that finds nothing)."""

    word = models.CharField(max_length=100, primary_key=True)

    class Meta:
        indexes = [GinIndex(fields=["word"], opclasses=["gin_trgm_ops"], name="nameword_trgm")]

    def __str__(self):
        return self.word


class AgentVersion(models.Model):
    """One immutable release of an agent. Only ``is_yanked``/``yanked_reason`` ever change."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="versions", db_index=False)
    version = models.CharField(max_length=64)
    major = models.PositiveIntegerField(default=0)
    minor = models.PositiveIntegerField(default=0)
    patch = models.PositiveIntegerField(default=0)
    prerelease = models.CharField(max_length=64, blank=True)
    is_release = models.BooleanField(default=True, help_text="False for pre-releases (1.0.0-beta.1).")
    prerelease_key = models.CharField(max_length=200, blank=True, db_collation="C", editable=False)
    system_prompt = models.TextField()
    input_schema = models.JSONField(null=True, blank=True)
    output_schema = models.JSONField(null=True, blank=True)
    model_hints = models.JSONField(default=dict, blank=True)
    changelog = models.TextField(blank=True)
    channel = models.CharField(
        max_length=10,
        choices=Channel.choices,
        default=Channel.STABLE,
        db_default=Channel.STABLE,
        help_text="stable: the default channel; candidate: under a guarded rollout, not picked by default.",
    )
    is_yanked = models.BooleanField(default=False)
    yanked_reason = models.CharField(max_length=300, blank=True)
    yanked_at = models.DateTimeField(null=True, blank=True)
    download_count = models.PositiveBigIntegerField(default=0)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "version"], name="agentversion_unique_agent_version"),
            models.UniqueConstraint(
                fields=["agent", "major", "minor", "patch", "prerelease"],
                name="agentversion_unique_precedence",
                violation_error_message="This version number is already used by this agent.",
            ),
        ]
        indexes = [
            models.Index(
                fields=["agent", "-major", "-minor", "-patch", "-is_release", "-prerelease_key"],
                name="agentversion_order",
            )
        ]
        ordering = ["agent", "-major", "-minor", "-patch", "-is_release", "-prerelease_key"]

    def __str__(self):
        return f"{self.agent} {self.version}"

    @property
    def sort_tuple(self) -> tuple:
        return (self.major, self.minor, self.patch, self.is_release, self.prerelease_key)


VERSION_ORDER_DESC = ["-major", "-minor", "-patch", "-is_release", "-prerelease_key"]


class Installation(models.Model):
    """A team's installation of an agent: one row per team and agent, kept after an uninstall
    (``uninstalled_at``) so a reinstall does not count as a new install."""

    team = models.ForeignKey(
        "crucible.Team", on_delete=models.CASCADE, related_name="agent_installations", db_index=False
    )
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="installations")
    # RESTRICT: a version in use cannot be deleted on its own, only with its agent or team.
    version = models.ForeignKey(AgentVersion, on_delete=models.RESTRICT, related_name="installations")
    pinned = models.BooleanField(default=False, help_text="The team chose this version explicitly.")
    installed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    installed_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    uninstalled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "agent"], name="installation_unique_team_agent")]
        indexes = [
            models.Index(
                fields=["agent"], condition=Q(uninstalled_at__isnull=True), name="installation_active_by_agent"
            )
        ]

    def __str__(self):
        return f"{self.team} → {self.agent} {self.version.version}"

    @property
    def is_active(self) -> bool:
        return self.uninstalled_at is None

    @property
    def upgrade_to(self):
        """The agent's default version when this active installation is on an older one, else
        None (select ``agent__latest_version`` and ``version`` with the installation)."""
        latest = self.agent.latest_version
        if self.is_active and latest is not None and latest.sort_tuple > self.version.sort_tuple:
            return latest
        return None


class InstallEvent(models.Model):
    class Kind(models.TextChoices):
        INSTALL = "install", "Install (first time for the team)"
        REINSTALL = "reinstall", "Reinstall"
        UPGRADE = "upgrade", "Version change"
        UNINSTALL = "uninstall", "Uninstall"

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="install_events", db_index=False)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(AgentVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["agent", "-created_at"], name="installevent_agent_time")]

    def __str__(self):
        return f"{self.kind} {self.agent} by {self.team}"


class AgentDailyStat(models.Model):
    """Pre-aggregated popularity per agent and day (upserted): charts and trending read this,
    so their cost does not grow with the number of raw events."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="daily_stats", db_index=False)
    day = models.DateField()
    installs = models.PositiveIntegerField(default=0)
    uninstalls = models.PositiveIntegerField(default=0)
    downloads = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "day"], name="agentdailystat_unique_agent_day")]
        indexes = [models.Index(fields=["day", "agent"], name="agentdailystat_day_agent")]

    def __str__(self):
        return f"{self.agent} {self.day}"


class Download(models.Model):
    """One row per team, version and day: the first fetch of a version's definition that day
    counts as a download, repeats do not."""

    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
    version = models.ForeignKey(AgentVersion, on_delete=models.CASCADE, related_name="downloads")
    day = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "version", "day"], name="download_unique_team_version_day")
        ]

    def __str__(self):
        return f"{self.team} {self.version} {self.day}"


class Rating(models.Model):
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="ratings", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_ratings")
    team = models.ForeignKey(
        "crucible.Team",
        on_delete=models.CASCADE,
        related_name="+",
        help_text="The installing team the rater belongs to.",
    )
    stars = models.PositiveSmallIntegerField()
    review = models.TextField(blank=True)
    is_hidden = models.BooleanField(default=False, help_text="Hidden by a moderator: not shown and not counted.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "user"], name="rating_unique_agent_user"),
            models.CheckConstraint(condition=Q(stars__gte=1, stars__lte=5), name="rating_stars_1_to_5"),
        ]
        indexes = [models.Index(fields=["agent", "-updated_at"], name="rating_agent_recent")]

    def __str__(self):
        return f"{self.user} rated {self.agent} {self.stars}/5"


class Report(models.Model):
    """A user's report of an agent or a review; operators work through them in the admin."""

    class Reason(models.TextChoices):
        SPAM = "spam", "Spam or advertising"
        MALICIOUS = "malicious", "Malicious or unsafe prompt"
        OFFENSIVE = "offensive", "Offensive content"
        MISLEADING = "misleading", "Misleading description"
        COPYRIGHT = "copyright", "Copyright or licence problem"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACTIONED = "actioned", "Actioned"
        DISMISSED = "dismissed", "Dismissed"

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="reports")
    rating = models.ForeignKey(Rating, null=True, blank=True, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reporter_team = models.ForeignKey(
        "crucible.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=12, choices=Reason.choices)
    text = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolution_note = models.CharField(max_length=300, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["status", "-created_at"], name="report_status_time")]
        ordering = ["-created_at"]
        constraints = [
            # A team reporting the same thing for the same reason again adds nothing to the queue.
            models.UniqueConstraint(
                fields=["agent", "rating", "reporter_team", "reason"],
                condition=models.Q(status="open"),
                nulls_distinct=False,
                name="report_open_once_per_team",
            )
        ]

    def __str__(self):
        target = f"review #{self.rating_id}" if self.rating_id else str(self.agent)
        return f"{self.get_reason_display()} report on {target}"


# The evidence tables live in their own module; Django finds them through this import.
from marketplace.models_evidence import (  # noqa: E402, F401
    AgentEvidenceWithoutTeam,
    EvidenceSharing,
    TeamBuildDaily,
    VersionEvidenceDaily,
    VersionEvidenceHistogram,
    VersionExperimentOutcome,
)
from marketplace.models_search import TagCount  # noqa: E402, F401
