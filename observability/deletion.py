"""Deleting raw executions by hand (the admin) while the rollups stay exact.

Ingest adds each execution to the hourly, daily and error rollups in the database
(``rollups.rollups_apply``); ``executions_delete`` is its mirror image: the executions' own
contribution is subtracted from the same rows with one ``UPDATE ... FROM unnest(arrays)`` per
table (counts, sums, cost and the histogram element-wise), a row left with no execution is
deleted, and the one figure that cannot be subtracted, the longest duration, is recomputed from
the remaining raw executions of that row (only where a deleted execution was the longest).
Afterwards ``manage.py observability_rollups --verify-only`` finds no mismatch.

Results already recorded for a prompt variant stay in the experiment's statistics: a result is
recorded once, as evidence, whatever happens to the raw row later.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction

from observability import histogram
from observability.evidence_feed import evidence_subtract
from observability.minutes import minute_rollups_apply
from observability.models import Execution
from observability.rollups import _rollup_deltas
from observability.sql import execute as _execute
from observability.sql import fetch_rows as _fetch_rows

ROLLUP_COLUMNS = (
    "started_at",
    "agent_name",
    "model",
    "version",
    "status",
    "error_type",
    "duration_ms",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "cost",
    "counts_execution",
    "counts_usage",
    "quality",
)

_KEY_MATCH = (
    "r.team_id = %(team)s AND r.bucket = d.bucket AND r.agent_name = d.agent_name AND r.model = d.model "
    "AND r.version = d.version AND r.status = d.status"
)
_DELTAS = """unnest(%(bucket)s::timestamptz[], %(agent_name)s::text[], %(model)s::text[], %(version)s::text[],
                    %(status)s::text[], %(executions)s::bigint[], %(duration_sum_ms)s::float8[],
                    %(duration_max_ms)s::float8[], %(input_tokens)s::bigint[], %(output_tokens)s::bigint[],
                    %(cached_input_tokens)s::bigint[], %(reasoning_tokens)s::bigint[], %(cost)s::numeric[],
                    %(unpriced)s::bigint[], %(hist)s::text[], %(quality_sum)s::float8[],
                    %(quality_count)s::bigint[]) WITH ORDINALITY
             AS d(bucket, agent_name, model, version, status, executions, duration_sum_ms, duration_max_ms,
                  input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost, unpriced, hist,
                  quality_sum, quality_count, n)"""

# Lock the rows in the order ingest upserts them (keys sorted in Python), so a concurrent batch
# cannot deadlock with a delete.
ROLLUP_LOCK_SQL = f"SELECT r.id FROM {{table}} r JOIN {_DELTAS} ON {_KEY_MATCH} ORDER BY d.n FOR UPDATE OF r"

ROLLUP_SUBTRACT_SQL = f"""
UPDATE {{table}} r SET
    executions = r.executions - d.executions,
    duration_sum_ms = r.duration_sum_ms - d.duration_sum_ms,
    input_tokens = r.input_tokens - d.input_tokens,
    output_tokens = r.output_tokens - d.output_tokens,
    cached_input_tokens = r.cached_input_tokens - d.cached_input_tokens,
    reasoning_tokens = r.reasoning_tokens - d.reasoning_tokens,
    cost = r.cost - d.cost,
    unpriced = r.unpriced - d.unpriced,
    quality_sum = r.quality_sum - d.quality_sum,
    quality_count = r.quality_count - d.quality_count,
    hist = ARRAY(SELECT h.a - h.b FROM unnest(r.hist, d.hist::bigint[]) WITH ORDINALITY AS h(a, b, i) ORDER BY h.i),
    duration_max_ms = CASE WHEN d.duration_max_ms < r.duration_max_ms THEN r.duration_max_ms ELSE coalesce((
        SELECT max(e.duration_ms) FROM observability_execution e
        WHERE e.team_id = r.team_id AND e.agent_name = r.agent_name AND e.started_at >= r.bucket
          AND e.started_at < r.bucket + %(length)s::interval AND e.model = r.model AND e.version = r.version
          AND e.status = r.status AND e.counts_execution), 0) END
