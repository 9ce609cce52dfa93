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
from observability.evidence_feed import evidence_rebuild
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


def _apply_error_rollups(team_id, rows):
    counts = defaultdict(int)
    for row in rows:
        if row["status"] == "error":
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


def rollups_apply(*, team_id: int, rows: list[dict]) -> None:
    """Add executions (dicts with the Execution columns) to the hourly, daily and error rollups."""
    _apply_rollups(team_id, rows, "observability_hourlyrollup", "hour")
    _apply_rollups(team_id, rows, "observability_dailyrollup", "day")
    _apply_error_rollups(team_id, rows)


# --- Rebuild from raw executions ----------------------------------------------------------

ROLLUP_FROM_RAW_NAMED_SQL = """
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
    WHERE started_at >= %(start)s AND started_at < %(end)s {team_filter}
    GROUP BY 1, 2, 3, 4, 5, 6, 7
) per_bucket
GROUP BY team_id, bucket, agent_name, model, version, status
"""
# The same text with positional bounds, for observability.selectors (it rewrites the bounds itself
# and still binds by position); drop it once selectors reads ROLLUP_FROM_RAW_NAMED_SQL.
ROLLUP_FROM_RAW_SQL = ROLLUP_FROM_RAW_NAMED_SQL.replace(
    "started_at >= %(start)s AND started_at < %(end)s", "started_at >= %s AND started_at < %s"
)

REBUILD_SQL = (
    "INSERT INTO {table} (team_id, bucket, agent_name, model, version, status, executions, duration_sum_ms, "
    "duration_max_ms, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost, unpriced, hist)"
    + ROLLUP_FROM_RAW_NAMED_SQL
)

REBUILD_ERRORS_SQL = """
INSERT INTO observability_errorrollup (team_id, bucket, agent_name, error_type, executions)
SELECT team_id, date_trunc('hour', started_at, 'UTC'), agent_name, error_type, count(*)
FROM observability_execution
WHERE status = 'error' AND started_at >= %(start)s AND started_at < %(end)s {team_filter}
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
    return {"start": start, "end": end, "rows": counts}
