"""Measured evidence of marketplace versions: rollups per team, version and UTC day.

Higher apps feed these tables through ``marketplace.services.evidence`` (observability ingest,
team memory build reports, improvement experiment conclusions); every counter moves in one
``INSERT ... ON CONFLICT DO UPDATE`` statement, so concurrent writers stay exact. Pages read the
rollups, never the raw executions. Imported by ``marketplace.models``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Now

from crucible.limits import SUM_MONEY_DIGITS


class TransactionIdField(models.Field):
    """A PostgreSQL ``xid8`` (read back as text). No model uses it any more: migration 0011 names
    it (``VersionEvidenceDaily.hist_xid``, removed by 0012)."""

    description = "PostgreSQL transaction id (xid8)"

    def db_type(self, connection):
        return "xid8"


class EvidenceSharing(models.Model):
    """A team's choice to let its measured figures count in other teams' view of a version
    (as an anonymous part of a spread across at least K teams). Off when there is no row."""

    team = models.OneToOneField(
        "crucible.Team", primary_key=True, on_delete=models.CASCADE, related_name="evidence_sharing"
    )
    share_evidence = models.BooleanField(default=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["team"], condition=models.Q(share_evidence=True), name="evidencesharing_on")]

    def __str__(self):
        return f"{self.team_id}: {'shares' if self.share_evidence else 'keeps'} evidence"


class VersionEvidenceDaily(models.Model):
    """What one team measured of one version on one UTC day: executions (observability ingest)
    and builds that used the version (team memory). Sums of squares give the intervals."""

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
    version = models.ForeignKey(
        "marketplace.AgentVersion", on_delete=models.CASCADE, related_name="evidence_days", db_index=False
    )
    agent = models.ForeignKey("marketplace.Agent", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    executions = models.BigIntegerField(db_default=0, default=0)
    successes = models.BigIntegerField(db_default=0, default=0)
    duration_sum_ms = models.FloatField(db_default=0.0, default=0.0)
    # Bucket counts of the log-scale duration histogram observability keeps (same rule, passed in),
    # trimmed to the buckets in use: ``hist[0]`` counts bucket ``hist_offset``.
    hist_offset = models.PositiveSmallIntegerField(db_default=0, default=0)
    hist = ArrayField(models.BigIntegerField(), db_default=models.Value([]), default=list)
    tokens = models.BigIntegerField(db_default=0, default=0, help_text="Input plus output tokens.")
    tokens_sq = models.FloatField(db_default=0.0, default=0.0)
    cost = models.DecimalField(max_digits=SUM_MONEY_DIGITS, decimal_places=8, db_default=0, default=0)
    cost_sq = models.FloatField(db_default=0.0, default=0.0)
    priced = models.BigIntegerField(db_default=0, default=0, help_text="Executions with a known cost.")
    quality_sum = models.FloatField(db_default=0.0, default=0.0)
    quality_sq = models.FloatField(db_default=0.0, default=0.0)
    quality_count = models.BigIntegerField(db_default=0, default=0)
    builds = models.BigIntegerField(db_default=0, default=0, help_text="Builds of the team that used the version.")
    build_successes = models.BigIntegerField(db_default=0, default=0)
    build_quality_sum = models.FloatField(db_default=0.0, default=0.0)
    build_quality_sq = models.FloatField(db_default=0.0, default=0.0)
    build_quality_count = models.BigIntegerField(db_default=0, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "version", "day"], name="versionevidence_unique_team_version_day")
        ]
        indexes = [
            models.Index(fields=["version", "day"], name="versionevidence_version_day"),
            models.Index(fields=["agent", "day"], name="versionevidence_agent_day"),
        ]

    def __str__(self):
        return f"{self.version_id} {self.day} team {self.team_id}"


class VersionEvidenceHistogram(models.Model):
    """One team's duration histogram of one version over the closed days of a period: the
    ``days - 1`` UTC days up to ``through_day`` (yesterday when written), merged by the worker
    (``marketplace.services.evidence_histograms``) so that a page reads one row per team instead of
    one per team and day. Exact or absent (``crucible.merge_guard``): a change to a daily row of a
    day it holds deletes it; without it the read merges the team's daily rows. Sparse: counts of
    the buckets in use."""

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey("marketplace.AgentVersion", on_delete=models.CASCADE, related_name="+", db_index=False)
    days = models.PositiveSmallIntegerField(help_text="The period (7, 30 or 90 days, today included).")
    through_day = models.DateField(help_text="The last closed UTC day merged.")
    hist_buckets = ArrayField(models.IntegerField(), default=list)
    hist_counts = ArrayField(models.BigIntegerField(), default=list)
    computed_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "days", "through_day", "team"], name="versionevidencehist_unique_period_team"
            )
        ]

    def __str__(self):
        return f"{self.version_id} {self.days} days through {self.through_day} team {self.team_id}"


class TeamBuildDaily(models.Model):
    """Every build a team reported on one UTC day: the "same team's other builds" a version's
    builds are compared with (other = all − with the version)."""

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    builds = models.BigIntegerField(db_default=0, default=0)
    build_successes = models.BigIntegerField(db_default=0, default=0)
    build_quality_sum = models.FloatField(db_default=0.0, default=0.0)
    build_quality_sq = models.FloatField(db_default=0.0, default=0.0)
    build_quality_count = models.BigIntegerField(db_default=0, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "day"], name="teambuilddaily_unique_team_day")]

    def __str__(self):
        return f"team {self.team_id} {self.day}: {self.builds} builds"


class VersionExperimentOutcome(models.Model):
    """A concluded experiment in which a variant ran this version: won or lost, with its sample
    size and the interval of its success rate."""

    class Outcome(models.TextChoices):
        WON = "won", "Won"
        LOST = "lost", "Lost"
        NO_WINNER = "no_winner", "No clear winner"

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+")
    version = models.ForeignKey(
        "marketplace.AgentVersion", on_delete=models.CASCADE, related_name="experiment_outcomes", db_index=False
    )
    experiment_id = models.BigIntegerField(help_text="improvement.Experiment id (kept without a link: lower layer).")
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    samples = models.BigIntegerField(default=0)
    successes = models.BigIntegerField(default=0)
    low = models.FloatField(null=True, blank=True, help_text="Wilson 95 % interval of the success rate.")
    high = models.FloatField(null=True, blank=True)
    concluded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["version", "experiment_id"], name="versionexperimentoutcome_unique_version_experiment"
            )
        ]
        indexes = [models.Index(fields=["version", "concluded_at"], name="versionoutcome_version_time")]

    def __str__(self):
        return f"{self.version_id} {self.outcome} experiment {self.experiment_id}"


class AgentEvidenceWithoutTeam(models.Model):
    """An agent's search figures as one sharing team that measured it may see them: computed
    without that team's own figures (``marketplace.services.evidence.evidence_agents_refresh``, with
    the agent row's). Search shows a viewer of that team these instead of the agent row's, so the
    K teams and the median are always other teams' (knowing its own figure, a team could take it
    out of a median and read another team's exactly). One row per agent and sharing team that
    measured its latest or previous version in the search period."""

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
    agent = models.ForeignKey("marketplace.Agent", on_delete=models.CASCADE, related_name="+")
    success_rate = models.FloatField(null=True, blank=True)
    cost_per_run = models.FloatField(null=True, blank=True)
    teams = models.PositiveIntegerField(default=0, help_text="Other sharing teams that measured the latest version.")
    failure_warning = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "agent"], name="agentevidencewithout_unique_team_agent")]

    def __str__(self):
        return f"agent {self.agent_id} without team {self.team_id}"
