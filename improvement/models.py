"""Prompt experiments: an experiment tries several prompt variants on live traffic.

Statistics live on each ``Variant`` row as running sums (count, sum, sum of squares, successes),
moved by ``UPDATE ... SET x = x + n`` in the database so concurrent writers never lose a result.
``VariantBucket`` keeps the same figures per hour (traffic share and cumulative-results charts),
upserted with ``INSERT ... ON CONFLICT DO UPDATE``. ``Assignment`` is the small row written by
each ``select``: which variant a caller was given, so its result can be recorded against it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from crucible.limits import SUM_MONEY_DIGITS


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    CONCLUDED = "concluded", "Concluded"


class Strategy(models.TextChoices):
    EPSILON_GREEDY = "epsilon_greedy", "Epsilon-greedy"
    THOMPSON = "thompson", "Thompson sampling"
    UCB1 = "ucb1", "UCB1"
    FIXED_SPLIT = "fixed_split", "Fixed split (equal shares)"


class SourceKind(models.TextChoices):
    UPGRADE = "upgrade", "Upgrade advisor"
    OBSERVABILITY = "observability", "Observability recommendation"
    TEAMMEMORY = "teammemory", "Team memory recommendation"


class Experiment(models.Model):
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="experiments", db_index=False)
    name = models.CharField(max_length=100, help_text="The key clients use (unique within the team).")
    agent = models.ForeignKey(
        "marketplace.Agent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="experiments",
        help_text="The marketplace agent whose prompt this experiment tunes (needed to promote the winner).",
    )
    description = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.EPSILON_GREEDY)
    epsilon = models.FloatField(
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Epsilon-greedy: share of traffic explored uniformly at random.",
    )
    # Objective: a weighted mean of per-result scores in [0, 1] (see services.objective_score).
    weight_quality = models.FloatField(default=0.5, validators=[MinValueValidator(0.0), MaxValueValidator(1000.0)])
    weight_success = models.FloatField(default=0.3, validators=[MinValueValidator(0.0), MaxValueValidator(1000.0)])
    weight_speed = models.FloatField(default=0.2, validators=[MinValueValidator(0.0), MaxValueValidator(1000.0)])
    weight_cost = models.FloatField(default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1000.0)])
    speed_reference_ms = models.PositiveIntegerField(
        default=2000,
        validators=[MinValueValidator(1)],
        help_text="A result this fast scores 0.5 on speed (faster is higher, never above 1).",
    )
    cost_reference = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        default=0.01,
        help_text="A result this cheap scores 0.5 on cost (cheaper is higher).",
    )
    min_results = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)],
        help_text="Results each variant needs before any variant can count as better.",
    )
    # Guardrails (improvement.guardrails): a variant clearly worse than the control by more than the
    # margin cannot win; None switches a guardrail off.
    guardrail_error_margin = models.FloatField(
        null=True,
        blank=True,
        default=0.02,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Error rate: how many points (0.02 = 2 points) above the control's a variant may be.",
    )
    guardrail_p95_margin = models.FloatField(
        null=True,
        blank=True,
        default=0.2,
        validators=[MinValueValidator(0.0), MaxValueValidator(100.0)],
        help_text="p95 duration: how much slower than the control's (0.2 = 20%) a variant may be.",
    )
    guardrail_cost_margin = models.FloatField(
        null=True,
        blank=True,
        default=0.2,
        validators=[MinValueValidator(0.0), MaxValueValidator(100.0)],
        help_text="Cost per run: how much dearer than the control's (0.2 = 20%) a variant may be.",
    )
    guardrail_auto_stop = models.BooleanField(
        default=False, help_text="Retire a variant as soon as it is clearly worse than the control on a guardrail."
    )
    cuped = models.BooleanField(
        default=False,
        db_default=False,
        help_text="CUPED: also report estimates adjusted by each unit's metric before the experiment (improvement.cuped).",
    )
    winner = models.ForeignKey(
        "improvement.Variant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    promoted_version = models.ForeignKey(
        "marketplace.AgentVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    promoted_as = models.CharField(
        max_length=10,
        choices=[("published", "Published as a new version"), ("pinned", "Pinned as the team's version")],
        blank=True,
    )
    # Sample-ratio check last seen by the periodic check (improvement.tasks): a notification is sent
    # once per change to a warning or an alert.
    srm_status = models.CharField(max_length=20, blank=True, default="", db_default="")
    srm_changed_at = models.DateTimeField(null=True, blank=True)
    # Where the experiment came from: the upgrade advisor or a finding (app, then rule code and subject).
    source_kind = models.CharField(max_length=20, choices=SourceKind.choices, blank=True)
    source_key = models.CharField(max_length=300, blank=True, help_text="The finding: rule code and subject.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    concluded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["team", "name"], name="experiment_unique_team_name"),
            models.CheckConstraint(
                condition=Q(epsilon__gte=0) & Q(epsilon__lte=1),
                name="experiment_epsilon_0_1",
                violation_error_message="Epsilon must be between 0 and 1.",
            ),
            models.CheckConstraint(
                condition=Q(weight_quality__gte=0)
                & Q(weight_success__gte=0)
                & Q(weight_speed__gte=0)
                & Q(weight_cost__gte=0),
                name="experiment_weights_nonnegative",
                violation_error_message="Weights cannot be negative.",
            ),
            models.CheckConstraint(
                condition=Q(weight_quality__gt=0)
                | Q(weight_success__gt=0)
                | Q(weight_speed__gt=0)
                | Q(weight_cost__gt=0),
                name="experiment_weights_some_positive",
                violation_error_message="At least one weight must be above zero.",
            ),
            models.CheckConstraint(condition=Q(min_results__gte=1), name="experiment_min_results_positive"),
            models.CheckConstraint(condition=Q(speed_reference_ms__gte=1), name="experiment_speed_reference_positive"),
            models.CheckConstraint(condition=Q(cost_reference__gt=0), name="experiment_cost_reference_positive"),
        ]
        indexes = [
            models.Index(fields=["team", "status"], name="experiment_team_status"),
            models.Index(
                fields=["team", "source_kind", "source_key"],
                condition=~Q(source_kind=""),
                name="experiment_team_source",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def weights(self) -> dict[str, float]:
        return {
            "quality": self.weight_quality,
            "success": self.weight_success,
            "speed": self.weight_speed,
            "cost": self.weight_cost,
        }

    @property
    def accepts_results(self) -> bool:
        # Paused experiments still take results of calls already in flight.
        return self.status in (Status.RUNNING, Status.PAUSED)


class Variant(models.Model):
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="variants")
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="variants", db_index=False)
    name = models.CharField(max_length=100)
    prompt = models.TextField()
    is_control = models.BooleanField(default=False)
    # A variant may be a whole marketplace version: its prompt (above), model hints and schemas are
    # copied here when it is added (versions are immutable), so select reads one table.
    agent_version = models.ForeignKey(
        "marketplace.AgentVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version_label = models.CharField(max_length=64, blank=True)
    model_hints = models.JSONField(default=dict, blank=True)
    input_schema = models.JSONField(null=True, blank=True)
    output_schema = models.JSONField(null=True, blank=True)
    retired_at = models.DateTimeField(
        null=True, blank=True, help_text="Retired variants get no traffic and no results."
    )
    retired_reason = models.TextField(
        blank=True, default="", db_default="", help_text="Why it was retired (a guardrail's evidence)."
    )
    guardrail_breached_at = models.DateTimeField(
        null=True, blank=True, help_text="When a guardrail first showed it clearly worse than the control."
    )
    guardrail_evidence = models.TextField(blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)

    # Running statistics (moved only by services with F() expressions).
    results_count = models.BigIntegerField(default=0)
    success_count = models.BigIntegerField(default=0)
    objective_count = models.BigIntegerField(default=0, help_text="Results with an objective score.")
    objective_sum = models.FloatField(default=0.0)
    objective_sum_sq = models.FloatField(default=0.0)
    quality_count = models.BigIntegerField(default=0)
    quality_sum = models.FloatField(default=0.0)
    quality_sum_sq = models.FloatField(default=0.0)
    duration_sum = models.FloatField(default=0.0)
    duration_sum_sq = models.FloatField(default=0.0)
    tokens_sum = models.BigIntegerField(default=0)
    cost_sum = models.DecimalField(max_digits=SUM_MONEY_DIGITS, decimal_places=6, default=0)
    cost_sum_sq = models.FloatField(
        default=0.0, db_default=0.0, help_text="Sum of squared costs (the cost guardrail's spread)."
    )
    # CUPED (improvement.cuped): sums over the results that came with the unit's metric before the
    # experiment (x, the covariate) beside their objective score (y).
    cuped_count = models.BigIntegerField(default=0, db_default=0)
    cuped_y_sum = models.FloatField(default=0.0, db_default=0.0)
    cuped_y_sum_sq = models.FloatField(default=0.0, db_default=0.0)
    cuped_x_sum = models.FloatField(default=0.0, db_default=0.0)
    cuped_x_sum_sq = models.FloatField(default=0.0, db_default=0.0)
    cuped_xy_sum = models.FloatField(default=0.0, db_default=0.0)

    class Meta:
        ordering = ["experiment_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="variant_unique_experiment_name"),
            models.UniqueConstraint(
                fields=["experiment"],
                condition=Q(is_control=True),
                name="variant_one_control_per_experiment",
                violation_error_message="An experiment has at most one control variant.",
            ),
            models.CheckConstraint(
                condition=Q(success_count__lte=models.F("results_count"))
                & Q(quality_count__lte=models.F("results_count"))
                & Q(objective_count__lte=models.F("results_count")),
                name="variant_counts_consistent",
            ),
        ]

    def __str__(self):
        return f"{self.experiment.name}/{self.name}"

    @property
    def is_retired(self) -> bool:
        return self.retired_at is not None

    @property
    def is_active(self) -> bool:
        return self.retired_at is None

    @property
    def objective_mean(self) -> float | None:
        return self.objective_sum / self.objective_count if self.objective_count else None

    @property
    def success_rate(self) -> float | None:
        return self.success_count / self.results_count if self.results_count else None

    @property
    def quality_mean(self) -> float | None:
        return self.quality_sum / self.quality_count if self.quality_count else None

    @property
    def duration_mean(self) -> float | None:
        return self.duration_sum / self.results_count if self.results_count else None

    @staticmethod
    def sample_variance(n: int, total: float, total_sq: float) -> float | None:
        if n < 2:
            return None
        return max(0.0, (total_sq - total * total / n) / (n - 1))


class Assignment(models.Model):
    """One ``select``: the variant a caller was given. ``result_at`` is set when its result lands."""

    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+")
    # No index of its own: the (experiment, -id) index below leads with it. Every select inserts a
    # row here, and each index is one more btree insert per select.
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="assignments")
    created_at = models.DateTimeField()
    result_at = models.DateTimeField(null=True, blank=True)
    context = models.CharField(
        max_length=100, blank=True, default="", db_default="", help_text="The select's context bucket, if any."
    )

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["experiment", "-id"], name="assignment_experiment_id")]

    def __str__(self):
        return f"assignment {self.pk} -> {self.variant_id}"


BUCKET_SHARDS = 16  # rows per variant and hour at most (VariantBucket.shard)
# The shard a connection writes: its backend's process id, so concurrent writers rarely share a row.
BUCKET_SHARD_SQL = f"mod(pg_backend_pid(), {BUCKET_SHARDS})"


class VariantBucket(models.Model):
    """Per-variant figures for one hour: assignments (traffic) and results. Upserted, never read-modify-written."""

    # Neither key has an index of its own: (experiment, bucket) and the unique (variant, bucket,
    # shard) lead with them.
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="buckets", db_index=False)
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="buckets", db_index=False)
    bucket = models.DateTimeField(help_text="Start of the hour (UTC).")
    assignments = models.BigIntegerField(default=0)
    results = models.BigIntegerField(default=0)
    successes = models.BigIntegerField(default=0)
    objective_sum = models.FloatField(default=0.0)
    # Fresh draws by kind, for the sample-ratio check (improvement.srm): uniform draws (a fixed
    # split, or epsilon-greedy's exploration) and greedy ones (epsilon-greedy's exploitation).
    uniform_draws = models.BigIntegerField(default=0, db_default=0)
    greedy_draws = models.BigIntegerField(default=0, db_default=0)
    # An hour's figures of a variant are spread over up to BUCKET_SHARDS rows (by database
    # connection): concurrent selects each lock a row until their durable commit, so one row per
    # hour made every select of the leading variant wait for the previous one's WAL flush.
    # Readers sum the rows of an hour.
    shard = models.SmallIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["bucket", "variant_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["variant", "bucket", "shard"], name="variantbucket_unique_variant_bucket_shard"
            )
        ]
        indexes = [models.Index(fields=["experiment", "bucket"], name="vbucket_experiment_bucket")]

    def __str__(self):
        return f"{self.variant_id} @ {self.bucket:%Y-%m-%d %H:00}"


class UnitAssignment(models.Model):
    """Sticky assignment: the variant one unit (an end user, a session, a build) keeps for the
    experiment's life. Written once with ``INSERT ... ON CONFLICT DO NOTHING``."""

    # No index of its own: the unique (experiment, unit_key) leads with it.
    experiment = models.ForeignKey(
        Experiment, on_delete=models.CASCADE, related_name="unit_assignments", db_index=False
    )
    unit_key = models.CharField(max_length=200)
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="unit_assignments")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["experiment_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "unit_key"], name="unitassignment_unique_experiment_unit")
        ]

    def __str__(self):
        return f"{self.unit_key} -> {self.variant_id}"


