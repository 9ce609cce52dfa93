"""Observability tables: raw executions, hourly and daily rollups, error rollups, model prices.

Executions are append-only raw rows (kept ``RETENTION_DAYS``). Rollups are kept up to date on
ingest with ``INSERT ... ON CONFLICT DO UPDATE`` (see ``services.executions_ingest``); dashboards
read rollups only. ``team_id`` leads every key and btree index so the big tables can later be
partitioned by time and distributed by team.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex, GinIndex, HashIndex
from django.contrib.postgres.lookups import DataContains
from django.db import models
from django.db.models import F, OrderBy, Q, Value
from django.db.models.expressions import RawSQL
from django.db.models.lookups import Exact, GreaterThan, GreaterThanOrEqual

from crucible.limits import SUM_MONEY_DIGITS
from crucible.querysets import DeferredRowsQuerySet
from crucible.sql import literal
from observability import histogram


class ExecutionStatus(models.TextChoices):
    SUCCESS = "success", "Success"
    ERROR = "error", "Error"


class SpanKind(models.TextChoices):
    AGENT = "agent", "Agent"
    LLM = "llm", "LLM call"
    TOOL = "tool", "Tool"
    RETRIEVAL = "retrieval", "Retrieval"
    CHAIN = "chain", "Chain"
    EMBEDDING = "embedding", "Embedding"
    GUARDRAIL = "guardrail", "Guardrail"
    EVALUATOR = "evaluator", "Evaluator"
    EVENT = "event", "Event"
    OTHER = "other", "Other"


# Spans of these kinds own the tokens and cost they report (see docs/observability.md, "Counting once").
USAGE_KINDS = (SpanKind.LLM, SpanKind.EMBEDDING)


class ExecutionSource(models.TextChoices):
    API = "api", "Batch API"
    OTLP = "otlp", "OpenTelemetry"
    BUILD = "build", "Build report"
    DEMO = "demo", "Demo data"


# The condition of the partial sort indexes, true of every execution (execution_duration_nonneg),
# and the same condition as a query states it to read them (ExecutionFilterSet): SQL text, not a
# bound parameter, which a prepared statement's generic plan could not prove it from.
SORT_INDEXED = Q(duration_ms__gte=0)
SORT_INDEXED_SQL = GreaterThanOrEqual(F("duration_ms"), RawSQL("0", ()))

# The condition of the partial index of the failed runs by error type, and the SQL a query narrowed
# by an error type states it by: the type bound as a parameter does not prove it in a prepared
# statement's generic plan (ExecutionFilterSet).
ERROR_TYPED = ~Q(error_type="")
ERROR_TYPED_SQL = ~Q(Exact(F("error_type"), RawSQL("''", ())))

# The sort columns the per-agent index holds (with the id) beside its keys (team, agent, start).
AGENT_INDEXED_SORTS = ("duration_ms", "cost")

# The condition of the partial index of the failed traces, and the SQL the traces list narrowed to
# them states it by (TraceFilterSet): as SQL text, which a prepared statement's generic plan proves
# the index's condition from, where a bound status would not.
TRACE_FAILED = Q(status="error")
TRACE_FAILED_SQL = Q(Exact(F("status"), RawSQL("'error'", ())))

# The condition of the traces' partial sort indexes, true of every trace (ids start at 1), and the
# SQL the traces list states it by when no narrower index serves it (TraceFilterSet): a list
# narrowed by an agent, a session or an end user then cannot walk a team-wide sort index past
# every other trace, and reads its own index and sorts what it gives.
TRACE_SORT_INDEXED = Q(id__gt=0)
TRACE_SORT_INDEXED_SQL = GreaterThan(F("id"), RawSQL("0", ()))

# The condition of the partial index of the tagged traces (a trace without tags costs it nothing),
# and the SQL the traces list narrowed by a tag states it by (trace_tagged), for the same reason.
TRACE_TAGGED = ~Q(tags=[])
TRACE_TAGGED_SQL = ~Q(Exact(F("tags"), RawSQL("'{}'::varchar(64)[]", ())))


def trace_tagged(tag: str) -> Q:
    """The traces with ``tag`` (TraceFilterSet), read by the tag index when few have it. The tag is
    SQL text too (``crucible.sql.literal``): bound, a prepared statement's generic plan assumes
    one trace in 200 has it and walks the team's traces newest first, whatever the tag, which a
    repeated list of a rare tag got after ten requests on a connection (0.39-0.48 s at 229,000
    traces for a tag none has, against 5 ms)."""
    return TRACE_TAGGED_SQL & Q(DataContains(F("tags"), RawSQL(f"ARRAY[{literal(tag)}]::varchar(64)[]", ())))


# The columns a list is narrowed by whose values are read through the bloom index
# (execution_values_bloom): a value few or no runs have is found there, a common one by walking the
# team's runs in the list's order.
BLOOM_VALUE_FIELDS = ("model", "version", "source")


def execution_value(field: str, value: str) -> Q:
    """The runs whose ``field`` (one of ``BLOOM_VALUE_FIELDS``) is ``value``, the value stated as SQL
    text (``crucible.sql.literal``): the planner then knows from its statistics whether few runs
    have it (read the bloom index's block ranges) or many (walk the team's runs and stop at the
    page). Bound, a prepared statement's generic plan assumes a common value and walks, past every
    run of the team for a value none has (1.1-1.7 s at 10 million)."""
    if field not in BLOOM_VALUE_FIELDS:
        raise ValueError(f"{field} is not read through the bloom index")
    return Q(Exact(F(field), RawSQL(literal(value), ())))


class Execution(models.Model):
    """One span of a trace. An agent execution as it always was is a span of kind ``agent``.

    ``trace_id``/``span_id``/``parent_span_id`` build the tree (spans may arrive in any order);
    the input and output live in ``SpanPayload`` (kept for a shorter time, compressed); ``Trace``
    is the per-trace summary that lists and sessions read. ``counts_execution`` and
    ``counts_usage`` say what this span adds to the rollups, so a trace is counted once.
    """

    id = models.BigAutoField(primary_key=True)
    # Spans are the one table written per event: no foreign-key constraint (each costs a lookup
    # and a lock on the referenced row per span); Django applies on_delete. team_id leads the indexes.
    team = models.ForeignKey(
        "crucible.Team", on_delete=models.CASCADE, related_name="executions", db_index=False, db_constraint=False
    )
    client_id = models.CharField(
        max_length=200, help_text="The client's id of the event; a retry with the same id is stored once."
    )
    agent_name = models.CharField(max_length=200)
    agent = models.ForeignKey(
        "marketplace.Agent",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="executions",
        db_index=False,  # partial index in Meta
        db_constraint=False,
    )
    agent_version = models.ForeignKey(
        "marketplace.AgentVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="executions",
        db_index=False,
        db_constraint=False,
    )
    version = models.CharField(max_length=64, blank=True, help_text="Agent version label as reported.")
    model = models.CharField(max_length=200, blank=True)
    operation = models.CharField(max_length=64, blank=True, help_text="gen_ai.operation.name for OTLP spans.")
    variant = models.ForeignKey(
        "improvement.Variant",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="executions",
        db_index=False,
        db_constraint=False,
    )
    build = models.ForeignKey(
        "teammemory.Build",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="executions",
        db_index=False,
        db_constraint=False,
    )
    api_key = models.ForeignKey(
        "crucible.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    source = models.CharField(max_length=10, choices=ExecutionSource.choices, default=ExecutionSource.API)
    trace_id = models.CharField(max_length=32, blank=True)
    span_id = models.CharField(max_length=16, blank=True)
    parent_span_id = models.CharField(max_length=16, blank=True, db_default="", help_text="Empty for a root span.")
    kind = models.CharField(max_length=10, choices=SpanKind.choices, default=SpanKind.AGENT, db_default="agent")
    name = models.CharField(
        max_length=200, blank=True, db_default="", help_text="The span's name (operation and target)."
    )
    attributes = models.JSONField(default=dict, blank=True, db_default=Value({}, output_field=models.JSONField()))
    request_params = models.JSONField(
        default=dict,
        blank=True,
        db_default=Value({}, output_field=models.JSONField()),
        help_text="Model request parameters (temperature, max_tokens, ...).",
    )
    time_to_first_token_ms = models.FloatField(null=True, blank=True)
    session_id = models.CharField(max_length=200, blank=True, db_default="")
    end_user_id = models.CharField(max_length=200, blank=True, db_default="")
    tags = ArrayField(
        models.CharField(max_length=64), default=list, blank=True, db_default=RawSQL("'{}'::varchar[]", [])
    )
    counts_execution = models.BooleanField(
        default=True, db_default=True, help_text="Counted as an execution in rollups (agent spans and root spans)."
    )
    counts_usage = models.BooleanField(
        default=True, db_default=True, help_text="Its tokens and cost are counted in rollups (see Counting once)."
    )
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
    content_hash = models.CharField(
        max_length=32,
        blank=True,
        db_default="",
        help_text="Digest of what a span sent (ids excluded): a resent span id with other content is refused.",
    )
    received_at = models.DateTimeField(auto_now_add=True)

    objects = DeferredRowsQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # Partitioned by month on started_at: a unique key must include it. A retry carries the
            # same start; ingest reads stored ids first (docs/architecture.md, "Partitions").
            models.UniqueConstraint(
                fields=["team", "client_id", "started_at"], name="execution_unique_team_client_started"
            ),
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
            # An agent's runs. It also holds what sorts them by duration or cost, the id and the
            # status: the agent's slowest or costliest page, its failed ones too, reads its ids from
            # this index alone, then 50 rows (AGENT_INDEXED_SORTS; crucible.querysets.
            # DeferredRowsQuerySet); and the marketplace agent its recent runs were linked to
            # (MARKETPLACE_AGENT_SQL), null for most spans.
            models.Index(
                fields=["team", "agent_name", "started_at"],
                include=(*AGENT_INDEXED_SORTS, "id", "agent", "status"),
                name="execution_team_agent_started",
            ),
            # Retention deletes by age across teams: a BRIN index is tiny and nearly free to keep.
            BrinIndex(fields=["started_at"], name="execution_started_brin"),
            # A list narrowed by a model, a version or a source few or no runs have: a bloom filter
            # of each block range's values (128 pages), so the read visits only the ranges that may
            # hold the value, not every run of the team (1.1-1.7 s at 10 million for a value none
            # has; 2 ms with it). A BRIN index costs an insert next to nothing: new rows land in a
            # range not yet summarized, which autovacuum summarizes once it is full
            # (autosummarize); until then a read visits it whole (docs/observability.md, "Sorting by
            # duration or cost": "A model, a version or a source few or no runs have").
            BrinIndex(
                fields=["team", *BLOOM_VALUE_FIELDS],
                opclasses=["int8_bloom_ops", *["text_bloom_ops"] * len(BLOOM_VALUE_FIELDS)],
                autosummarize=True,
                name="execution_values_bloom",
            ),
            # A trace's spans by trace id (span ingest, the tree): a hash index costs a COPY about
            # half what the (team, trace_id) btree did (random 32-character keys split btree pages
            # all over; a hash entry is 4 bytes); readers ask by equality only (docs/observability.md,
            # "Index cost"). Queries with trace_id = ANY(...) say trace_id <> '' too: the planner
            # proves the partial predicate from an array of at most 100 ids only.
            HashIndex(fields=["trace_id"], name="execution_trace_hash", condition=~Q(trace_id="")),
            # Mostly-null links: partial indexes cost nothing to a row without them and still serve
            # the ON DELETE SET NULL of an agent, version, variant, build or API key.
            *[
                models.Index(fields=[name], name=f"execution_{name}", condition=Q(**{f"{name}__isnull": False}))
                for name in ("agent", "agent_version", "variant", "build", "api_key")
            ],
            # The list sorted by duration or cost over all its executions: each partition's index read
            # in order, merged and cut at the page. Partial on a condition every row meets (the
            # duration check), so only a query that states it reads them: the list does when it is
            # not narrowed by a column these indexes cannot check (ExecutionFilterSet; docs/
            # observability.md, "Sorting by duration or cost"). Cost has many ties (a model's price
            # times the same tokens): its index ends with the id that breaks them; unpriced sorts lowest.
            models.Index(fields=["team", "duration_ms"], name="execution_team_duration", condition=SORT_INDEXED),
            models.Index(
                F("team"),
                OrderBy(F("cost"), nulls_first=True),
                F("id"),
                name="execution_team_cost",
                condition=SORT_INDEXED,
            ),
            # Alert rules scoped by a tag read the tagged executions of a window (rollups have no tags).
            models.Index(fields=["team", "started_at"], name="execution_team_tagged", condition=~Q(tags=[])),
            # The list narrowed by an error type: a type few of the team's runs have, or none, walked
            # the newest-first index past every other run (a 503 at 10 million). Partial on the runs
            # with an error type (every failed run has one; ingest names it "error" when the client
            # does not): a run without one pays nothing (docs/observability.md, "Sorting by duration
            # or cost", "Narrowing by a rare value").
            models.Index(
                fields=["team", "error_type", "started_at"], name="execution_team_error_type", condition=ERROR_TYPED
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent_name} {self.started_at:%Y-%m-%d %H:%M:%S} {self.status}"

    @property
    def unpriced(self) -> bool:
        return self.cost is None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class SpanPayload(models.Model):
    """A span's input and output, after redaction and truncation; stored compressed (TOAST) and
    kept ``PAYLOAD_RETENTION_DAYS``, which may be shorter than the span's own retention."""

    # Database key (execution_id, team_id, started_at), its span's; no foreign-key constraint (a
    # span partition could not be dropped without checking every payload against it).
    execution = models.OneToOneField(
        Execution, primary_key=True, on_delete=models.CASCADE, related_name="payload", db_constraint=False
    )
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
    started_at = models.DateTimeField(help_text="The span's start, copied for retention and search windows.")
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    input_truncated = models.BooleanField(default=False)
    output_truncated = models.BooleanField(default=False)
    redacted = models.BooleanField(default=False, help_text="A redaction rule replaced part of the payload.")

    class Meta:
        indexes = [models.Index(fields=["team", "started_at"], name="spanpayload_team_started")]

    def __str__(self) -> str:
        return f"payload of span {self.execution_id}"


