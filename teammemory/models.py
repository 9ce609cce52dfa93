"""Team memory tables: what each build was asked to do, with which stack and agents, and how it went.

``Build`` is one row per reported build (a retried report with the same ``client_build_id`` is
stored once). Its stack is kept three ways: ``stack`` as reported ({role: name}),
``components`` (normalised names, GIN-indexed for overlap and filters) and ``stack_key`` (the
normalised names joined in role order: the unit of "by stack"). ``search`` is a generated
tsvector of the requirements for full-text similarity, ``requirements_hash`` a generated digest of
the normalised requirements ("the same requirements" in the flaky-stack rule).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from django.db.models import F, Func, Q

from crucible.limits import SUM_MONEY_DIGITS


class BuildStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class NormalizedRequirementsMd5(Func):
    """md5 of the lower-cased requirements with runs of whitespace collapsed (immutable, so it
    can be a generated column)."""

    template = "md5(regexp_replace(lower(btrim(%(expressions)s)), '\\s+', ' ', 'g'))"
    output_field = models.CharField()


class Build(models.Model):
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="builds", db_index=False)
    client_build_id = models.CharField(max_length=200)
    project_name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reported_builds"
    )
    api_key = models.ForeignKey(
        "crucible.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="reported_builds"
    )
    requirements = models.TextField(blank=True, default="")
    stack = models.JSONField(default=dict, blank=True, help_text="{role: component} as reported.")
    components = ArrayField(
        models.CharField(max_length=80), default=list, blank=True, help_text="Normalised component names."
    )
    stack_key = models.CharField(max_length=600, blank=True, default="", db_index=False)
    status = models.CharField(max_length=12, choices=BuildStatus.choices)
    quality = models.SmallIntegerField(null=True, blank=True, help_text="0-100; empty when not scored.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    duration_ms = models.BigIntegerField(help_text="finished_at - started_at, in milliseconds.")
    tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    search = models.GeneratedField(
        expression=SearchVector("requirements", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    requirements_hash = models.GeneratedField(
        expression=NormalizedRequirementsMd5(F("requirements")),
        output_field=models.CharField(max_length=32),
        db_persist=True,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "client_build_id"], name="build_unique_team_client_id"),
            models.CheckConstraint(
                condition=Q(quality__isnull=True) | Q(quality__gte=0, quality__lte=100),
                name="build_quality_0_100",
                violation_error_message="Quality is a score from 0 to 100.",
            ),
            models.CheckConstraint(
                condition=Q(finished_at__gte=F("started_at")),
                name="build_finished_after_started",
                violation_error_message="A build cannot finish before it starts.",
            ),
            models.CheckConstraint(condition=Q(duration_ms__gte=0), name="build_duration_not_negative"),
            models.CheckConstraint(condition=Q(tokens__gte=0), name="build_tokens_not_negative"),
            models.CheckConstraint(condition=Q(cost__gte=0), name="build_cost_not_negative"),
            models.CheckConstraint(condition=Q(status__in=BuildStatus.values), name="build_status_valid"),
        ]
        indexes = [
            # Covering index: insights over a time range read only these columns, so PostgreSQL can
            # answer them with an index-only scan instead of reading the wide rows (requirements text).
            models.Index(
                fields=["team", "started_at"],
                name="build_team_started",
                include=[
                    "id",
                    "status",
                    "quality",
                    "duration_ms",
                    "tokens",
                    "cost",
                    "stack_key",
                    "components",
                    "requirements_hash",
                ],
            ),
            models.Index(fields=["team", "stack_key", "started_at"], name="build_team_stack_started"),
            GinIndex(fields=["components"], name="build_components_gin"),
            GinIndex(fields=["search"], name="build_search_gin"),
        ]
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"{self.project_name or 'build'} {self.client_build_id}"


class BuildAgent(models.Model):
    """An agent (and, when known, the exact version) a build used."""

    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="agent_uses", db_index=False)
    agent = models.ForeignKey("marketplace.Agent", on_delete=models.CASCADE, related_name="build_uses", db_index=False)
    agent_version = models.ForeignKey(
        "marketplace.AgentVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="build_uses"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["build", "agent", "agent_version"], name="buildagent_unique", nulls_distinct=False
            )
        ]
        indexes = [models.Index(fields=["agent", "agent_version"], name="buildagent_agent_version")]

    def __str__(self):
        return f"{self.build_id}: {self.agent_version or self.agent}"


class BuildError(models.Model):
    """An error a build met: its type (for grouping) and message."""

    build = models.ForeignKey(Build, on_delete=models.CASCADE, related_name="errors")
    error_type = models.CharField(max_length=200)
    message = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["error_type"], name="builderror_type")]

    def __str__(self):
        return f"{self.error_type}: {self.message[:60]}"


# --- Daily rollups -------------------------------------------------------------------------------
# Maintained by ``services.build_record`` in the build's transaction (INSERT ... ON CONFLICT DO
# UPDATE adding counts and sums, so concurrent reports stay exact) and rebuilt from the raw builds
# by ``manage.py teammemory_rollups``. ``day`` is the UTC date of ``Build.started_at``. Insights,
# the trend, agent outcomes and recommendations read these, so their cost grows with days x
# groups, not with the number of builds.


def _empty_hist():
    from teammemory import histogram

    return [0] * histogram.BUCKETS


class _OutcomeCounts(models.Model):
    builds = models.BigIntegerField(default=0)
    succeeded = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    cancelled = models.BigIntegerField(default=0)
    scored = models.BigIntegerField(default=0, help_text="Builds with a quality score.")
    quality_sum = models.BigIntegerField(default=0)
    quality_sq_sum = models.BigIntegerField(default=0, help_text="Sum of squared quality scores.")

    class Meta:
        abstract = True


class _DurationSums(_OutcomeCounts):
    duration_sum_ms = models.BigIntegerField(default=0)
    hist = ArrayField(
        models.BigIntegerField(), default=_empty_hist, help_text="Log-scale duration histogram (teammemory.histogram)."
    )
    tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=SUM_MONEY_DIGITS, decimal_places=6, default=0)

    class Meta:
        abstract = True


class BuildDailyRollup(_DurationSums):
    """Builds of one team, one UTC day, one stack (its key and its components). Figures by
    component are sums over the stacks that contain the component (every build's components are
    its stack's), so they need no table of their own."""

    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    stack_key = models.CharField(max_length=600, blank=True, default="")
    components = ArrayField(
        models.CharField(max_length=80), default=list, blank=True, help_text="The stack's normalised components."
    )

    class Meta:
        ordering = ["-day", "stack_key"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "day", "stack_key", "components"], name="builddailyrollup_unique_key"
            )
        ]

    def __str__(self):
        return f"{self.day} {self.stack_key or '(no stack)'}: {self.builds}"


