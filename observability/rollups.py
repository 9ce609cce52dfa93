"""Rollups of executions: the hourly, daily and error tables the dashboards read.

``rollups_apply`` adds the executions a batch really inserted, with one ``INSERT ... ON CONFLICT
DO UPDATE`` per table (counts, sums and the histogram added element-wise, so concurrent batches
stay exact); ``rollups_rebuild`` recomputes a period from the raw rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import transaction

from crucible import sql  # Django's cursor (client-side binding): the rebuild statements
from observability import histogram
from observability.blocks import day_blocks_compact
from observability.evidence_feed import evidence_rebuild
from observability.minutes import minute_rollups_apply, minute_rollups_rebuild
from observability.sql import execute  # server-side binding: the array upserts

ROLLUP_UPSERT_SQL = """
INSERT INTO {table} AS r (
    team_id, bucket, agent_name, model, version, status, executions, duration_sum_ms, duration_max_ms,
    input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost, unpriced, hist)
SELECT %(team)s, t.bucket, t.agent_name, t.model, t.version, t.status, t.executions, t.duration_sum_ms,
       t.duration_max_ms, t.input_tokens, t.output_tokens, t.cached_input_tokens, t.reasoning_tokens,
       t.cost, t.unpriced, t.hist::bigint[]
FROM unnest(%(bucket)s::timestamptz[], %(agent_name)s::text[], %(model)s::text[], %(version)s::text[],
            %(status)s::text[], %(executions)s::bigint[], %(duration_sum_ms)s::float8[],
            %(duration_max_ms)s::float8[], %(input_tokens)s::bigint[], %(output_tokens)s::bigint[],
            %(cached_input_tokens)s::bigint[], %(reasoning_tokens)s::bigint[], %(cost)s::numeric[],
            %(unpriced)s::bigint[], %(hist)s::text[])
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

EMPTY_ROWS_SQL = """
DELETE FROM {table} WHERE team_id = %(team)s AND bucket = ANY(%(bucket)s::timestamptz[]) AND executions = 0
  AND input_tokens = 0 AND output_tokens = 0 AND cost = 0 AND unpriced = 0
"""

ERROR_UPSERT_SQL = """
INSERT INTO observability_errorrollup AS r (team_id, bucket, agent_name, error_type, executions)
SELECT %(team)s, t.bucket, t.agent_name, t.error_type, t.executions
FROM unnest(%(bucket)s::timestamptz[], %(agent_name)s::text[], %(error_type)s::text[], %(executions)s::bigint[])
     AS t(bucket, agent_name, error_type, executions)
ON CONFLICT (team_id, bucket, agent_name, error_type) DO UPDATE SET executions = r.executions + EXCLUDED.executions
"""

# The arrays of ROLLUP_UPSERT_SQL, in the order of its unnest (each is a named parameter).
ROLLUP_ARRAYS = (
    "bucket",
    "agent_name",
    "model",
    "version",
    "status",
    "executions",
    "duration_sum_ms",
    "duration_max_ms",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "cost",
    "unpriced",
    "hist",
)


def _truncate(when: dt.datetime, unit: str) -> dt.datetime:
    if unit == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def _reports_usage(row) -> bool:
    return row["input_tokens"] + row["output_tokens"] > 0 or (row["cost"] is not None and row["cost"] > 0)


def _counts_unpriced(row) -> bool:
    """An unpriced item: usage counted here with no price; a span that is not an execution and
    reports no tokens has nothing to price."""
    if not row.get("counts_usage", True) or row["cost"] is not None:
        return False
    return row.get("counts_execution", True) or row["input_tokens"] + row["output_tokens"] > 0


def _rollup_deltas(rows, unit, sign=1):
    """Per rollup key, what ``rows`` add (``sign=-1``: take away). A span adds an execution (its
    duration and histogram) when ``counts_execution``, its tokens and cost when ``counts_usage``
    (see docs/observability.md, "Counting once"); a row without the flags counts both."""
    groups = {}
    for row in rows:
        counts_execution = row.get("counts_execution", True)
        counts_usage = row.get("counts_usage", True)
        if not counts_execution and not (counts_usage and _reports_usage(row)):
            continue  # adds nothing: no rollup row for it (the rebuild's WHERE says the same)
        key = (_truncate(row["started_at"], unit), row["agent_name"], row["model"], row["version"], row["status"])
        group = groups.get(key)
        if group is None:
            group = groups[key] = [0, 0.0, 0.0, 0, 0, 0, 0, Decimal(0), 0, defaultdict(int)]
        if counts_execution:
            duration = row["duration_ms"]
            group[0] += sign
            group[1] += sign * duration
            if duration > group[2]:
                group[2] = duration
            group[9][histogram.bucket_of(duration)] += sign
        if counts_usage:
            group[3] += sign * row["input_tokens"]
            group[4] += sign * row["output_tokens"]
            group[5] += sign * row["cached_input_tokens"]
            group[6] += sign * row["reasoning_tokens"]
            if row["cost"] is not None:
                group[7] += sign * row["cost"]
        if _counts_unpriced(row):
            group[8] += sign
    return groups