class Trace(models.Model):
    """One trace's summary, upserted as its spans arrive (in any order, in any request)."""

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
    trace_id = models.CharField(max_length=32)
    root_span_id = models.CharField(max_length=16, blank=True, help_text="Empty until the root span arrives.")
    name = models.CharField(max_length=200, blank=True, help_text="The root span's name.")
    agent_name = models.CharField(max_length=200, blank=True)
    agent_id = models.BigIntegerField(null=True, blank=True, help_text="marketplace Agent id, if linked.")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    duration_ms = models.FloatField(default=0, help_text="ended_at - started_at, kept by the upsert.")
    status = models.CharField(max_length=10, choices=ExecutionStatus.choices, default=ExecutionStatus.SUCCESS)
    span_count = models.IntegerField(default=0)
    error_count = models.IntegerField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=SUM_MONEY_DIGITS, decimal_places=8, default=0)
    session_id = models.CharField(max_length=200, blank=True)
    end_user_id = models.CharField(max_length=200, blank=True)
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["team", "trace_id"], name="trace_unique_team_trace")]
        indexes = [
            models.Index(fields=["team", "started_at"], name="trace_team_started"),
            # One agent's traces (the traces, sessions and users pages' agent filter): without it
            # the list walked the team's traces newest first, past every other agent's.
            models.Index(fields=["team", "agent_name", "started_at"], name="trace_team_agent"),
            # The failed traces, newest first: a team whose traces rarely fail had its list of them
            # walk past every trace that did not; holds only those (TRACE_FAILED_SQL).
            models.Index(fields=["team", "started_at"], name="trace_team_failed", condition=TRACE_FAILED),
            # The traces with a tag (the traces list's tag filter): without it a tag few traces have
            # walked the team's traces newest first. The team is a key too (btree_gin), so a tag
            # other teams use often does not read their traces; only tagged traces are held
            # (TRACE_TAGGED_SQL). The planner still walks the team's traces for a common tag.
            GinIndex(fields=["team", "tags"], name="trace_team_tags", condition=TRACE_TAGGED),
            models.Index(
                fields=["team", "session_id", "started_at"],
                name="trace_team_session",
                condition=~Q(session_id=""),
            ),
            models.Index(
                fields=["team", "end_user_id", "started_at"],
                name="trace_team_user",
                condition=~Q(end_user_id=""),
            ),
            # The list sorted by each of these (pages and API): read in order and stopped at the page,
            # the id breaking ties (most traces have no error and the same span count) in the order
            # of the keyset cursor (crucible.api.pagination.CursorPagination) and the pages. Partial
            # on a condition every trace meets, read only by a list that states it
            # (TRACE_SORT_INDEXED_SQL): not one narrowed by an agent, a session or a user.
            *(
                models.Index(fields=["team", field, "id"], name=f"trace_team_{name}", condition=TRACE_SORT_INDEXED)
                for field, name in (
                    ("duration_ms", "duration"),
                    ("cost", "cost"),
                    ("span_count", "spans"),
                    ("error_count", "errors"),
                )
            ),
        ]

    def __str__(self) -> str:
        return f"trace {self.trace_id}"


