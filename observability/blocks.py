"""Day and hour blocks: closed UTC days and hours compacted for the dashboards (``DayBlockRollup``,
``HourBlockRollup``).

A dashboard used to sum the 134-bucket histogram of every rollup row (per agent, model, version
and status) of its period: its cost grew with those rows. A block holds one row per (agent,
model, version) of closed days or hours, with the first and last unit seen, plus one ``total``
row for the whole team, so a period's figures sum a handful of blocks per agent and one row per day or
hour for the team.

Blocks are built here, by a periodic job and after every rollup rebuild, never at ingest. They are
kept exact by ``crucible.merge_guard`` (``DAY_BLOCKS``, ``HOUR_BLOCKS``: one guard per grain): a
statement trigger on the daily and on the hourly rollups (migrations 0013 and 0015) deletes the
blocks of any closed day or hour whose rollup rows change (late events, deletions, rebuilds), under
a shared advisory lock per (team, day or hour), which compaction takes exclusively before it reads
a unit (or skips the unit while a writer holds it). A block is always equal to the rollup rows of
its days or hours, or absent (readers then use the rollup rows). Blocks of 2, 4, 8 and 16 days or hours are merged from the blocks of
one, aligned on multiples of their length since 1970 (so any two blocks are nested or disjoint).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from crucible import merge_guard, periods, sql
from observability import histogram

LEVELS = (2, 4, 8, 16)  # block lengths above one unit, aligned on multiples of their length since 1970
BATCH = 31  # days or hours of a team compacted per transaction
SUMS = (
    "executions, successes, duration_sum_ms, duration_max_ms, input_tokens, output_tokens, cached_input_tokens, "
    "reasoning_tokens, cost, unpriced, hist"
)


def _guard(unit: str, rollups: str, settle: dt.timedelta) -> merge_guard.MergeGuard:
    """The guard of one grain's blocks: one lock per (team, day or hour); a changed unit removes
    every block holding it (of 1 to 16 units)."""
    return merge_guard.MergeGuard(
        name=f"observability-{unit}block",
        source=rollups,
        merged=f"observability_{unit}blockrollup",
        day="bucket",
        day_type="timestamptz",
        lock=(("team_id", "bigint"), ("bucket", "timestamptz")),
        lock_parts="k.team_id, extract(epoch FROM k.bucket)::bigint",
        keys=("team_id", "bucket"),
        covers=(
            f"m.team_id = k.team_id AND m.{unit} <= k.bucket AND m.{unit} > k.bucket - interval '32 {unit}s' "
            f"AND m.{unit} + m.{unit}s * interval '1 {unit}' > k.bucket"
        ),
        unit=unit,
        settle=settle,
    )


# A unit is compacted once it has been closed for its guard's ``settle``: a writer whose
# transaction began before the unit ended (and so does not take its lock) has long finished.
DAY_BLOCKS = _guard("day", "observability_dailyrollup", settle=merge_guard.SETTLE)
HOUR_BLOCKS = _guard("hour", "observability_hourlyrollup", settle=dt.timedelta(minutes=15))


@dataclass(frozen=True)
class Grain:
    """One size of block: the guard of its table (``observability_<unit>blockrollup``, whose
    ``<unit>`` column is a block's first unit and ``<unit>s`` its length, built from the rollups
    ``guard.source``), and how long its blocks are kept."""

    guard: merge_guard.MergeGuard
    kept: dt.timedelta | None = None  # blocks of units older than this are not built, or deleted
    keys = ("agent_name", "model", "version")  # what a non-total row is per

    @property
    def unit(self) -> str:
        return self.guard.unit

    @property
    def rollups(self) -> str:
        return self.guard.source

    @property
    def table(self) -> str:
        return self.guard.merged

    @property
    def start(self) -> str:
        return self.unit

    @property
    def length(self) -> str:
        return f"{self.unit}s"

    @property
    def step(self) -> dt.timedelta:
        return periods.BUCKETS[self.unit]

    def interval(self, length: str) -> str:
        """SQL: ``length`` units as an interval."""
        return f"({length}) * interval '1 {self.unit}'"


DAYS = Grain(DAY_BLOCKS)
# Hour blocks are kept for the pages that read hours: 24 hours, 7 days and the 7 days before
# (regressions); older hours are read from the hourly rows (hour blocks hold about as many rows).
HOURS = Grain(HOUR_BLOCKS, kept=dt.timedelta(days=15))
GRAINS = {grain.rollups: grain for grain in (DAYS, HOURS)}


# --- Compaction ---------------------------------------------------------------------------

# The units of [since, until) with rollup rows and no block of one unit yet.
PENDING_SQL = """
SELECT DISTINCT r.team_id, r.bucket FROM {g.rollups} r
WHERE r.bucket >= %(since)s AND r.bucket < %(until)s {team_filter}
  AND NOT EXISTS (SELECT 1 FROM {g.table} b
                  WHERE b.team_id = r.team_id AND b.{g.start} = r.bucket AND b.{g.length} = 1 AND b.total)