class BuildAgentDailyRollup(_OutcomeCounts):
    """Builds of one team, one UTC day, that used one agent (version)."""

    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    agent = models.ForeignKey("marketplace.Agent", on_delete=models.CASCADE, related_name="+")
    # No database constraint: the figures of a deleted version stay (BuildAgent sets its link to NULL).
    agent_version = models.ForeignKey(
        "marketplace.AgentVersion",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "day", "agent", "agent_version"],
                name="buildagentdailyrollup_unique_key",
                nulls_distinct=False,
            )
        ]

    def __str__(self):
        return f"{self.day} agent {self.agent_id} v{self.agent_version_id}: {self.builds}"


class BuildErrorDailyRollup(models.Model):
    """Errors of one type met by builds of one team on one UTC day."""

    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    error_type = models.CharField(max_length=200)
    occurrences = models.BigIntegerField(default=0)
    builds = models.BigIntegerField(default=0, help_text="Builds that met this error type.")
    failed_builds = models.BigIntegerField(default=0)
    example_message = models.TextField(blank=True, default="", help_text="The greatest message (as max() sorts them).")

    class Meta:
        ordering = ["-day", "error_type"]
        constraints = [
            models.UniqueConstraint(fields=["team", "day", "error_type"], name="builderrordailyrollup_unique_key")
        ]

    def __str__(self):
        return f"{self.day} {self.error_type}: {self.builds}"


class QualityTrendWatch(models.Model):
    """The last quality trend direction seen for a team (``teammemory.notices``): a notification
    goes out once when it turns to "falling", not at every check while it stays there."""

    team = models.OneToOneField("crucible.Team", on_delete=models.CASCADE, primary_key=True, related_name="+")
    direction = models.CharField(max_length=20, help_text="rising, falling, flat or insufficient_data.")
    changed_at = models.DateTimeField(help_text="When the direction last changed.")
    slope_per_week = models.FloatField(null=True, blank=True)
    p_value = models.FloatField(null=True, blank=True)

    def __str__(self):
        return f"{self.team_id}: {self.direction} since {self.changed_at:%Y-%m-%d %H:%M}"