class RedactionRule(models.Model):
    """A team's own redaction rule: matches of ``pattern`` (a regular expression) in span inputs,
    outputs and attributes are replaced by ``replacement`` at ingest, before anything is stored.
    The built-in rules (API keys and tokens, e-mail addresses, card numbers) always apply."""

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=200)
    pattern = models.CharField(max_length=500, help_text="A Python regular expression.")
    replacement = models.CharField(max_length=200, default="[REDACTED]")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="redactionrule_unique_team_name")]

    def __str__(self) -> str:
        return self.name


class RollupBase(models.Model):
    """Aggregates of executions per (team, period, agent, model, version, status)."""

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
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
    # Quality (0..100) of the executions that report one: the alert rules' average quality.
    quality_sum = models.FloatField(default=0, db_default=0, help_text="Sum of the qualities reported.")
    quality_count = models.BigIntegerField(default=0, db_default=0, help_text="Executions that report a quality.")

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


class MinuteRollup(RollupBase):
    """Executions per (minute, agent, model, version, status), for the edges of alert windows, and
    the team's total per (minute, status) (agent, model and version empty) for the live view
    (``observability.minutes``). Kept ``CRUCIBLE_OBS_MINUTE_RETENTION_HOURS``."""

    class Meta:
        ordering = ["-bucket"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "bucket", "agent_name", "model", "version", "status"], name="minuterollup_unique_key"
            )
        ]