class VariantDuration(models.Model):
    """How many results of a variant fell in one duration bin (log-spaced, improvement.guardrails):
    the p95 guardrail's histogram. Upserted, never read-modify-written."""

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="duration_bins", db_index=False)
    bin = models.SmallIntegerField()
    count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["variant_id", "bin"]
        constraints = [models.UniqueConstraint(fields=["variant", "bin"], name="variantduration_unique_variant_bin")]

    def __str__(self):
        return f"{self.variant_id} bin {self.bin}: {self.count}"


class RolloutStatus(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed (stable moved)"
    STOPPED = "stopped", "Stopped (candidate yanked)"


def default_schedule() -> list[float]:
    return [0.05, 0.25, 0.5, 1.0]


class Rollout(models.Model):
    """A guarded rollout of a promoted winner: the candidate version gets a growing share of the
    default channel's runs (``schedule``) while guardrails compare it with stable."""

    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+")
    experiment = models.ForeignKey(
        Experiment, null=True, blank=True, on_delete=models.SET_NULL, related_name="rollouts"
    )
    agent = models.ForeignKey("marketplace.Agent", on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey("marketplace.AgentVersion", on_delete=models.CASCADE, related_name="+")
    stable = models.ForeignKey(
        "marketplace.AgentVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    schedule = ArrayField(models.FloatField(), default=default_schedule, help_text="Candidate shares, step by step.")
    step = models.PositiveSmallIntegerField(default=0, help_text="Index of the current share in the schedule.")
    share = models.FloatField(default=0.0)
    status = models.CharField(max_length=10, choices=RolloutStatus.choices, default=RolloutStatus.RUNNING)
    min_results = models.PositiveIntegerField(default=30, help_text="Candidate results each step needs to move on.")
    step_results_start = models.BigIntegerField(default=0, help_text="Candidate results when this step began.")
    next_step_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True, help_text="Why it stopped: the guardrail's evidence.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status", "next_step_at"], name="rollout_status_next")]

    def __str__(self):
        return f"rollout {self.pk} of {self.candidate_id} ({self.status}, {self.share:.0%})"


