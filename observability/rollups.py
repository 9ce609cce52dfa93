"""Rollups of executions: the hourly, daily and error tables the dashboards read.

``rollups_apply`` adds the executions a batch really inserted: the batch is summed per hourly key
in Python (the daily keys folded from the hourly ones), then one statement upserts the three
tables (``INSERT ... ON CONFLICT DO UPDATE`` in writable CTEs: counts and sums added in the row,
so concurrent batches stay exact; of the histogram only the buckets the batch touched are added,
``hist[i] = r.hist[i] + EXCLUDED.hist[i]``, or the whole array when it touched many);
``rollups_rebuild`` recomputes a period from the raw rows.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import transaction

from crucible import sql  # Django's cursor (client-side binding): the rebuild statements
from observability import histogram
from observability.evidence_feed import evidence_rebuild
from observability.minutes import minute_rollups_apply, minute_rollups_rebuild
from observability.sql import execute  # server-side binding: the array upserts

_ROLLUP_UPSERT = """
{name} AS (
    INSERT INTO {table} AS r (
        team_id, bucket, agent_name, model, version, status, executions, duration_sum_ms, duration_max_ms,
        input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost, unpriced, hist,
        quality_sum, quality_count)
    SELECT %(team)s, t.bucket, t.agent_name, t.model, t.version, t.status, t.executions, t.duration_sum_ms,
           t.duration_max_ms, t.input_tokens, t.output_tokens, t.cached_input_tokens, t.reasoning_tokens,
           t.cost, t.unpriced, t.hist::bigint[], t.quality_sum, t.quality_count
    FROM unnest(%({p}bucket)s::timestamptz[], %({p}agent_name)s::text[], %({p}model)s::text[],
                %({p}version)s::text[], %({p}status)s::text[], %({p}executions)s::bigint[],
                %({p}duration_sum_ms)s::float8[], %({p}duration_max_ms)s::float8[], %({p}input_tokens)s::bigint[],
                %({p}output_tokens)s::bigint[], %({p}cached_input_tokens)s::bigint[],
                %({p}reasoning_tokens)s::bigint[], %({p}cost)s::numeric[], %({p}unpriced)s::bigint[],
                %({p}hist)s::text[], %({p}quality_sum)s::float8[], %({p}quality_count)s::bigint[])
         AS t(bucket, agent_name, model, version, status, executions, duration_sum_ms, duration_max_ms,
              input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost, unpriced, hist,
              quality_sum, quality_count)
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
        quality_sum = r.quality_sum + EXCLUDED.quality_sum,
        quality_count = r.quality_count + EXCLUDED.quality_count,
        {hist_merge}
    RETURNING 1
)"""

# The whole histogram added element-wise (when the batch touches many of its buckets).
HIST_MERGE_DENSE = (
    "hist = ARRAY(SELECT h.a + h.b FROM unnest(r.hist, EXCLUDED.hist) WITH ORDINALITY AS h(a, b, i) ORDER BY h.i)"
)
# Up to this many buckets touched by a batch, only those are added (``hist[i] = r.hist[i] + ...``):
# a new row version is written either way, but without the per-row unnest and sort.
SPARSE_MERGE_MAX = 48

ERROR_UPSERT = """
errors AS (
    INSERT INTO observability_errorrollup AS r (team_id, bucket, agent_name, error_type, executions)
    SELECT %(team)s, t.bucket, t.agent_name, t.error_type, t.executions
    FROM unnest(%(e_bucket)s::timestamptz[], %(e_agent_name)s::text[], %(e_error_type)s::text[],
                %(e_executions)s::bigint[]) AS t(bucket, agent_name, error_type, executions)
    ON CONFLICT (team_id, bucket, agent_name, error_type) DO UPDATE SET executions = r.executions + EXCLUDED.executions
    RETURNING 1
)"""

EMPTY_ROWS_SQL = """
DELETE FROM {table} WHERE team_id = %(team)s AND bucket = ANY(%(bucket)s::timestamptz[]) AND executions = 0
  AND input_tokens = 0 AND output_tokens = 0 AND cost = 0 AND unpriced = 0