FROM {_DELTAS}
WHERE {_KEY_MATCH}
"""

# A row left with no execution and no usage (an agent's LLM calls keep tokens on a row of 0 executions).
ROLLUP_EMPTY_SQL = (
    f"DELETE FROM {{table}} r USING {_DELTAS} WHERE {_KEY_MATCH} AND r.executions <= 0"
    " AND r.input_tokens = 0 AND r.output_tokens = 0 AND r.cost = 0 AND r.unpriced = 0"
)

_ERROR_DELTAS = """unnest(%(bucket)s::timestamptz[], %(agent_name)s::text[], %(error_type)s::text[],
                          %(executions)s::bigint[]) WITH ORDINALITY AS d(bucket, agent_name, error_type, executions, n)"""
_ERROR_MATCH = (
    "r.team_id = %(team)s AND r.bucket = d.bucket AND r.agent_name = d.agent_name AND r.error_type = d.error_type"
)
ERROR_LOCK_SQL = (
    f"SELECT r.id FROM observability_errorrollup r JOIN {_ERROR_DELTAS} ON {_ERROR_MATCH} ORDER BY d.n FOR UPDATE OF r"
)
ERROR_SUBTRACT_SQL = (
    f"UPDATE observability_errorrollup r SET executions = r.executions - d.executions FROM {_ERROR_DELTAS} "
    f"WHERE {_ERROR_MATCH}"
)
ERROR_EMPTY_SQL = (
    f"DELETE FROM observability_errorrollup r USING {_ERROR_DELTAS} WHERE {_ERROR_MATCH} AND r.executions <= 0"
)

ROLLUP_TABLES = (("observability_hourlyrollup", "hour", "1 hour"), ("observability_dailyrollup", "day", "1 day"))
DELTA_NAMES = (
    "executions",
    "duration_sum_ms",
    "duration_max_ms",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "cost",
    "unpriced",
)


def _rollup_params(team_id: int, rows: list[dict], unit: str) -> dict | None:
    groups = _rollup_deltas(rows, unit)
    if not groups:
        return None
    keys = sorted(groups)  # the order ingest uses
    params = {"team": team_id, **{name: [] for name in ("bucket", "agent_name", "model", "version", "status")}}
    params |= {name: [] for name in (*DELTA_NAMES, "hist", "quality_sum", "quality_count")}
    for key in keys:
        g = groups[key]
        for name, value in zip(("bucket", "agent_name", "model", "version", "status"), key, strict=True):
            params[name].append(value)
        for name, value in zip(DELTA_NAMES, g[:9], strict=True):
            params[name].append(value)
        dense = [0] * histogram.BUCKETS
        for index, count in g[9].items():
            dense[index] = count
        params["hist"].append("{" + ",".join(map(str, dense)) + "}")
        params["quality_sum"].append(g[10])
        params["quality_count"].append(g[11])
    return params


def _error_params(team_id: int, rows: list[dict]) -> dict | None:
    counts: dict[tuple, int] = defaultdict(int)
    for row in rows:
        if row["status"] == "error" and row["counts_execution"]:
            bucket = row["started_at"].replace(minute=0, second=0, microsecond=0)
            counts[(bucket, row["agent_name"], row["error_type"])] += 1
    if not counts:
        return None
    keys = sorted(counts)
    return {
        "team": team_id,
        "bucket": [k[0] for k in keys],
        "agent_name": [k[1] for k in keys],
        "error_type": [k[2] for k in keys],
        "executions": [counts[k] for k in keys],
    }


def rollups_subtract(*, team_id: int, rows: list[dict]) -> None:
    """Take executions (dicts with ``ROLLUP_COLUMNS``) that are no longer in the raw table out of
    the hourly, daily and error rollups. The mirror image of ``rollups.rollups_apply``."""
    for table, unit, length in ROLLUP_TABLES:
        params = _rollup_params(team_id, rows, unit)
        if params is None:
            continue
        _fetch_rows(ROLLUP_LOCK_SQL.format(table=table), params)
        _execute(ROLLUP_SUBTRACT_SQL.format(table=table), params | {"length": length})
        _execute(ROLLUP_EMPTY_SQL.format(table=table), params)
    minute_rollups_apply(team_id=team_id, rows=rows, sign=-1)
    params = _error_params(team_id, rows)
    if params is not None:
        _fetch_rows(ERROR_LOCK_SQL, params)
        _execute(ERROR_SUBTRACT_SQL, params)
        _execute(ERROR_EMPTY_SQL, params)


@transaction.atomic
def executions_delete(*, executions) -> int:
    """Delete raw executions (a queryset or an iterable of them) and take them out of the
    rollups, in one transaction. Returns the number deleted."""
    ids = [e.pk for e in executions] if not hasattr(executions, "values_list") else None
    queryset = Execution.objects.filter(pk__in=ids) if ids is not None else executions
    rows = list(
        Execution.objects.filter(pk__in=queryset.values("pk"))
        .order_by("pk")
        .select_for_update()
        .values("pk", "team_id", "agent_version_id", *ROLLUP_COLUMNS)
    )
    if not rows:
        return 0
    Execution.objects.filter(pk__in=[row["pk"] for row in rows]).delete()
    by_team: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_team[row["team_id"]].append(row)
    for team_id in sorted(by_team):
        rollups_subtract(team_id=team_id, rows=by_team[team_id])
        evidence_subtract(team_id=team_id, rows=by_team[team_id])  # the marketplace's version evidence
    return len(rows)
