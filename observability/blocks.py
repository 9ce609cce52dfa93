"""Day blocks: closed UTC days compacted for the long dashboards (``DayBlockRollup``).

A 30-day dashboard used to sum the 134-bucket histogram of every daily rollup row (per agent,
model, version and status) twice, once per agent and once per day: its cost grew with those rows.
A day block holds one row per (agent, model) of a closed day, plus one ``total`` row for the whole
team, so the dashboard sums about half the rows per agent and 30 rows for its daily series.

Blocks are built here, by a periodic job and after every rollup rebuild, never at ingest: ingest
pays nothing but a statement trigger on the daily rollups (migration 0009) that deletes the blocks
of any closed day whose daily rows change (late events, deletions, rebuilds), under a shared
advisory lock per (team, day). Compaction takes that lock exclusively before it reads a day, so a
block is always equal to the daily rows of its day, or absent (readers then use the daily rows).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from crucible import sql
from observability import histogram

HIST_SUMS = ", ".join(f"sum(hist[{i}])" for i in range(1, histogram.BUCKETS + 1))
# A day is compacted once it has been closed this long: an ingest transaction that began before
# midnight (and so does not take the lock for "yesterday") has long finished.
SETTLE = dt.timedelta(hours=1)
# The trigger's key (migration 0009): one lock per (team, day).
LOCK_SQL = (
    "SELECT pg_advisory_xact_lock(hashtextextended('observability-dayblock:' || %(team)s || ':' "
    "|| extract(epoch FROM %(day)s::timestamptz)::bigint, 0))"
)

PENDING_SQL = """
SELECT DISTINCT d.team_id, d.bucket FROM observability_dailyrollup d
WHERE d.bucket >= %(since)s AND d.bucket < %(until)s {team_filter}
  AND NOT EXISTS (SELECT 1 FROM observability_dayblockrollup b
                  WHERE b.team_id = d.team_id AND b.day = d.bucket AND b.days = 1 AND b.total)
ORDER BY 1, 2
"""

COMPACT_SQL = f"""
INSERT INTO observability_dayblockrollup (team_id, day, days, total, agent_name, model, executions, successes,
    duration_sum_ms, duration_max_ms, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost,
    unpriced, hist)
SELECT team_id, bucket, 1, GROUPING(agent_name, model) <> 0, coalesce(agent_name, ''), coalesce(model, ''),
       sum(executions), coalesce(sum(executions) FILTER (WHERE status = 'success'), 0), sum(duration_sum_ms),
       max(duration_max_ms), sum(input_tokens), sum(output_tokens), sum(cached_input_tokens),
       sum(reasoning_tokens), sum(cost), sum(unpriced), ARRAY[{HIST_SUMS}]::bigint[]
FROM observability_dailyrollup d
WHERE (team_id, bucket) IN (SELECT * FROM unnest(%(teams)s::bigint[], %(days)s::timestamptz[]))
GROUP BY GROUPING SETS ((team_id, bucket, agent_name, model), (team_id, bucket))
ON CONFLICT (team_id, day, days, total, agent_name, model) DO NOTHING
"""


LEVELS = (2, 4, 8, 16)  # block lengths above one day, aligned on multiples of their length since 1970
# Blocks of ``k`` days to build: aligned groups of closed days, each day with data compacted.
CANDIDATES_SQL = """
SELECT team_id, start FROM (
    SELECT d.team_id, to_timestamp(floor(extract(epoch FROM d.bucket) / (86400 * %(k)s)) * 86400 * %(k)s) AS start,
           bool_and(EXISTS (SELECT 1 FROM observability_dayblockrollup b WHERE b.team_id = d.team_id
                            AND b.day = d.bucket AND b.days = 1 AND b.total)) AS complete
    FROM (SELECT DISTINCT d.team_id, d.bucket FROM observability_dailyrollup d
          WHERE d.bucket >= %(since)s AND d.bucket < %(until)s {team_filter}) d
    GROUP BY 1, 2
) c
WHERE complete AND start + %(k)s * interval '1 day' <= %(until)s
  AND NOT EXISTS (SELECT 1 FROM observability_dayblockrollup b WHERE b.team_id = c.team_id AND b.day = c.start
                  AND b.days = %(k)s AND b.total)