"""

# The arrays of a rollup upsert, in the order of its unnest (each is a named parameter).
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
    "quality_sum",
    "quality_count",
)


def hist_merge_sql(buckets) -> str:
    """The SET clause adding ``EXCLUDED.hist`` to a stored histogram: only the buckets (0-based
    indexes) a batch has counts in, or the whole array when there are many."""
    if len(buckets) > SPARSE_MERGE_MAX:
        return HIST_MERGE_DENSE
    return ", ".join(f"hist[{i + 1}] = r.hist[{i + 1}] + EXCLUDED.hist[{i + 1}]" for i in sorted(buckets)) or (
        "hist = r.hist"
    )


def rollup_upsert_sql(buckets) -> str:
    """One statement for the hourly, daily and error rollups of a batch (one round trip; the
    tables are written in this order by every batch, each in key order: no deadlock)."""
    merge = hist_merge_sql(buckets)
    parts = [
        _ROLLUP_UPSERT.format(name=name, table=table, p=prefix, hist_merge=merge)
        for name, table, prefix in (
            ("hourly", "observability_hourlyrollup", "h_"),
            ("daily", "observability_dailyrollup", "d_"),
        )
    ]
    return "WITH " + ",".join([*parts, ERROR_UPSERT]) + "\nSELECT (SELECT count(*) FROM hourly) AS hourly"


def _truncate(when: dt.datetime, unit: str) -> dt.datetime:
    if unit == "hour":
        return when.replace(minute=0, second=0, microsecond=0)
    if unit == "minute":
        return when.replace(second=0, microsecond=0)
    return when.replace(hour=0, minute=0, second=0, microsecond=0)


def _key(row, unit: str) -> tuple:
    """A rollup row's key: (bucket, agent, model, version, status)."""
    return (_truncate(row["started_at"], unit), row["agent_name"], row["model"], row["version"], row["status"])


def _reports_usage(row) -> bool:
    return row["input_tokens"] + row["output_tokens"] > 0 or (row["cost"] is not None and row["cost"] > 0)


def _counts_unpriced(row) -> bool:
    """An unpriced item: usage counted here with no price; a span that is not an execution and
    reports no tokens has nothing to price."""
    if not row.get("counts_usage", True) or row["cost"] is not None:
        return False
    return row.get("counts_execution", True) or row["input_tokens"] + row["output_tokens"] > 0


def _new_group():
    # executions, duration sum, max, 4 token counts, cost, unpriced, histogram, quality sum, quality count
    return [0, 0.0, 0.0, 0, 0, 0, 0, Decimal(0), 0, defaultdict(int), 0.0, 0]


def _rollup_deltas(rows, unit, sign=1):
    """Per rollup key, what ``rows`` add (``sign=-1``: take away). A span adds an execution (its
    duration and histogram) when ``counts_execution``, its tokens and cost when ``counts_usage``
    (see docs/observability.md, "Counting once"); a row without the flags counts both."""
    groups = {}
    bucket_of = histogram.bucket_of
    for row in rows:
        counts_execution = row.get("counts_execution", True)
        counts_usage = row.get("counts_usage", True)
        if not counts_execution and not (counts_usage and _reports_usage(row)):
            continue  # adds nothing: no rollup row for it (the rebuild's WHERE says the same)
        key = _key(row, unit)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _new_group()
        if counts_execution:
            duration = row["duration_ms"]
            group[0] += sign
            group[1] += sign * duration
            if duration > group[2]:
                group[2] = duration
            group[9][bucket_of(duration)] += sign
            if row.get("quality") is not None:
                group[10] += sign * row["quality"]
                group[11] += sign
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


def _take_away_usage(groups, uncounted_usage, unit):
    """Usage that stops counting: tokens, cost and unpriced taken away (negative deltas)."""
    for row in uncounted_usage:
        if not _reports_usage(row) and not _counts_unpriced(row):
            continue
        key = _key(row, unit)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _new_group()
        group[3] -= row["input_tokens"]
        group[4] -= row["output_tokens"]
        group[5] -= row["cached_input_tokens"]
        group[6] -= row["reasoning_tokens"]
        group[7] -= row["cost"] or 0
        group[8] -= 1 if _counts_unpriced(row) else 0


def _fold(groups: dict, key_of) -> dict:
    """The groups summed under ``key_of(key)`` (the maximum is the maximum)."""
    folded = {}
    for key, g in groups.items():
        new_key = key_of(key)
        d = folded.get(new_key)
        if d is None:
            folded[new_key] = d = _new_group()
        for i in (0, 1, 3, 4, 5, 6, 7, 8, 10, 11):
            d[i] += g[i]
        if g[2] > d[2]:
            d[2] = g[2]
        for index, count in g[9].items():
            d[9][index] += count
    return folded


def _daily_of(hourly: dict) -> dict:
    """The daily groups, folded from the hourly ones (an hour lies in one UTC day)."""
    return _fold(hourly, lambda key: (_truncate(key[0], "day"), *key[1:]))


_ZEROS = ["0"] * histogram.BUCKETS


def _hist_text(counts: dict) -> str:
    """A group's histogram as an array literal (quoted: it travels inside a text[] literal)."""
    parts = _ZEROS.copy()
    for index, count in counts.items():
        parts[index] = str(count)
    return '"{' + ",".join(parts) + '}"'


