"""SQL of the daily build rollups: the upsert run by ``build_record``, the recompute from raw
builds (rebuild and verify), and the "source" subqueries the reads aggregate.

A read over [since, until) takes whole UTC days from the rollup tables and the partial days at
either edge (less than a day each) from the raw builds, shaped like rollup rows, so figures are
exact for any range while the raw part stays bounded by two days of builds (index range scans on
``build_team_started``).
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from crucible import sql
from teammemory import histogram

UTC = dt.UTC
DAY = dt.timedelta(days=1)

STACK_TABLE = "teammemory_builddailyrollup"
AGENT_TABLE = "teammemory_buildagentdailyrollup"
ERROR_TABLE = "teammemory_builderrordailyrollup"

OUTCOME_COLS = "builds, succeeded, failed, cancelled, scored, quality_sum, quality_sq_sum"
DURATION_COLS = "duration_sum_ms, hist, tokens, cost"

# Column lists of each table after (team_id, day).
KEYS = {
    STACK_TABLE: "stack_key, components",
    AGENT_TABLE: "agent_id, agent_version_id",
    ERROR_TABLE: "error_type",
}
VALUES = {
    STACK_TABLE: f"{OUTCOME_COLS}, {DURATION_COLS}",
    AGENT_TABLE: OUTCOME_COLS,
    ERROR_TABLE: "occurrences, builds, failed_builds, example_message",
}

_OUTCOME_ADD = ", ".join(f"{c} = r.{c} + EXCLUDED.{c}" for c in OUTCOME_COLS.split(", "))
_DURATION_ADD = (
    "duration_sum_ms = r.duration_sum_ms + EXCLUDED.duration_sum_ms, tokens = r.tokens + EXCLUDED.tokens, "
    "cost = r.cost + EXCLUDED.cost, hist[%(bucket1)s] = r.hist[%(bucket1)s] + 1"
)

# --- Ingest: one build's contribution, added in the database ----------------------------------

_BUILD_PART = """
    SELECT %(team)s::bigint AS team_id, %(day)s::date AS day, 1::bigint AS builds,
           (%(status)s = 'succeeded')::int::bigint AS succeeded, (%(status)s = 'failed')::int::bigint AS failed,
           (%(status)s = 'cancelled')::int::bigint AS cancelled,
           (%(quality)s::int IS NOT NULL)::int::bigint AS scored, coalesce(%(quality)s::int, 0)::bigint AS quality_sum,
           coalesce(%(quality)s::int * %(quality)s::int, 0)::bigint AS quality_sq_sum,
           %(duration)s::bigint AS duration_sum_ms, %(hist)s::bigint[] AS hist, %(tokens)s::bigint AS tokens,
           %(cost)s::numeric AS cost
"""

UPSERT_STACK = f"""
INSERT INTO {STACK_TABLE} AS r (team_id, day, stack_key, components, {OUTCOME_COLS}, {DURATION_COLS})
SELECT b.team_id, b.day, %(stack_key)s, %(components)s::varchar[], {OUTCOME_COLS.replace("builds", "b.builds", 1)},
       {DURATION_COLS}
FROM ({_BUILD_PART}) b
ON CONFLICT (team_id, day, stack_key, components) DO UPDATE SET {_OUTCOME_ADD}, {_DURATION_ADD}
"""

UPSERT_AGENTS = f"""
INSERT INTO {AGENT_TABLE} AS r (team_id, day, agent_id, agent_version_id, {OUTCOME_COLS})
SELECT b.team_id, b.day, a.agent_id, a.version_id, {OUTCOME_COLS.replace("builds", "b.builds", 1)}
FROM ({_BUILD_PART}) b
CROSS JOIN unnest(%(agent_ids)s::bigint[], %(version_ids)s::bigint[]) WITH ORDINALITY AS a(agent_id, version_id, n)
ORDER BY a.n
ON CONFLICT (team_id, day, agent_id, agent_version_id) DO UPDATE SET {_OUTCOME_ADD}
"""

UPSERT_ERRORS = f"""
INSERT INTO {ERROR_TABLE} AS r (team_id, day, error_type, occurrences, builds, failed_builds, example_message)
SELECT %(team)s, %(day)s::date, e.error_type, count(*), 1, (%(status)s = 'failed')::int, max(e.message)
FROM unnest(%(error_types)s::varchar[], %(error_messages)s::text[]) AS e(error_type, message)
GROUP BY e.error_type
ORDER BY e.error_type
ON CONFLICT (team_id, day, error_type) DO UPDATE SET
    occurrences = r.occurrences + EXCLUDED.occurrences, builds = r.builds + EXCLUDED.builds,
    failed_builds = r.failed_builds + EXCLUDED.failed_builds,
    example_message = greatest(r.example_message, EXCLUDED.example_message)
