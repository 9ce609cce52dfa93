"""Observability tables: raw executions, hourly and daily rollups, error rollups, model prices.

Executions are append-only raw rows (kept ``RETENTION_DAYS``). Rollups are kept up to date on
ingest with ``INSERT ... ON CONFLICT DO UPDATE`` (see ``services.executions_ingest``); dashboards
read rollups only. ``team_id`` leads every key and index so the big tables can later be
partitioned by time and distributed by team.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import F, Q

from crucible.limits import SUM_MONEY_DIGITS
from observability import histogram


class ExecutionStatus(models.TextChoices):
    SUCCESS = "success", "Success"
    ERROR = "error", "Error"


class ExecutionSource(models.TextChoices):
    API = "api", "Batch API"
    OTLP = "otlp", "OpenTelemetry"
    BUILD = "build", "Build report"
    DEMO = "demo", "Demo data"


class Execution(models.Model):
    """One run of an agent (or one GenAI span), as reported by a client."""

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="executions")
    client_id = models.CharField(
        max_length=200, help_text="The client's id of the event; a retry with the same id is stored once."
    )
    agent_name = models.CharField(max_length=200)
    agent = models.ForeignKey(
        "marketplace.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    agent_version = models.ForeignKey(
        "marketplace.AgentVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    version = models.CharField(max_length=64, blank=True, help_text="Agent version label as reported.")
    model = models.CharField(max_length=200, blank=True)
    operation = models.CharField(max_length=64, blank=True, help_text="gen_ai.operation.name for OTLP spans.")
    variant = models.ForeignKey(
        "improvement.Variant", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    build = models.ForeignKey(
        "teammemory.Build", null=True, blank=True, on_delete=models.SET_NULL, related_name="executions"
    )
    api_key = models.ForeignKey("crucible.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source = models.CharField(max_length=10, choices=ExecutionSource.choices, default=ExecutionSource.API)
    trace_id = models.CharField(max_length=32, blank=True)
    span_id = models.CharField(max_length=16, blank=True)
    started_at = models.DateTimeField()
    duration_ms = models.FloatField()
    status = models.CharField(max_length=10, choices=ExecutionStatus.choices)
    error_type = models.CharField(max_length=200, blank=True)
    error_message = models.TextField(blank=True)
    input_tokens = models.BigIntegerField(default=0, help_text="All input tokens, cached ones included.")
    output_tokens = models.BigIntegerField(default=0, help_text="All output tokens, reasoning ones included.")
    cached_input_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(
        max_digits=18, decimal_places=8, null=True, blank=True, help_text="USD; null when unpriced."
    )
    cost_source = models.CharField(
        max_length=10,
        choices=[("client", "Sent by the client"), ("price", "Computed from a model price"), ("none", "Unpriced")],
    )
    quality = models.FloatField(
        null=True, blank=True, help_text="Optional 0..100 quality score (feeds prompt experiments)."
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["team", "client_id"], name="execution_unique_team_client_id"),
            models.CheckConstraint(condition=Q(duration_ms__gte=0), name="execution_duration_nonneg"),
            models.CheckConstraint(
                condition=Q(
                    input_tokens__gte=0, output_tokens__gte=0, cached_input_tokens__gte=0, reasoning_tokens__gte=0
                ),
                name="execution_tokens_nonneg",
            ),
            models.CheckConstraint(
                condition=Q(cached_input_tokens__lte=F("input_tokens"), reasoning_tokens__lte=F("output_tokens")),
                name="execution_token_parts_within_totals",
            ),
            models.CheckConstraint(condition=Q(cost__isnull=True) | Q(cost__gte=0), name="execution_cost_nonneg"),
            models.CheckConstraint(condition=Q(status__in=["success", "error"]), name="execution_status_valid"),
            models.CheckConstraint(
                condition=Q(quality__isnull=True) | Q(quality__gte=0, quality__lte=100), name="execution_quality_range"
            ),
        ]
        indexes = [
            models.Index(fields=["team", "started_at"], name="execution_team_started"),
            models.Index(fields=["team", "agent_name", "started_at"], name="execution_team_agent_started"),
            # Retention deletes by age across teams: a BRIN index is tiny and nearly free to keep.
            BrinIndex(fields=["started_at"], name="execution_started_brin"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_name} {self.started_at:%Y-%m-%d %H:%M:%S} {self.status}"

    @property
    def unpriced(self) -> bool:
        return self.cost is None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class RollupBase(models.Model):
    """Aggregates of executions per (team, period, agent, model, version, status)."""

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+")
    bucket = models.DateTimeField(help_text="Start of the period (UTC).")
    agent_name = models.CharField(max_length=200)
    model = models.CharField(max_length=200, blank=True)
    version = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=ExecutionStatus.choices)
    executions = models.BigIntegerField(default=0)
    duration_sum_ms = models.FloatField(default=0)
    duration_max_ms = models.FloatField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cached_input_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(
        max_digits=SUM_MONEY_DIGITS, decimal_places=8, default=0, help_text="USD, priced executions only."
    )
    unpriced = models.BigIntegerField(default=0, help_text="Executions with no cost (model matches no price).")
    hist = ArrayField(models.BigIntegerField(), size=histogram.BUCKETS, help_text="Log-scale duration histogram.")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.agent_name} {self.model} {self.bucket:%Y-%m-%d %H:00} {self.status}"


class HourlyRollup(RollupBase):
    class Meta:
        ordering = ["-bucket"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "bucket", "agent_name", "model", "version", "status"], name="hourlyrollup_unique_key"
            )
        ]
        indexes = [models.Index(fields=["team", "agent_name", "bucket"], name="hourlyrollup_team_agent")]


class DailyRollup(RollupBase):
    class Meta:
        ordering = ["-bucket"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "bucket", "agent_name", "model", "version", "status"], name="dailyrollup_unique_key"
            )
        ]
        indexes = [models.Index(fields=["team", "agent_name", "bucket"], name="dailyrollup_team_agent")]


class ErrorRollup(models.Model):
    """Failed executions per (team, hour, agent, error type): errors by type without raw rows."""

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+")
    bucket = models.DateTimeField()
    agent_name = models.CharField(max_length=200)
    error_type = models.CharField(max_length=200)
    executions = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-bucket"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "bucket", "agent_name", "error_type"], name="errorrollup_unique_key"
            )
        ]
        indexes = [models.Index(fields=["team", "agent_name", "bucket"], name="errorrollup_team_agent")]

    def __str__(self) -> str:
        return f"{self.agent_name} {self.error_type} {self.bucket:%Y-%m-%d %H:00}"


class ModelPrice(models.Model):
    """USD per million tokens for models whose name matches ``pattern`` (``*`` and ``?`` as in shell
    globs, case-insensitive), from ``effective_from`` on. The most specific pattern wins (an exact
    name before ``gpt-4o-mini*`` before ``gpt-4o*``), then the latest effective date."""

    pattern = models.CharField(max_length=200)
    input_per_million = models.DecimalField(max_digits=12, decimal_places=6)
    cached_input_per_million = models.DecimalField(max_digits=12, decimal_places=6)
    output_per_million = models.DecimalField(max_digits=12, decimal_places=6)
    reasoning_per_million = models.DecimalField(max_digits=12, decimal_places=6)
    effective_from = models.DateField()
    notes = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["pattern", "-effective_from"]
        constraints = [
            models.UniqueConstraint(fields=["pattern", "effective_from"], name="modelprice_unique_pattern_date"),
            models.CheckConstraint(
                condition=Q(
                    input_per_million__gte=0,
                    cached_input_per_million__gte=0,
                    output_per_million__gte=0,
                    reasoning_per_million__gte=0,
                ),
                name="modelprice_nonneg",
                violation_error_message="Prices cannot be negative.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pattern} from {self.effective_from}"