class BlockRollupBase(models.Model):
    """What day and hour blocks hold (``observability.blocks``): per block and (agent, model,
    version), the sums, success count and histogram of the rollups it compacts (without status),
    and the first and last day or hour with executions. A block starts at its ``<UNIT>`` column
    and lasts ``<UNIT>s`` units."""

    UNIT = ""  # "day" or "hour"

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
    total = models.BooleanField(
        default=False, help_text="The team's whole days or hours: agent, model and version empty."
    )
    windowed = models.BooleanField(
        db_default=False,  # raw INSERTs of aligned blocks leave it out
        help_text="A window block: the closed days or hours of a standard period's span, from its first unit "
        "(not aligned on its length; observability.windows).",
    )
    agent_name = models.CharField(max_length=200, blank=True)
    model = models.CharField(max_length=200, blank=True)
    version = models.CharField(max_length=64, blank=True)
    first_seen = models.DateTimeField(help_text="First day or hour of the block with executions.")
    last_seen = models.DateTimeField(help_text="Last day or hour of the block with executions.")
    executions = models.BigIntegerField(default=0)
    successes = models.BigIntegerField(default=0)
    duration_sum_ms = models.FloatField(default=0)
    duration_max_ms = models.FloatField(default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cached_input_tokens = models.BigIntegerField(default=0)
    reasoning_tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=SUM_MONEY_DIGITS, decimal_places=8, default=0)
    unpriced = models.BigIntegerField(default=0)
    hist = ArrayField(models.BigIntegerField(), size=histogram.BUCKETS)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        start, length = getattr(self, self.UNIT), getattr(self, f"{self.UNIT}s")
        return f"{self.agent_name or '(all agents)'} {self.model} {self.version} {start:%Y-%m-%d %H:%M} +{length}{self.UNIT[0]}"