"""


def record_build(*, build, agent_uses, build_errors) -> None:
    """Add one new build to the three rollup tables (in the caller's transaction). Rows are
    upserted in a fixed order (tables, then keys sorted) so concurrent reports cannot deadlock."""
    day = build.started_at.astimezone(UTC).date()
    bucket = histogram.bucket_of(build.duration_ms)
    params = {
        "team": build.team_id,
        "day": day,
        "status": build.status,
        "quality": build.quality,
        "duration": build.duration_ms,
        "hist": histogram.one_hot(build.duration_ms),
        "bucket1": bucket + 1,
        "tokens": build.tokens,
        "cost": build.cost,
        "stack_key": build.stack_key,
        "components": list(build.components),
    }
    agents = sorted(
        {(agent.pk, version.pk if version else None) for agent, version in agent_uses},
        key=lambda pair: (pair[0], pair[1] or 0),
    )
    errors = sorted(build_errors)
    sql.execute(UPSERT_STACK, params)
    if agents:
        sql.execute(
            UPSERT_AGENTS, params | {"agent_ids": [a for a, _ in agents], "version_ids": [v for _, v in agents]}
        )
    if errors:
        sql.execute(
            UPSERT_ERRORS, params | {"error_types": [t for t, _ in errors], "error_messages": [m for _, m in errors]}
        )


# --- Recompute from raw builds -----------------------------------------------------------------

_DAY_EXPR = "(b.started_at AT TIME ZONE 'UTC')::date"
_OUTCOME_AGG = """count(*) AS builds, count(*) FILTER (WHERE b.status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE b.status = 'failed') AS failed, count(*) FILTER (WHERE b.status = 'cancelled') AS cancelled,
       count(b.quality) AS scored, coalesce(sum(b.quality), 0) AS quality_sum,
       coalesce(sum(b.quality::bigint * b.quality), 0) AS quality_sq_sum"""
_SUM_OUTCOMES = ", ".join(f"sum({c})::bigint" for c in OUTCOME_COLS.split(", "))


def _raw_filter(team_ids, start: dt.datetime, end: dt.datetime) -> tuple[str, dict]:
    where = "b.started_at >= %(raw_start)s AND b.started_at < %(raw_end)s"
    params: dict = {"raw_start": start, "raw_end": end}
    if team_ids is not None:
        where = "b.team_id = ANY(%(team_ids)s) AND " + where
        params["team_ids"] = list(team_ids)
    return where, params


def expected_sql(table: str, team_ids, start: dt.datetime, end: dt.datetime) -> tuple[str, dict]:
    """SELECT team_id, day, <keys>, <values> recomputed from the raw builds of [start, end)."""
    where, params = _raw_filter(team_ids, start, end)
    if table == STACK_TABLE:
        sql = f"""
            SELECT team_id, day, stack_key, components, {_SUM_OUTCOMES}, sum(duration_sum_ms)::bigint,
                   teammemory_hist_dense(array_agg(bucket), array_agg(builds)), sum(tokens)::bigint, sum(cost)
            FROM (SELECT b.team_id, {_DAY_EXPR} AS day, b.stack_key, b.components,
                         teammemory_hist_bucket(b.duration_ms) AS bucket,
                         {_OUTCOME_AGG}, sum(b.duration_ms) AS duration_sum_ms, sum(b.tokens) AS tokens, sum(b.cost) AS cost
                  FROM teammemory_build b WHERE {where} GROUP BY 1, 2, 3, 4, 5) g
            GROUP BY team_id, day, stack_key, components
        """
        return sql, params
    if table == AGENT_TABLE:
        sql = f"""
            SELECT b.team_id, {_DAY_EXPR} AS day, ba.agent_id, ba.agent_version_id, {_OUTCOME_AGG}
            FROM teammemory_build b JOIN teammemory_buildagent ba ON ba.build_id = b.id
            WHERE {where} GROUP BY 1, 2, 3, 4
        """
        return sql, params
    sql = f"""
        SELECT team_id, day, error_type, sum(n)::bigint, count(*)::bigint, count(*) FILTER (WHERE failed)::bigint, max(message)
        FROM (SELECT b.team_id, {_DAY_EXPR} AS day, e.error_type, count(*) AS n, b.status = 'failed' AS failed,
                     max(e.message) AS message
              FROM teammemory_build b JOIN teammemory_builderror e ON e.build_id = b.id
              WHERE {where} GROUP BY b.team_id, 2, e.error_type, b.id) per_build
        GROUP BY 1, 2, 3
    """
    return sql, params


TABLES = (STACK_TABLE, AGENT_TABLE, ERROR_TABLE)


def day_bounds(start_day: dt.date, end_day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime.combine(start_day, dt.time(), tzinfo=UTC), dt.datetime.combine(end_day, dt.time(), tzinfo=UTC))


def _stored_filter(team_ids, start_day, end_day) -> tuple[str, dict]:
    where = "day >= %(start_day)s AND day < %(end_day)s"
    params: dict = {"start_day": start_day, "end_day": end_day}
    if team_ids is not None:
        where = "team_id = ANY(%(team_ids)s) AND " + where
        params["team_ids"] = list(team_ids)
    return where, params


def rebuild(*, team_ids=None, start_day: dt.date, end_day: dt.date) -> dict[str, int]:
    """Replace the rollups of [start_day, end_day) (of the given teams, or all) by a recompute.
    Call inside a transaction: the rollup tables are locked against concurrent ingest first
    (SHARE ROW EXCLUSIVE conflicts with the upserts' ROW EXCLUSIVE), so a report either committed
    before the recompute (and is in it) or adds itself to the rebuilt rows afterwards."""
    start, end = day_bounds(start_day, end_day)
    counts = {}
    sql.execute(f"LOCK TABLE {', '.join(TABLES)} IN SHARE ROW EXCLUSIVE MODE")
    for table in TABLES:
        where, params = _stored_filter(team_ids, start_day, end_day)
        sql.execute(f"DELETE FROM {table} WHERE {where}", params)
        select, select_params = expected_sql(table, team_ids, start, end)
        counts[table] = sql.execute(
            f"INSERT INTO {table} (team_id, day, {KEYS[table]}, {VALUES[table]}) {select}", select_params
        )
    return counts


class VerifyRow(NamedTuple):
    rows: int
    mismatches: int
    examples: list[str]


def verify(*, team_ids=None, start_day: dt.date, end_day: dt.date, sample: int = 5) -> dict:
    """Compare the stored rollups of [start_day, end_day) with a recompute from raw builds."""
    start, end = day_bounds(start_day, end_day)
    out = {"ok": True, "tables": {}}
    for table in TABLES:
        cols = f"team_id, day, {KEYS[table]}, {VALUES[table]}"
        where, params = _stored_filter(team_ids, start_day, end_day)
        select, select_params = expected_sql(table, team_ids, start, end)
        found = sql.fetch_one(
            f"""
            WITH stored AS (SELECT {cols} FROM {table} WHERE {where}),
                 expected AS ({select}),
                 diff AS ((SELECT 'stored' AS side, * FROM stored EXCEPT ALL SELECT 'stored', * FROM expected)
                          UNION ALL
                          (SELECT 'expected' AS side, * FROM expected EXCEPT ALL SELECT 'expected', * FROM stored))
            SELECT (SELECT count(*) FROM stored) AS rows, (SELECT count(*) FROM diff) AS mismatches,
                   (SELECT coalesce(array_agg(d::text), '{{}}') FROM (SELECT * FROM diff LIMIT %(sample)s) d) AS examples
            """,
            params | select_params | {"sample": sample},
            VerifyRow,
        )
        out["tables"][table] = {
            "rows": found.rows,
            "mismatches": found.mismatches,
            "sample": [e[:300] for e in found.examples],
        }
        out["ok"] = out["ok"] and found.mismatches == 0
    return out


# --- Reading: rollup rows of whole days + raw rows of the partial edge days, same shape ---------


def split_range(since: dt.datetime, until: dt.datetime):
    """(day_lo, day_hi, raw_parts): whole UTC days [day_lo, day_hi) read from rollups (None when
    there is none) and at most two partial-day [lo, hi) ranges read from raw builds."""
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    if until <= since:
        return None, None, []
    first = since.replace(hour=0, minute=0, second=0, microsecond=0)
    if first < since:
        first += DAY
    last = until.replace(hour=0, minute=0, second=0, microsecond=0)
    if first >= last:
        return None, None, [(since, until)]
    parts = []
    if since < first:
        parts.append((since, first))
    if last < until:
        parts.append((last, until))
    return first.date(), last.date(), parts


HIST_LEN = histogram.BUCKETS


def source(
    kind: str, team_id: int, since: dt.datetime, until: dt.datetime, *, hist: bool = True, prefix: str = "src"
) -> tuple[str, dict]:
    """A subquery with rollup-shaped rows of ``kind`` (stack, agent, error) covering exactly the
    builds started in [since, until), and its named parameters (``<prefix>_team`` etc.). The raw
    edge builds are grouped like the rollups (one row per day and key); ``hist=False`` leaves
    their histograms out (NULL) for reads that need none."""
    table = {"stack": STACK_TABLE, "agent": AGENT_TABLE, "error": ERROR_TABLE}[kind]
    day_lo, day_hi, parts = split_range(since, until)
    selects, params = [], {f"{prefix}_team": team_id}
    cols = f"day, {KEYS[table]}, {VALUES[table]}"
    if day_lo is not None:
        selects.append(
            f"SELECT {cols} FROM {table} WHERE team_id = %({prefix}_team)s "
            f"AND day >= %({prefix}_day_lo)s AND day < %({prefix}_day_hi)s"
        )
        params |= {f"{prefix}_day_lo": day_lo, f"{prefix}_day_hi": day_hi}
    if parts:
        edges = " OR ".join(
            f"(b.started_at >= %({prefix}_lo_{i})s AND b.started_at < %({prefix}_hi_{i})s)" for i in range(len(parts))
        )
        where = f"b.team_id = %({prefix}_team)s AND ({edges})"
        for i, (lo, hi) in enumerate(parts):
            params |= {f"{prefix}_lo_{i}": lo, f"{prefix}_hi_{i}": hi}
        counts = _OUTCOME_AGG  # (its aliases are harmless: the outer column list names the columns)
        hist_expr = (
            "teammemory_hist_dense(array_agg(teammemory_hist_bucket(b.duration_ms)), array_agg(1::bigint))"
            if hist
            else "NULL::bigint[]"
        )
        if kind == "stack":
            selects.append(f"""SELECT {_DAY_EXPR}, b.stack_key, b.components, {counts}, sum(b.duration_ms)::bigint,
                                      {hist_expr}, sum(b.tokens)::bigint, sum(b.cost)
                               FROM teammemory_build b WHERE {where} GROUP BY 1, 2, 3""")
        elif kind == "agent":
            # LATERAL with OFFSET 0: one index lookup per edge build, never a scan of all uses.
            selects.append(f"""SELECT {_DAY_EXPR}, ba.agent_id, ba.agent_version_id, {counts}
                               FROM teammemory_build b
                               CROSS JOIN LATERAL (SELECT u.agent_id, u.agent_version_id FROM teammemory_buildagent u
                                                   WHERE u.build_id = b.id OFFSET 0) ba
                               WHERE {where} GROUP BY 1, 2, 3""")
        else:
            selects.append(f"""SELECT {_DAY_EXPR}, e.error_type, e.n, 1::bigint, (b.status = 'failed')::int::bigint, e.message
                               FROM teammemory_build b
                               CROSS JOIN LATERAL (SELECT x.error_type, count(*)::bigint AS n, max(x.message) AS message
                                                   FROM teammemory_builderror x WHERE x.build_id = b.id
                                                   GROUP BY x.error_type) e
                               WHERE {where}""")
    if not selects:
        selects.append(f"SELECT {cols} FROM {table} WHERE false")
    return f"(SELECT * FROM ({' UNION ALL '.join(selects)}) AS u({cols}))", params


HIST_SUM = histogram.HISTOGRAM.sums_sql()
