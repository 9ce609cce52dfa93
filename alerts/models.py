"""Alert rules on a team's metrics, their evaluation state and the history of their transitions.

A rule is evaluated every minute by the worker (``alerts.tasks``): its metric over the window,
compared with the warning and critical thresholds, moves it between states. Each change of state
is one ``AlertTransition`` row, unique per rule and evaluation tick (the idempotency key: a job run
twice records it once), and one notification (``dedupe_key = alert-transition:<id>``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from crucible.limits import LABEL_CHARS, NAME_CHARS


class Metric(models.TextChoices):
    ERROR_RATE = "error_rate", "Error rate"
    P95 = "p95_ms", "p95 duration"
    P99 = "p99_ms", "p99 duration"
    EXECUTIONS = "executions", "Executions"
    COST = "cost", "Cost over the window"
    TOKENS = "tokens_per_execution", "Tokens per execution"
    UNPRICED = "unpriced", "Unpriced executions"
    QUALITY = "avg_quality", "Average quality"
    BUILD_FAILURE_RATE = "build_failure_rate", "Build failure rate"
    GUARDRAIL_BREACHES = "guardrail_breaches", "Experiment guardrail breaches"


class Direction(models.TextChoices):
    ABOVE = "above", "Above the threshold"
    BELOW = "below", "Below the threshold"


class NoData(models.TextChoices):
    OK = "ok", "Treat as OK"
    ALERTING = "alerting", "Treat as breaching (critical)"
    KEEP = "keep", "Keep the current state"


class State(models.TextChoices):
    OK = "ok", "OK"
    PENDING = "pending", "Pending"
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class Severity(models.TextChoices):
    NONE = "", "None"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


# The windows a rule may use, in minutes (5 minutes to a day).
WINDOW_CHOICES = [
    (5, "5 minutes"),
    (10, "10 minutes"),
    (15, "15 minutes"),
    (30, "30 minutes"),
    (60, "1 hour"),
    (120, "2 hours"),
    (180, "3 hours"),
    (360, "6 hours"),
    (720, "12 hours"),
    (1440, "1 day"),
]


class AlertRule(models.Model):
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="alert_rules", db_index=False)
    name = models.CharField(max_length=NAME_CHARS)
    metric = models.CharField(max_length=32, choices=Metric.choices)
    # Scope: empty means every value (all agents, all models, all versions).
    agent_name = models.CharField(max_length=LABEL_CHARS, blank=True)
    model = models.CharField(max_length=LABEL_CHARS, blank=True)
    version = models.CharField(max_length=64, blank=True)
    # A span tag (Execution.tags): the rule reads the tagged executions of its window (see alerts.md).
    tag = models.CharField(max_length=64, blank=True, default="", db_default="")
    window_minutes = models.PositiveIntegerField(choices=WINDOW_CHOICES, default=15)
    direction = models.CharField(max_length=5, choices=Direction.choices, default=Direction.ABOVE)
    warning_threshold = models.FloatField(null=True, blank=True)
    critical_threshold = models.FloatField(null=True, blank=True)
    min_samples = models.PositiveIntegerField(
        default=1, help_text="Executions the window needs before the rule judges it (fewer: the state is kept)."
    )
    no_data = models.CharField(max_length=8, choices=NoData.choices, default=NoData.KEEP)
    pending_minutes = models.PositiveIntegerField(
        default=1, help_text="How long a breach must last before the rule fires (0: at once)."
    )
    muted_until = models.DateTimeField(null=True, blank=True, help_text="No notifications before this time.")
    enabled = models.BooleanField(default=True)
    # Evaluation state, written only by alerts.services.evaluation.
    state = models.CharField(max_length=10, choices=State.choices, default=State.OK)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.NONE, blank=True)
    state_since = models.DateTimeField(null=True, blank=True)
    breach_since = models.DateTimeField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)
    last_samples = models.BigIntegerField(null=True, blank=True)
    last_tick = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="alertrule_unique_team_name"),
            models.CheckConstraint(
                condition=Q(warning_threshold__isnull=False) | Q(critical_threshold__isnull=False),
                name="alertrule_has_a_threshold",
            ),
            models.CheckConstraint(
                condition=Q(window_minutes__gte=5, window_minutes__lte=1440), name="alertrule_window_5min_to_1day"
            ),
        ]
        indexes = [models.Index(fields=["team", "state"], name="alertrule_team_state")]

    def __str__(self):
        return self.name


class AlertTransition(models.Model):
    """One change of a rule's state, with the values that caused it. Unique per rule and tick."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="transitions", db_index=False)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
    tick = models.DateTimeField(help_text="The evaluation (minute) that saw the change.")
    from_state = models.CharField(max_length=10, choices=State.choices)
    to_state = models.CharField(max_length=10, choices=State.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True)
    value = models.FloatField(null=True, blank=True)
    samples = models.BigIntegerField(default=0)
    threshold = models.FloatField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    notified = models.BooleanField(default=False, help_text="False while the rule was muted, or for pending.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-tick", "-pk"]
        constraints = [models.UniqueConstraint(fields=["rule", "tick"], name="alerttransition_unique_rule_tick")]
        indexes = [models.Index(fields=["team", "-tick"], name="alerttransition_team_tick")]

    def __str__(self):
        return f"{self.rule}: {self.from_state} -> {self.to_state}"
