"""Day blocks: closed UTC days compacted for the long dashboards (``DayBlockRollup``).

A 30-day dashboard used to sum the 134-bucket histogram of every daily rollup row (per agent,
model, version and status) twice, once per agent and once per day: its cost grew with those rows.
A day block holds one row per (agent, model) of a closed day, plus one ``total`` row for the whole
team, so the dashboard sums about half the rows per agent and 30 rows for its daily series.

Blocks are built here, by a periodic job and after every rollup rebuild, never at ingest. They are
kept exact by ``crucible.merge_guard`` (``DAY_BLOCKS``): a statement trigger on the daily rollups
(migrations 0010 and 0013) deletes the blocks of any closed day whose daily rows change (late
events, deletions, rebuilds), under a shared advisory lock per (team, day), which compaction takes
exclusively before it reads a day. A block is always equal to the daily rows of its days, or absent
(readers then use the daily rows).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from crucible import merge_guard, sql
from observability import histogram

HIST_SUMS = ", ".join(f"sum(hist[{i}])" for i in range(1, histogram.BUCKETS + 1))
# One lock per (team, day); a changed day removes every block holding it (of 1 to 16 days).
DAY_BLOCKS = merge_guard.MergeGuard(
    name="observability-dayblock",
    source="observability_dailyrollup",
    merged="observability_dayblockrollup",
    day="bucket",
    day_type="timestamptz",
    lock=(("team_id", "bigint"), ("bucket", "timestamptz")),
    lock_parts="k.team_id, extract(epoch FROM k.bucket)::bigint",
    keys=("team_id", "bucket"),
    covers=(
        "m.team_id = k.team_id AND m.day <= k.bucket AND m.day > k.bucket - interval '32 days' "
        "AND m.day + m.days * interval '1 day' > k.bucket"
    ),
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


def day_blocks_compact(*, team=None, since: dt.datetime | None = None, now: dt.datetime | None = None) -> int:
    """Build the missing blocks of closed days (all stored days, or from ``since``), one
    transaction per 31 days of a team. Returns the number of days compacted; a day a writer is
    changing right now is left for the next run. Idempotent."""
    now = now or timezone.now()
    until = merge_guard.closed_until(now)
    since = since or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    team_filter = "AND d.team_id = %(team)s" if team is not None else ""
    params = {"since": since, "until": until} | ({"team": team.pk} if team is not None else {})
    pending = [
        (row["team_id"], row["bucket"]) for row in sql.fetch_rows(PENDING_SQL.format(team_filter=team_filter), params)
    ]
    compacted = sum(_compact(pending[i : i + 31]) for i in range(0, len(pending), 31))
    # Longer blocks, from the one-day blocks; scanned from a 16-day boundary so a block never
    # counts a day the scan did not see.
    params["since"] = dt.datetime.fromtimestamp(since.timestamp() // (86400 * 16) * 86400 * 16, tz=dt.UTC)
    for k in LEVELS:
        candidates = sql.fetch_rows(CANDIDATES_SQL.format(team_filter=team_filter), params | {"k": k})
        for i in range(0, len(candidates), 16):
            _merge([(row["team_id"], row["start"]) for row in candidates[i : i + 16]], k, team_filter, params)
    return compacted


@transaction.atomic
def _merge(groups, k, team_filter, params) -> None:
    days = [(team_id, start + dt.timedelta(days=offset)) for team_id, start in groups for offset in range(k)]
    taken = set(merge_guard.locks_take(DAY_BLOCKS, days))
    # Under the locks: only the groups still complete (a late event may have removed a day's block).
    still = {
        (row["team_id"], row["start"])
        for row in sql.fetch_rows(CANDIDATES_SQL.format(team_filter=team_filter), params | {"k": k})
    }
    groups = [
        (team_id, start)
        for team_id, start in groups
        if (team_id, start) in still and all((team_id, start + dt.timedelta(days=o)) in taken for o in range(k))
    ]
    if groups:
        sql.execute(MERGE_SQL, {"k": k, "teams": [g[0] for g in groups], "starts": [g[1] for g in groups]})


@transaction.atomic
def _compact(pairs: list[tuple[int, dt.datetime]]) -> int:
    taken = merge_guard.locks_take(DAY_BLOCKS, pairs)
    if taken:
        sql.execute(COMPACT_SQL, {"teams": [p[0] for p in taken], "days": [p[1] for p in taken]})
    return len(taken)