ORDER BY 1, 2
"""
MERGE_SQL = f"""
INSERT INTO observability_dayblockrollup (team_id, day, days, total, agent_name, model, executions, successes,
    duration_sum_ms, duration_max_ms, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost,
    unpriced, hist)
SELECT b.team_id, g.start, %(k)s, b.total, b.agent_name, b.model, sum(executions), sum(successes),
       sum(duration_sum_ms), max(duration_max_ms), sum(input_tokens), sum(output_tokens), sum(cached_input_tokens),
       sum(reasoning_tokens), sum(cost), sum(unpriced), ARRAY[{HIST_SUMS}]::bigint[]
FROM observability_dayblockrollup b
JOIN unnest(%(teams)s::bigint[], %(starts)s::timestamptz[]) AS g(team_id, start)
  ON b.team_id = g.team_id AND b.day >= g.start AND b.day < g.start + %(k)s * interval '1 day'
WHERE b.days = 1
GROUP BY b.team_id, g.start, b.total, b.agent_name, b.model
ON CONFLICT (team_id, day, days, total, agent_name, model) DO NOTHING
"""


def _closed_until(now: dt.datetime) -> dt.datetime:
    return (now - SETTLE).astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def day_blocks_compact(*, team=None, since: dt.datetime | None = None, now: dt.datetime | None = None) -> int:
    """Build the missing blocks of closed days (all stored days, or from ``since``), one
    transaction per 31 days of a team. Returns the number of days compacted. Idempotent."""
    now = now or timezone.now()
    until = _closed_until(now)
    since = since or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    team_filter = "AND d.team_id = %(team)s" if team is not None else ""
    params = {"since": since, "until": until} | ({"team": team.pk} if team is not None else {})
    pending = [
        (row["team_id"], row["bucket"]) for row in sql.fetch_rows(PENDING_SQL.format(team_filter=team_filter), params)
    ]
    for i in range(0, len(pending), 31):
        _compact(pending[i : i + 31])
    # Longer blocks, from the one-day blocks; scanned from a 16-day boundary so a block never
    # counts a day the scan did not see.
    params["since"] = dt.datetime.fromtimestamp(since.timestamp() // (86400 * 16) * 86400 * 16, tz=dt.UTC)
    for k in LEVELS:
        candidates = sql.fetch_rows(CANDIDATES_SQL.format(team_filter=team_filter), params | {"k": k})
        for i in range(0, len(candidates), 16):
            _merge([(row["team_id"], row["start"]) for row in candidates[i : i + 16]], k, team_filter, params)
    return len(pending)


@transaction.atomic
def _merge(groups, k, team_filter, params) -> None:
    for team_id, start in groups:
        for offset in range(k):
            sql.execute(LOCK_SQL, {"team": team_id, "day": start + dt.timedelta(days=offset)})
    # Under the locks: only the groups still complete (a late event may have removed a day's block).
    still = {
        (row["team_id"], row["start"])
        for row in sql.fetch_rows(CANDIDATES_SQL.format(team_filter=team_filter), params | {"k": k})
    }
    groups = [g for g in groups if g in still]
    if groups:
        sql.execute(MERGE_SQL, {"k": k, "teams": [g[0] for g in groups], "starts": [g[1] for g in groups]})


@transaction.atomic
def _compact(pairs: list[tuple[int, dt.datetime]]) -> None:
    # Sorted (team, day) pairs: concurrent compactions take the locks in one order.
    for team_id, day in pairs:
        sql.execute(LOCK_SQL, {"team": team_id, "day": day})
    sql.execute(COMPACT_SQL, {"teams": [p[0] for p in pairs], "days": [p[1] for p in pairs]})