def _apply_rollups(team_id, rows, table, unit, uncounted_usage=()):
    groups = _rollup_deltas(rows, unit)
    for row in uncounted_usage:  # usage that stops counting: tokens, cost and unpriced taken away
        if not _reports_usage(row) and not _counts_unpriced(row):
            continue
        key = (_truncate(row["started_at"], unit), row["agent_name"], row["model"], row["version"], row["status"])
        group = groups.setdefault(key, [0, 0.0, 0.0, 0, 0, 0, 0, Decimal(0), 0, defaultdict(int)])
        group[3] -= row["input_tokens"]
        group[4] -= row["output_tokens"]
        group[5] -= row["cached_input_tokens"]
        group[6] -= row["reasoning_tokens"]
        group[7] -= row["cost"] or 0
        group[8] -= 1 if _counts_unpriced(row) else 0
    if not groups:
        return
    keys = sorted(groups)  # one order for every writer: concurrent batches cannot deadlock
    columns = {name: [] for name in ROLLUP_ARRAYS}
    for key in keys:
        g = groups[key]
        dense = [0] * histogram.BUCKETS
        for index, count in g[9].items():
            dense[index] = count
        values = (*key, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], "{" + ",".join(map(str, dense)) + "}")
        for name, value in zip(ROLLUP_ARRAYS, values, strict=True):
            columns[name].append(value)
    execute(ROLLUP_UPSERT_SQL.format(table=table), {"team": team_id, **columns})
    if uncounted_usage:  # a row left with nothing in it is no row (as a rebuild would leave it)
        execute(EMPTY_ROWS_SQL.format(table=table), {"team": team_id, "bucket": sorted({k[0] for k in keys})})


def _apply_error_rollups(team_id, rows):
    counts = defaultdict(int)
    for row in rows:
        if row["status"] == "error" and row.get("counts_execution", True):
            counts[(_truncate(row["started_at"], "hour"), row["agent_name"], row["error_type"])] += 1
    if not counts:
        return
    keys = sorted(counts)
    execute(
        ERROR_UPSERT_SQL,
        {
            "team": team_id,
            "bucket": [k[0] for k in keys],
            "agent_name": [k[1] for k in keys],
            "error_type": [k[2] for k in keys],
            "executions": [counts[k] for k in keys],
        },
    )


def rollups_apply(*, team_id: int, rows: list[dict], uncounted_usage: list[dict] = ()) -> None:
    """Add executions (dicts with the Execution columns) to the hourly, daily and error rollups.
    ``uncounted_usage``: stored spans whose tokens and cost stop counting (a trace's first LLM
    span arrived): their usage is taken away in the same statements (negative deltas)."""
    for table, unit in (("observability_hourlyrollup", "hour"), ("observability_dailyrollup", "day")):
        _apply_rollups(team_id, rows, table, unit, uncounted_usage)
    _apply_error_rollups(team_id, rows)
    minute_rollups_apply(team_id=team_id, rows=rows, uncounted_usage=uncounted_usage)


# --- Rebuild from raw executions ----------------------------------------------------------

ROLLUP_FROM_RAW_SQL = """
SELECT team_id, bucket, agent_name, model, version, status, sum(n) AS executions, sum(dsum) AS duration_sum_ms,
       max(dmax) AS duration_max_ms, sum(i) AS input_tokens, sum(o) AS output_tokens,
       sum(c) AS cached_input_tokens, sum(r) AS reasoning_tokens, sum(cost) AS cost, sum(unpriced) AS unpriced,
       observability_hist_dense(array_agg(b), array_agg(n)) AS hist
FROM (
    SELECT team_id, date_trunc('{unit}', started_at, 'UTC') AS bucket, agent_name, model, version, status,
           observability_hist_bucket(duration_ms) AS b, count(*) FILTER (WHERE counts_execution) AS n,
           coalesce(sum(duration_ms) FILTER (WHERE counts_execution), 0) AS dsum,
           coalesce(max(duration_ms) FILTER (WHERE counts_execution), 0) AS dmax,
           coalesce(sum(input_tokens) FILTER (WHERE counts_usage), 0) AS i,
           coalesce(sum(output_tokens) FILTER (WHERE counts_usage), 0) AS o,
           coalesce(sum(cached_input_tokens) FILTER (WHERE counts_usage), 0) AS c,
           coalesce(sum(reasoning_tokens) FILTER (WHERE counts_usage), 0) AS r,
           coalesce(sum(cost) FILTER (WHERE counts_usage), 0) AS cost,
           count(*) FILTER (WHERE counts_usage AND cost IS NULL
                            AND (counts_execution OR input_tokens + output_tokens > 0)) AS unpriced
    FROM observability_execution
    WHERE started_at >= %(start)s AND started_at < %(end)s {team_filter}
      AND (counts_execution OR (counts_usage AND (input_tokens + output_tokens > 0 OR coalesce(cost, 0) > 0)))
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
WHERE status = 'error' AND counts_execution AND started_at >= %(start)s AND started_at < %(end)s {team_filter}
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
    team_filter = "AND team_id = %(team)s" if team is not None else ""
    params = {"start": start, "end": end} | ({"team": team.pk} if team is not None else {})
    counts = {}
    for table, unit in ROLLUP_TABLES:
        sql.execute(f"DELETE FROM {table} WHERE bucket >= %(start)s AND bucket < %(end)s {team_filter}", params)
        counts[table] = sql.execute(REBUILD_SQL.format(table=table, unit=unit, team_filter=team_filter), params)
    sql.execute(
        f"DELETE FROM observability_errorrollup WHERE bucket >= %(start)s AND bucket < %(end)s {team_filter}", params
    )
    counts["observability_errorrollup"] = sql.execute(REBUILD_ERRORS_SQL.format(team_filter=team_filter), params)
    # The marketplace's version evidence is a rollup of the same rows.
    counts["marketplace_versionevidencedaily"] = evidence_rebuild(start=start, end=end, team=team)
    # The rebuild deleted the blocks of its closed days (trigger): build them again.
    counts["observability_dayblockrollup"] = day_blocks_compact(team=team, since=start)
    counts["observability_minuterollup"] = minute_rollups_rebuild(start=start, end=end, team=team)
    return {"start": start, "end": end, "rows": counts}