ORDER BY 1, 2
"""
COMPACT_SQL = f"""
INSERT INTO {{g.table}} (team_id, {{g.start}}, {{g.length}}, total, {{keys}}, first_seen, last_seen, {SUMS})
SELECT team_id, bucket, 1, GROUPING({{keys}}) <> 0, {{coalesced_keys}}, min(bucket), max(bucket),
       sum(executions), coalesce(sum(executions) FILTER (WHERE status = 'success'), 0), sum(duration_sum_ms),
       max(duration_max_ms), sum(input_tokens), sum(output_tokens), sum(cached_input_tokens),
       sum(reasoning_tokens), sum(cost), sum(unpriced), {histogram.SUMS_SQL}
FROM {{g.rollups}}
WHERE (team_id, bucket) IN (SELECT * FROM unnest(%(teams)s::bigint[], %(buckets)s::timestamptz[]))
GROUP BY GROUPING SETS ((team_id, bucket, {{keys}}), (team_id, bucket))
ON CONFLICT (team_id, {{g.start}}, {{g.length}}, total, {{keys}}) DO NOTHING
"""
# Blocks of ``k`` units to build: aligned groups of closed units, each unit with rows compacted.
CANDIDATES_SQL = """
SELECT team_id, start FROM (
    SELECT r.team_id, to_timestamp(floor(extract(epoch FROM r.bucket) / (%(seconds)s::bigint * %(k)s)) * %(seconds)s::bigint * %(k)s)
             AS start,
           bool_and(EXISTS (SELECT 1 FROM {g.table} b WHERE b.team_id = r.team_id
                            AND b.{g.start} = r.bucket AND b.{g.length} = 1 AND b.total)) AS complete
    FROM (SELECT DISTINCT r.team_id, r.bucket FROM {g.rollups} r
          WHERE r.bucket >= %(since)s AND r.bucket < %(until)s {team_filter}) r
    GROUP BY 1, 2
) c
WHERE complete AND start + {span} <= %(until)s
  AND NOT EXISTS (SELECT 1 FROM {g.table} b WHERE b.team_id = c.team_id AND b.{g.start} = c.start
                  AND b.{g.length} = %(k)s AND b.total)
ORDER BY 1, 2
"""
# Of the groups given, those still complete (under their locks: a late event may have removed
# the block of one of their units since the candidates were read).
COMPLETE_SQL = """
SELECT g.team_id, g.start FROM unnest(%(teams)s::bigint[], %(starts)s::timestamptz[]) AS g(team_id, start)
WHERE NOT EXISTS (
    SELECT 1 FROM {g.rollups} r
    WHERE r.team_id = g.team_id AND r.bucket >= g.start AND r.bucket < g.start + {span}
      AND NOT EXISTS (SELECT 1 FROM {g.table} b WHERE b.team_id = r.team_id AND b.{g.start} = r.bucket
                      AND b.{g.length} = 1 AND b.total))
"""
MERGE_SQL = f"""
INSERT INTO {{g.table}} (team_id, {{g.start}}, {{g.length}}, total, windowed, {{keys}}, first_seen, last_seen, {SUMS})
SELECT b.team_id, g.start, %(k)s, b.total, %(window)s, {{keys_of_b}}, min(b.first_seen), max(b.last_seen), sum(executions), sum(successes),
       sum(duration_sum_ms), max(duration_max_ms), sum(input_tokens), sum(output_tokens), sum(cached_input_tokens),
       sum(reasoning_tokens), sum(cost), sum(unpriced), {histogram.SUMS_SQL}
FROM {{g.table}} b
JOIN unnest(%(teams)s::bigint[], %(starts)s::timestamptz[]) AS g(team_id, start)
  ON b.team_id = g.team_id AND b.{{g.start}} >= g.start AND b.{{g.start}} < g.start + {{span}}
