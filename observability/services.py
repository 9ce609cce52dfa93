"""Observability writes: ingest executions (batch API, OTLP, build reports), rebuild rollups,
purge old raw rows.

Ingest hot path (``executions_ingest``), per batch:
1. validate every event in Python (no query per event), resolve the few distinct agent and
   variant references, price each event from one in-memory price book;
2. one indexed lookup of the batch's client ids, then ``COPY`` of the new rows; if a concurrent
   batch stored one of the same ids in between, the savepoint is rolled back and the rows go
   through ``INSERT ... SELECT FROM unnest(arrays) ON CONFLICT (team, client_id) DO NOTHING
   RETURNING client_id`` instead (retried events are duplicates either way);
3. aggregate the rows that were really inserted in one Python pass and apply them with one
   ``INSERT ... ON CONFLICT DO UPDATE`` per rollup table (hourly, daily, errors), adding counts,
   sums and the histogram element-wise, so concurrent batches stay exact;
4. hand results of executions that name a prompt variant to the improvement app.
All of it in one transaction: a failure stores nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from observability import conf, histogram
from observability.models import ExecutionSource
from observability.pricing import PriceBook

MAX_DURATION_MS = 7 * 24 * 3600 * 1000.0  # a week
MAX_TOKENS = 10**12
MAX_COST = Decimal("1000000")
MAX_ERROR_MESSAGE = 10_000
HEX = set("0123456789abcdefABCDEF")

EVENT_FIELDS = {
    "id",
    "agent",
    "agent_ref",
    "agent_version",
    "model",
    "operation",
    "variant_id",
    "trace_id",
    "span_id",
    "started_at",
    "duration_ms",
    "status",
    "error_type",
    "error_message",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "cost",
    "quality",
}
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens")


class EventError(Exception):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def _text(event, name, *, max_length, required=False, default=""):
    value = event.get(name)
    if value is None:
        if required:
            raise EventError(name, "This field is required.")
        return default
    if not isinstance(value, str):
        raise EventError(name, "Must be a string.")
    value = value.strip()
    if required and not value:
        raise EventError(name, "This field may not be blank.")
    if len(value) > max_length:
        raise EventError(name, f"At most {max_length} characters.")
    if "\x00" in value:
        raise EventError(name, "Must not contain NUL characters.")
    return value


def _count(event, name):
    value = event.get(name, 0)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise EventError(name, "Must be a whole number.")
    if value < 0:
        raise EventError(name, "Must not be negative.")
    if value > MAX_TOKENS:
        raise EventError(name, f"At most {MAX_TOKENS}.")
    return value


def _number(event, name, *, low, high, required=False):
    value = event.get(name)
    if value is None:
        if required:
            raise EventError(name, "This field is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise EventError(name, "Must be a number.")
    value = float(value)
    if not math.isfinite(value):
        raise EventError(name, "Must be a finite number.")
    if value < low:
        raise EventError(name, "Must not be negative." if low == 0 else f"Must be at least {low}.")
    if value > high:
        raise EventError(name, f"Must be at most {high:g}.")
    return value


def _hex_id(event, name, length):
    value = _text(event, name, max_length=length)
    if value and not set(value) <= HEX:
        raise EventError(name, "Must be hexadecimal.")
    return value.lower()


def parse_timestamp(value, field="started_at"):
    if not isinstance(value, str):
        raise EventError(field, "Must be an ISO 8601 timestamp string with a time zone.")
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise EventError(field, "Not a valid ISO 8601 timestamp.")
    if when.tzinfo is None:
        raise EventError(field, "The timestamp needs a time zone (e.g. 'Z' or '+00:00').")
    return when.astimezone(dt.UTC)


def _validate_event(event, *, now, oldest, newest):
    """One event -> a dict of clean values, or EventError naming the first bad field."""
    if not isinstance(event, dict):
        raise EventError("non_field_errors", "Each event must be a JSON object.")
    unknown = [key for key in event if key not in EVENT_FIELDS]
    if unknown:
        raise EventError(str(sorted(map(str, unknown))[0]), "Unknown field.")
    client_id = _text(event, "id", max_length=200, required=True)
    agent_ref = event.get("agent_ref")
    if agent_ref is not None:
        if (
            isinstance(agent_ref, bool)
            or not isinstance(agent_ref, (str, int))
            or (isinstance(agent_ref, str) and not agent_ref.strip())
        ):
            raise EventError("agent_ref", "Must be an agent id, 'slug' or 'team-slug/slug'.")
        agent_ref = str(agent_ref).strip()
    agent = _text(event, "agent", max_length=200, required=agent_ref is None)
    started_at = parse_timestamp(event.get("started_at")) if "started_at" in event else None
    if started_at is None:
        raise EventError("started_at", "This field is required.")
    if started_at > newest:
        raise EventError("started_at", f"Is more than {conf.MAX_FUTURE_SECONDS} seconds in the future.")
    if started_at < oldest:
        raise EventError("started_at", f"Is older than the retention period ({conf.RETENTION_DAYS} days).")
    duration = _number(event, "duration_ms", low=0, high=MAX_DURATION_MS, required=True)
    status = event.get("status", "success")
    if status not in ("success", "error"):
        raise EventError("status", "Must be 'success' or 'error'.")
    tokens = {name: _count(event, name) for name in TOKEN_FIELDS}
    if tokens["cached_input_tokens"] > tokens["input_tokens"]:
        raise EventError("cached_input_tokens", "Cannot exceed input_tokens (input tokens include cached ones).")
    if tokens["reasoning_tokens"] > tokens["output_tokens"]:
        raise EventError("reasoning_tokens", "Cannot exceed output_tokens (output tokens include reasoning ones).")
    cost = event.get("cost")
    if cost is not None:
        if isinstance(cost, bool) or not isinstance(cost, (int, float, str)):
            raise EventError("cost", "Must be a number.")
        try:
            cost = Decimal(str(cost))
        except InvalidOperation:
            raise EventError("cost", "Must be a number.")
        if not cost.is_finite():
            raise EventError("cost", "Must be a finite number.")
        if cost < 0:
            raise EventError("cost", "Must not be negative.")
        if cost > MAX_COST:
            raise EventError("cost", f"Must be at most {MAX_COST}.")
        cost = cost.quantize(Decimal("0.00000001"))
    variant_id = event.get("variant_id")
    if variant_id is not None and (isinstance(variant_id, bool) or not isinstance(variant_id, int) or variant_id <= 0):
        raise EventError("variant_id", "Must be a positive whole number.")
    error_type = _text(event, "error_type", max_length=200)
    error_message = _text(event, "error_message", max_length=MAX_ERROR_MESSAGE)
    if status == "error" and not error_type:
        error_type = "error"
    return {
        "client_id": client_id,
        "agent_name": agent,
        "agent_ref": agent_ref,
        "version": _text(event, "agent_version", max_length=64),
        "model": _text(event, "model", max_length=200),
        "operation": _text(event, "operation", max_length=64),
        "variant_id": variant_id,
        "trace_id": _hex_id(event, "trace_id", 32),
        "span_id": _hex_id(event, "span_id", 16),
        "started_at": started_at,
        "duration_ms": duration,
        "status": status,
        "error_type": error_type,
        "error_message": error_message,
        **tokens,
        "cost": cost,
        "quality": _number(event, "quality", low=0, high=100),
    }


def _resolve_agents(team, rows, errors):
    """Marketplace agents and versions by reference (one query for all the batch's agents, one for
    their versions)."""
    refs = {row["agent_ref"] for row in rows.values() if row["agent_ref"] is not None}
    if not refs:
        return
    from marketplace import selectors as marketplace_selectors

    agents = marketplace_selectors.agents_for_team_bulk(team=team, refs=refs)  # one query for the batch
    versions = marketplace_selectors.versions_for_agents_bulk(
        pairs={
            (agents[r["agent_ref"]], r["version"]) for r in rows.values() if r["agent_ref"] in agents and r["version"]
        }
    )
    for index, row in list(rows.items()):
        ref = row["agent_ref"]
        if ref is None:
            continue
        agent = agents.get(ref)
        if agent is None:
            errors[index] = EventError("agent_ref", f"No agent '{ref}' in this team or the public marketplace.")
            del rows[index]
            continue
        row["agent_id"] = agent.pk
        if not row["agent_name"]:
            row["agent_name"] = agent.slug
        if row["version"]:
            version = versions.get((agent.pk, row["version"]))
            if version is None:
                errors[index] = EventError("agent_version", f"Agent '{ref}' has no version '{row['version']}'.")
                del rows[index]
                continue
            row["agent_version_id"] = version.pk


def _resolve_variants(team, rows, errors):
    ids = {row["variant_id"] for row in rows.values() if row["variant_id"] is not None}
    if not ids:
        return
    from improvement import selectors as improvement_selectors

    known = improvement_selectors.variants_for_team(team=team, ids=sorted(ids))
    for index, row in list(rows.items()):
        if row["variant_id"] is None:
            continue
        variant = known.get(row["variant_id"])
        if variant is None:
            errors[index] = EventError("variant_id", f"No prompt variant {row['variant_id']} in this team.")
        elif getattr(variant, "is_retired", False):
            errors[index] = EventError("variant_id", f"Prompt variant {row['variant_id']} is retired.")
        elif not getattr(variant.experiment, "accepts_results", True):
            errors[index] = EventError(
                "variant_id", f"The experiment of variant {row['variant_id']} takes no results now."
            )
        else:
            continue
        del rows[index]


def _price(rows):
    book = PriceBook.load()
    for row in rows.values():
        if row["cost"] is not None:
            row["cost_source"] = "client"
            continue
        row["cost"] = book.cost(
            model=row["model"],
            on=row["started_at"].date(),
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            cached_input_tokens=row["cached_input_tokens"],
            reasoning_tokens=row["reasoning_tokens"],
        )
        row["cost_source"] = "price" if row["cost"] is not None else "none"


INSERT_SQL = """
INSERT INTO observability_execution (
    team_id, build_id, api_key_id, source, received_at,
    client_id, agent_name, agent_id, agent_version_id, version, model, operation, variant_id,
    trace_id, span_id, started_at, duration_ms, status, error_type, error_message,
    input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost, cost_source, quality)