def _columns(groups: dict, prefix: str) -> dict:
    keys = sorted(groups)  # one order for every writer: concurrent batches cannot deadlock
    columns = {prefix + name: [] for name in ROLLUP_ARRAYS if name != "hist"}
    arrays = list(columns.values())
    for key in keys:
        for array, value in zip(arrays, (*key, *groups[key][:9], *groups[key][10:]), strict=True):
            array.append(value)
    # The histograms' literal is made here, not by pg_array: 134 numbers each, already quoted.
    columns[prefix + "hist"] = "{" + ",".join([_hist_text(groups[key][9]) for key in keys]) + "}"
    return columns


def _error_columns(rows) -> dict:
    counts = defaultdict(int)
    for row in rows:
        if row["status"] == "error" and row.get("counts_execution", True):
            counts[(_truncate(row["started_at"], "hour"), row["agent_name"], row["error_type"])] += 1
    keys = sorted(counts)
    return {
        "e_bucket": [k[0] for k in keys],
        "e_agent_name": [k[1] for k in keys],
        "e_error_type": [k[2] for k in keys],
        "e_executions": [counts[k] for k in keys],
    }


def rollups_apply(*, team_id: int, rows: list[dict], uncounted_usage: list[dict] = ()) -> None:
    """Add executions (dicts with the Execution columns) to the hourly, daily and error rollups,
    in one statement. ``uncounted_usage``: stored spans whose tokens and cost stop counting (a
    trace's first LLM span arrived): their usage is taken away in the same statement (negative
    deltas). The team's minute rows (the live view) in a small statement of their own."""
    minute_rollups_apply(team_id=team_id, rows=rows, uncounted_usage=uncounted_usage)
    hourly = _rollup_deltas(rows, "hour")
    _take_away_usage(hourly, uncounted_usage, "hour")
    errors = _error_columns(rows)
    if not hourly and not errors["e_bucket"]:
        return
    daily = _daily_of(hourly)
    buckets = {index for g in hourly.values() for index, count in g[9].items() if count}
    params = {"team": team_id, **_columns(hourly, "h_"), **_columns(daily, "d_"), **errors}
    execute(rollup_upsert_sql(buckets), params)
    if uncounted_usage:  # a row left with nothing in it is no row (as a rebuild would leave it)
        for table, groups in (("observability_hourlyrollup", hourly), ("observability_dailyrollup", daily)):
            execute(EMPTY_ROWS_SQL.format(table=table), {"team": team_id, "bucket": sorted({k[0] for k in groups})})


# --- Rebuild from raw executions ----------------------------------------------------------

ROLLUP_FROM_RAW_SQL = """
SELECT team_id, bucket, agent_name, model, version, status, sum(n) AS executions, sum(dsum) AS duration_sum_ms,
       max(dmax) AS duration_max_ms, sum(i) AS input_tokens, sum(o) AS output_tokens,
       sum(c) AS cached_input_tokens, sum(r) AS reasoning_tokens, sum(cost) AS cost, sum(unpriced) AS unpriced,
       observability_hist_dense(array_agg(b), array_agg(n)) AS hist, sum(qs) AS quality_sum, sum(qn) AS quality_count
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
                            AND (counts_execution OR input_tokens + output_tokens > 0)) AS unpriced,
           coalesce(sum(quality) FILTER (WHERE counts_execution), 0) AS qs,
           count(quality) FILTER (WHERE counts_execution) AS qn
    FROM observability_execution
    WHERE started_at >= %(start)s AND started_at < %(end)s {team_filter}
      AND (counts_execution OR (counts_usage AND (input_tokens + output_tokens > 0 OR coalesce(cost, 0) > 0)))
    GROUP BY 1, 2, 3, 4, 5, 6, 7
) per_bucket
GROUP BY team_id, bucket, agent_name, model, version, status
"""
REBUILD_SQL = (
    "INSERT INTO {table} (team_id, bucket, agent_name, model, version, status, executions, duration_sum_ms, "
    "duration_max_ms, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost, unpriced, hist, "
    "quality_sum, quality_count)" + ROLLUP_FROM_RAW_SQL
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
    # The rebuild deleted the blocks of its closed days and hours (triggers): build them again.
    # And the standard periods' windows (imported here: the windows read periods the way the pages
    # do, through the selectors, which import this module).
    from observability.windows import blocks_refresh

    done = blocks_refresh(team=team, since=start)
    counts["observability_dayblockrollup"] = done["days"]
    counts["observability_hourblockrollup"] = done["hours"]
    counts["observability_windows"] = done["windows"]  # in the block tables
    counts["observability_minuterollup"] = minute_rollups_rebuild(start=start, end=end, team=team)
    return {"start": start, "end": end, "rows": counts}