def _block_meta(unit: str) -> type:
    """A block table's Meta: newest first; one row per (team, first unit, length, total, agent,
    model, version)."""

    class Meta:
        ordering = [f"-{unit}"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", unit, f"{unit}s", "total", "agent_name", "model", "version"],
                name=f"{unit}blockrollup_unique_key",
            )
        ]

    return Meta


class DayBlockRollup(BlockRollupBase):
    """Closed UTC days compacted for the long dashboards (``observability.blocks``): per (team,
    first day, block length in days, agent, model, version) the sums of the daily rollups, success
    count and histogram, without status; ``total`` rows (agent, model and version empty) hold the
    team's whole day. Built by a periodic job from the daily rollups, never at ingest; a database
    trigger deletes every block whose days' daily rollups change, so a block is exact or absent."""

    UNIT = "day"
    day = models.DateTimeField(help_text="First day of the block (UTC midnight).")
    days = models.PositiveSmallIntegerField(
        default=1, help_text="Length of the block in days (1, 2, 4, 8 or 16; a window up to 31)."
    )
    Meta = _block_meta("day")


class HourBlockRollup(BlockRollupBase):
    """Closed UTC hours compacted like the days (``observability.blocks``), from the hourly rollups;
    ``total`` rows (agent, model and version empty) hold the team's whole hours. Exact or absent,
    as day blocks."""

    UNIT = "hour"
    hour = models.DateTimeField(help_text="First hour of the block (UTC).")
    hours = models.PositiveSmallIntegerField(
        default=1, help_text="Length of the block in hours (1, 2, 4, 8 or 16; a window up to 31)."
    )
    Meta = _block_meta("hour")


class ErrorRollup(models.Model):
    """Failed executions per (team, hour, agent, error type): errors by type without raw rows."""

    id = models.BigAutoField(primary_key=True)
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+", db_index=False)
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