SELECT %s, %s, %s, %s, now(), t.* FROM unnest(
    %s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::bigint[],
    %s::text[], %s::text[], %s::timestamptz[], %s::float8[], %s::text[], %s::text[], %s::text[],
    %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::numeric[], %s::text[], %s::float8[]
) AS t
ON CONFLICT (team_id, client_id) DO NOTHING
RETURNING client_id
"""
INSERT_COLUMNS = [
    "client_id",
    "agent_name",
    "agent_id",
    "agent_version_id",
    "version",
    "model",
    "operation",
    "variant_id",
    "trace_id",
    "span_id",
    "started_at",
    "duration_ms",
    "status",
    "error_type",
    "error_message",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "cost",
    "cost_source",
    "quality",
]

ROLLUP_UPSERT_SQL = """
INSERT INTO {table} AS r (
    team_id, bucket, agent_name, model, version, status, executions, duration_sum_ms, duration_max_ms,
    input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost, unpriced, hist)
SELECT %s, t.bucket, t.agent_name, t.model, t.version, t.status, t.executions, t.duration_sum_ms,
       t.duration_max_ms, t.input_tokens, t.output_tokens, t.cached_input_tokens, t.reasoning_tokens,
       t.cost, t.unpriced, t.hist::bigint[]
FROM unnest(%s::timestamptz[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::float8[],
            %s::float8[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::numeric[], %s::bigint[],
            %s::text[])
     AS t(bucket, agent_name, model, version, status, executions, duration_sum_ms, duration_max_ms,
          input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost, unpriced, hist)
ON CONFLICT (team_id, bucket, agent_name, model, version, status) DO UPDATE SET
    executions = r.executions + EXCLUDED.executions,
    duration_sum_ms = r.duration_sum_ms + EXCLUDED.duration_sum_ms,
    duration_max_ms = greatest(r.duration_max_ms, EXCLUDED.duration_max_ms),
    input_tokens = r.input_tokens + EXCLUDED.input_tokens,
    output_tokens = r.output_tokens + EXCLUDED.output_tokens,
    cached_input_tokens = r.cached_input_tokens + EXCLUDED.cached_input_tokens,
    reasoning_tokens = r.reasoning_tokens + EXCLUDED.reasoning_tokens,
    cost = r.cost + EXCLUDED.cost,
    unpriced = r.unpriced + EXCLUDED.unpriced,
    hist = ARRAY(SELECT h.a + h.b FROM unnest(r.hist, EXCLUDED.hist) WITH ORDINALITY AS h(a, b, i) ORDER BY h.i)
"""

ERROR_UPSERT_SQL = """
INSERT INTO observability_errorrollup AS r (team_id, bucket, agent_name, error_type, executions)
SELECT %s, t.bucket, t.agent_name, t.error_type, t.executions
FROM unnest(%s::timestamptz[], %s::text[], %s::text[], %s::bigint[]) AS t(bucket, agent_name, error_type, executions)
ON CONFLICT (team_id, bucket, agent_name, error_type) DO UPDATE SET executions = r.executions + EXCLUDED.executions
"""


def _execute(sql: str, params, fetch: bool = False):
    """Run one big statement with server-side parameter binding (psycopg sends the arrays as
    parameters; Django's default client-side binding would quote every element into the SQL
    text in Python, which costs more than the statement itself). Same connection and
    transaction as the ORM."""
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if fetch else None


def _truncate(when: dt.datetime, unit: str) -> dt.datetime:
    if unit == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


EXISTING_SQL = "SELECT client_id FROM observability_execution WHERE team_id = %s AND client_id = ANY(%s::text[])"
COPY_COLUMNS = ["team_id", "build_id", "api_key_id", "source", "received_at", *INSERT_COLUMNS]


def _insert_executions(rows, *, team_id, build_id, api_key_id, source) -> set[str]:
    """Store the rows whose client id the team does not have yet; return the ids stored.

    Fast path: look the ids up (one index probe per id), then COPY the new rows straight into the
    table. If a concurrent batch stored one of the same ids in between, the COPY hits the unique
    constraint; the savepoint is rolled back and the slow path, INSERT ... ON CONFLICT DO NOTHING
    RETURNING, decides row by row."""
    import psycopg

    ids = [row["client_id"] for row in rows]
    existing = {client_id for (client_id,) in _execute(EXISTING_SQL, [team_id, ids], fetch=True)}
    fresh = [row for row in rows if row["client_id"] not in existing]
    if not fresh:
        return set()
    received_at = timezone.now()
    head = (team_id, build_id, api_key_id, source, received_at)
    try:
        with transaction.atomic():
            with psycopg.Cursor(connection.connection) as cursor:
                with cursor.copy(f"COPY observability_execution ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
                    for row in fresh:
                        copy.write_row((*head, *[row[name] for name in INSERT_COLUMNS]))
        return {row["client_id"] for row in fresh}
    except psycopg.errors.UniqueViolation:
        params = [team_id, build_id, api_key_id, source] + [[row[name] for row in fresh] for name in INSERT_COLUMNS]
        return {client_id for (client_id,) in _execute(INSERT_SQL, params, fetch=True)}


def _rollup_deltas(rows, unit):
    groups = {}
    for row in rows:
        key = (_truncate(row["started_at"], unit), row["agent_name"], row["model"], row["version"], row["status"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = [0, 0.0, 0.0, 0, 0, 0, 0, Decimal(0), 0, defaultdict(int)]
        duration = row["duration_ms"]
        group[0] += 1
        group[1] += duration
        if duration > group[2]:
            group[2] = duration
        group[3] += row["input_tokens"]
        group[4] += row["output_tokens"]
        group[5] += row["cached_input_tokens"]
        group[6] += row["reasoning_tokens"]
        if row["cost"] is None:
            group[8] += 1
        else:
            group[7] += row["cost"]
        group[9][histogram.bucket_of(duration)] += 1
    return groups


def _apply_rollups(team_id, rows, table, unit):
    groups = _rollup_deltas(rows, unit)
    if not groups:
        return
    keys = sorted(groups)  # one order for every writer: concurrent batches cannot deadlock
    columns = [[] for _ in range(15)]
    for key in keys:
        g = groups[key]
        dense = [0] * histogram.BUCKETS
        for index, count in g[9].items():
            dense[index] = count
        values = (*key, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], "{" + ",".join(map(str, dense)) + "}")
        for column, value in zip(columns, values):
            column.append(value)
    _execute(ROLLUP_UPSERT_SQL.format(table=table), [team_id, *columns])


def _apply_error_rollups(team_id, rows):
    counts = defaultdict(int)
    for row in rows:
        if row["status"] == "error":
            counts[(_truncate(row["started_at"], "hour"), row["agent_name"], row["error_type"])] += 1
    if not counts:
        return
    keys = sorted(counts)
    _execute(
        ERROR_UPSERT_SQL,
        [team_id, [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys], [counts[k] for k in keys]],
    )


def rollups_apply(*, team_id: int, rows: list[dict]) -> None:
    """Add executions (dicts with the Execution columns) to the hourly, daily and error rollups."""
    _apply_rollups(team_id, rows, "observability_hourlyrollup", "hour")
    _apply_rollups(team_id, rows, "observability_dailyrollup", "day")
    _apply_error_rollups(team_id, rows)


def _feed_variants(team, rows):
    results = [
        {
            "variant_id": row["variant_id"],
            "success": row["status"] == "success",
            "duration_ms": row["duration_ms"],
            "quality": row["quality"],
            "tokens": row["input_tokens"] + row["output_tokens"],
            "cost": float(row["cost"]) if row["cost"] is not None else None,
        }
        for row in rows
        if row["variant_id"] is not None
    ]
    if results:
        from improvement import services as improvement_services

        improvement_services.results_record_bulk(team=team, results=results)


def executions_ingest(*, team, events, build=None, api_key=None, source: str | None = None) -> list[dict]:
    """Store a batch of execution events; return one result per event, in order:
    ``{"index", "id", "status": "stored"|"duplicate"|"error", "field", "message"}``.

    Invalid events are reported and skipped; valid ones are stored (a retried ``id`` is a
    duplicate). Raises ``ValidationError`` only when ``events`` itself is unusable."""
    if not isinstance(events, list):
        raise ValidationError({"events": "Must be a list of events."})
    if len(events) > conf.MAX_BATCH_EVENTS:
        raise ValidationError({"events": f"At most {conf.MAX_BATCH_EVENTS} events per batch."})
    source = source or (ExecutionSource.BUILD if build is not None else ExecutionSource.API)
    now = timezone.now()
    oldest = now - dt.timedelta(days=conf.RETENTION_DAYS)
    newest = now + dt.timedelta(seconds=conf.MAX_FUTURE_SECONDS)

    errors: dict[int, EventError] = {}
    rows: dict[int, dict] = {}
    first_index: dict[str, int] = {}
    in_batch_duplicates: dict[int, int] = {}
    for index, event in enumerate(events):
        try:
            row = _validate_event(event, now=now, oldest=oldest, newest=newest)
        except EventError as exc:
            errors[index] = exc
            continue
        if row["client_id"] in first_index:
            in_batch_duplicates[index] = first_index[row["client_id"]]
            continue
        first_index[row["client_id"]] = index
        row["agent_id"] = None
        row["agent_version_id"] = None
        rows[index] = row

    with transaction.atomic():
        _resolve_agents(team, rows, errors)
        _resolve_variants(team, rows, errors)
        _price(rows)
        stored_ids: set[str] = set()
        if rows:
            ordered = sorted(rows.values(), key=lambda r: r["client_id"])
            stored_ids = _insert_executions(
                ordered,
                team_id=team.pk,
                build_id=build.pk if build is not None else None,
                api_key_id=api_key.pk if api_key is not None else None,
                source=str(source),
            )
            stored_rows = [row for row in ordered if row["client_id"] in stored_ids]
            rollups_apply(team_id=team.pk, rows=stored_rows)
            _feed_variants(team, stored_rows)

    results = []
    for index, event in enumerate(events):
        client_id = event.get("id") if isinstance(event, dict) else None
        result = {"index": index, "id": client_id if isinstance(client_id, str) else None}
        if index in errors:
            result.update(status="error", field=errors[index].field, message=errors[index].message)
        elif index in in_batch_duplicates:
            result.update(status="duplicate", message=f"Same id as event {in_batch_duplicates[index]} of this batch.")
        elif rows[index]["client_id"] in stored_ids:
            result.update(status="stored")
        else:
            result.update(status="duplicate", message="An event with this id was stored before.")
        results.append(result)
    return results


# --- Rollup rebuild and retention ---------------------------------------------------------

ROLLUP_FROM_RAW_SQL = """
SELECT team_id, bucket, agent_name, model, version, status, sum(n) AS executions, sum(dsum) AS duration_sum_ms,
       max(dmax) AS duration_max_ms, sum(i) AS input_tokens, sum(o) AS output_tokens,
       sum(c) AS cached_input_tokens, sum(r) AS reasoning_tokens, sum(cost) AS cost, sum(unpriced) AS unpriced,
       observability_hist_dense(array_agg(b), array_agg(n)) AS hist
FROM (
    SELECT team_id, date_trunc('{unit}', started_at, 'UTC') AS bucket, agent_name, model, version, status,
           observability_hist_bucket(duration_ms) AS b, count(*) AS n, sum(duration_ms) AS dsum,
           max(duration_ms) AS dmax, sum(input_tokens) AS i, sum(output_tokens) AS o,
           sum(cached_input_tokens) AS c, sum(reasoning_tokens) AS r, coalesce(sum(cost), 0) AS cost,
           count(*) FILTER (WHERE cost IS NULL) AS unpriced
    FROM observability_execution
    WHERE started_at >= %s AND started_at < %s {team_filter}
    GROUP BY 1, 2, 3, 4, 5, 6, 7
) per_bucket
GROUP BY team_id, bucket, agent_name, model, version, status
"""

REBUILD_SQL = (
    "INSERT INTO {table} (team_id, bucket, agent_name, model, version, status, executions, duration_sum_ms, "
    "duration_max_ms, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost, unpriced, hist)"
    + ROLLUP_FROM_RAW_SQL
)

REBUILD_ERRORS_SQL = """
INSERT INTO observability_errorrollup (team_id, bucket, agent_name, error_type, executions)
SELECT team_id, date_trunc('hour', started_at, 'UTC'), agent_name, error_type, count(*)
FROM observability_execution
WHERE status = 'error' AND started_at >= %s AND started_at < %s {team_filter}
GROUP BY 1, 2, 3, 4
"""

ROLLUP_TABLES = (("observability_hourlyrollup", "hour"), ("observability_dailyrollup", "day"))


def whole_days(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Widen [start, end) to whole UTC days (daily rollups cannot be rebuilt in part)."""
    start = start.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end_utc = end.astimezone(dt.UTC)
    end_day = end_utc.replace(hour=0, minute=0, second=0, microsecond=0)
    if end_day < end_utc:
        end_day += dt.timedelta(days=1)
    return start, end_day


@transaction.atomic
def rollups_rebuild(*, start: dt.datetime, end: dt.datetime, team=None) -> dict:
    """Recompute the rollups of [start, end) (widened to whole UTC days) from raw executions.
    Rollups of that period are deleted and written again in one transaction."""
    start, end = whole_days(start, end)
    team_filter = "AND team_id = %s" if team is not None else ""
    extra = [team.pk] if team is not None else []
    counts = {}
    with connection.cursor() as cursor:
        for table, unit in ROLLUP_TABLES:
            cursor.execute(
                f"DELETE FROM {table} WHERE bucket >= %s AND bucket < %s {team_filter}", [start, end, *extra]
            )
            cursor.execute(REBUILD_SQL.format(table=table, unit=unit, team_filter=team_filter), [start, end, *extra])
            counts[table] = cursor.rowcount
        cursor.execute(
            f"DELETE FROM observability_errorrollup WHERE bucket >= %s AND bucket < %s {team_filter}",
            [start, end, *extra],
        )
        cursor.execute(REBUILD_ERRORS_SQL.format(team_filter=team_filter), [start, end, *extra])
        counts["observability_errorrollup"] = cursor.rowcount
    return {"start": start, "end": end, "rows": counts}


def executions_purge(*, days: int | None = None, batch_size: int = 50_000) -> int:
    """Delete raw executions that started more than ``days`` (default RETENTION_DAYS) ago, in
    batches (short transactions). Rollups are kept. Returns the number deleted."""
    days = conf.RETENTION_DAYS if days is None else days
    if days < 1:
        raise ValidationError({"days": "Must be at least 1."})
    cutoff = timezone.now() - dt.timedelta(days=days)
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM observability_execution WHERE id IN ("
                " SELECT id FROM observability_execution WHERE started_at < %s LIMIT %s)",
                [cutoff, batch_size],
            )
            count = cursor.rowcount
        deleted += count
        if count < batch_size:
            return deleted