WHERE b.{{g.length}} = 1
GROUP BY b.team_id, g.start, b.total, {{keys_of_b}}
ON CONFLICT (team_id, {{g.start}}, {{g.length}}, total, {{keys}}) DO NOTHING
"""


def _sql(template: str, grain: Grain, team_filter: str = "") -> str:
    keys = ", ".join(grain.keys)
    return template.format(
        g=grain,
        team_filter=team_filter,
        keys=keys,
        coalesced_keys=", ".join(f"coalesce({key}, '')" for key in grain.keys),
        keys_of_b=", ".join(f"b.{key}" for key in grain.keys),
        span=grain.interval("%(k)s"),
    )


def blocks_compact(grain: Grain, *, team=None, since: dt.datetime | None = None, now: dt.datetime | None = None) -> int:
    """Build the missing blocks of ``grain`` for closed units (all stored ones, or from ``since``),
    one transaction per ``BATCH`` units of a team. Returns the number of units compacted; a unit a
    writer is changing right now is left for the next run. Idempotent."""
    now = now or timezone.now()
    until = grain.guard.closed_until(now)
    since = since or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    if grain.kept:
        since = max(since, periods.floor(now - grain.kept, grain.unit))
    team_filter = "AND r.team_id = %(team)s" if team is not None else ""
    params = {"since": since, "until": until} | ({"team": team.pk} if team is not None else {})
    pending = [(row["team_id"], row["bucket"]) for row in sql.fetch_rows(_sql(PENDING_SQL, grain, team_filter), params)]
    compacted = sum(_compact(grain, pending[i : i + BATCH]) for i in range(0, len(pending), BATCH))
    # Longer blocks, from the blocks of one unit; scanned from a boundary of the longest block so
    # a block never counts a unit the scan did not see.
    seconds = int(grain.step.total_seconds())
    longest = max(LEVELS) * seconds
    params["since"] = dt.datetime.fromtimestamp(since.timestamp() // longest * longest, tz=dt.UTC)
    params["seconds"] = seconds
    for k in LEVELS:
        candidates = sql.fetch_rows(_sql(CANDIDATES_SQL, grain, team_filter), params | {"k": k})
        for i in range(0, len(candidates), 16):
            blocks_merge(grain, [(row["team_id"], row["start"]) for row in candidates[i : i + 16]], k)
    return compacted


def day_blocks_compact(*, team=None, since: dt.datetime | None = None, now: dt.datetime | None = None) -> int:
    """``blocks_compact`` of closed days."""
    return blocks_compact(DAYS, team=team, since=since, now=now)


def hour_blocks_compact(*, team=None, since: dt.datetime | None = None, now: dt.datetime | None = None) -> int:
    """``blocks_compact`` of the closed hours of the last ``HOURS.kept``; older blocks are deleted."""
    if team is None:
        blocks_purge(HOURS, now=now)
    return blocks_compact(HOURS, team=team, since=since, now=now)


def blocks_purge(grain: Grain, *, now: dt.datetime | None = None) -> int:
    """Delete the blocks of ``grain`` older than it keeps them; returns the rows deleted."""
    if not grain.kept:
        return 0
    oldest = periods.floor((now or timezone.now()) - grain.kept, grain.unit)
    return sql.execute(f"DELETE FROM {grain.table} WHERE {grain.start} < %(oldest)s", {"oldest": oldest})


@transaction.atomic
def blocks_merge(grain: Grain, groups, k: int, *, window: bool = False) -> int:
    """Merge the one-unit blocks of each (team, start) of ``groups`` into a block of ``k`` units
    (a window block with ``window``), under the locks of those units; a group a writer holds, or
    with a unit whose rollups have no block, is left. Returns the groups merged."""
    units = [(team_id, start + grain.step * offset) for team_id, start in groups for offset in range(k)]
    taken = set(merge_guard.locks_take(grain.guard, units))
    groups = [(t, s) for t, s in groups if all((t, s + grain.step * o) in taken for o in range(k))]
    if not groups:
        return 0
    params = {"k": k, "window": window, "teams": [g[0] for g in groups], "starts": [g[1] for g in groups]}
    complete = sql.fetch_rows(_sql(COMPLETE_SQL, grain), params)
    if complete:
        params |= {"teams": [row["team_id"] for row in complete], "starts": [row["start"] for row in complete]}
        sql.execute(_sql(MERGE_SQL, grain), params)
    return len(complete)


@transaction.atomic
def _compact(grain: Grain, pairs: list[tuple[int, dt.datetime]]) -> int:
    taken = merge_guard.locks_take(grain.guard, pairs)
    if taken:
        sql.execute(_sql(COMPACT_SQL, grain), {"teams": [p[0] for p in taken], "buckets": [p[1] for p in taken]})
    return len(taken)