class RolloutStep(models.Model):
    """One recorded step of a rollout: start, advance, complete or stop, with its evidence."""

    class Action(models.TextChoices):
        START = "start", "Started"
        ADVANCE = "advance", "Share raised"
        COMPLETE = "complete", "Completed: stable moved"
        STOP = "stop", "Stopped: candidate yanked"

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="steps")
    action = models.CharField(max_length=10, choices=Action.choices)
    share = models.FloatField()
    evidence = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["rollout_id", "id"]

    def __str__(self):
        return f"{self.rollout_id}: {self.action} at {self.share:.0%}"


class RolloutTally(models.Model):
    """Runs of one side of a rollout (stable or candidate) by one team in one duration bin:
    results, successes, cost sums. Upserted; the guardrails read the sums and the bins as a
    histogram (the publisher's own runs, and other teams' only from K teams that share evidence)."""

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="tallies", db_index=False)
    team = models.ForeignKey(
        "crucible.Team", on_delete=models.CASCADE, related_name="+", help_text="The team whose runs these are."
    )
    arm = models.CharField(max_length=10, choices=[("stable", "Stable"), ("candidate", "Candidate")])
    bin = models.SmallIntegerField()
    results = models.BigIntegerField(default=0)
    successes = models.BigIntegerField(default=0)
    cost_sum = models.FloatField(default=0.0)
    cost_sum_sq = models.FloatField(default=0.0)

    class Meta:
        ordering = ["rollout_id", "team_id", "arm", "bin"]
        constraints = [
            models.UniqueConstraint(fields=["rollout", "team", "arm", "bin"], name="rollouttally_unique_team")
        ]

    def __str__(self):
        return f"{self.rollout_id} team {self.team_id} {self.arm} bin {self.bin}"


class VariantContext(models.Model):
    """A variant's objective sums within one context bucket (e.g. the build's stack): Thompson
    sampling draws from these when a select names its context. Upserted by the results batch."""

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="contexts", db_index=False)
    context = models.CharField(max_length=100)
    results = models.BigIntegerField(default=0)
    objective_count = models.BigIntegerField(default=0)
    objective_sum = models.FloatField(default=0.0)

    class Meta:
        ordering = ["experiment_id", "context", "variant_id"]
        constraints = [models.UniqueConstraint(fields=["variant", "context"], name="variantcontext_unique")]

    def __str__(self):
        return f"{self.variant_id} in {self.context}"
