"""Day and hour blocks: closed UTC days and hours compacted for the dashboards (``DayBlockRollup``,
``HourBlockRollup``).

A dashboard used to sum the 134-bucket histogram of every rollup row (per agent, model, version
and status) of its period: its cost grew with those rows. A block holds one row per (agent,
model, version) of closed days or hours, with the first and last unit seen, plus one ``total``
row for the whole team, so a period's figures sum a handful of blocks per agent and one row per day or
hour for the team.

Blocks are built here, by a periodic job and after every rollup rebuild, never at ingest: ingest
pays nothing but a statement trigger on the daily and on the hourly rollups (migrations 0010 and
0013, ``invalidate_sql``) that deletes the blocks of any closed day or hour whose rollup rows
change (late events, deletions, rebuilds), under a shared advisory lock per (team, day or hour).
Compaction takes that lock exclusively before it reads a day or hour (or skips it while a writer
holds it), so a block is always equal to the rollup rows of its days or hours, or absent (readers
then use the rollup rows). Blocks of 2, 4, 8 and 16 days or hours are merged from the blocks of
one, aligned on multiples of their length since 1970 (so any two blocks are nested or disjoint).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from crucible import periods, sql
from observability import histogram

HIST_SUMS = ", ".join(f"sum(hist[{i}])" for i in range(1, histogram.BUCKETS + 1))
LEVELS = (2, 4, 8, 16)  # block lengths above one unit, aligned on multiples of their length since 1970
BATCH = 31  # days or hours of a team compacted per transaction
SUMS = (
    "executions, successes, duration_sum_ms, duration_max_ms, input_tokens, output_tokens, cached_input_tokens, "
    "reasoning_tokens, cost, unpriced, hist"
)


@dataclass(frozen=True)
class Grain:
    """One size of block: its unit ("day" or "hour": the table ``observability_<unit>blockrollup``,
    whose ``<unit>`` column is a block's first unit and ``<unit>s`` its length) and the rollups it
    compacts."""

    unit: str
    rollups: str
    # A unit is compacted once it has been closed this long: a writer whose transaction began
    # before the unit ended (and so does not take its lock) has long finished.
    settle: dt.timedelta
    kept: dt.timedelta | None = None  # blocks of units older than this are not built, or deleted
    keys = ("agent_name", "model", "version")  # what a non-total row is per

    @property
    def table(self) -> str:
        return f"observability_{self.unit}blockrollup"

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

    @property
    def lock_key(self) -> str:
        """SQL: the advisory-lock key of (``k.team_id``, ``k.bucket``), the same in the trigger."""
        return (
            f"hashtextextended('observability-{self.unit}block:' || k.team_id || ':' "
            "|| extract(epoch FROM k.bucket)::bigint, 0)"
        )

    def closed_until(self, now: dt.datetime) -> dt.datetime:
        return periods.floor((now - self.settle).astimezone(dt.UTC), self.unit)


DAYS = Grain("day", "observability_dailyrollup", settle=dt.timedelta(hours=1))
# Hour blocks are kept for the pages that read hours: 24 hours, 7 days and the 7 days before
# (regressions); older hours are read from the hourly rows (hour blocks hold about as many rows).
HOURS = Grain("hour", "observability_hourlyrollup", settle=dt.timedelta(minutes=15), kept=dt.timedelta(days=15))
GRAINS = {grain.rollups: grain for grain in (DAYS, HOURS)}


def invalidate_sql(grain: Grain) -> tuple[str, str]:
    """(forward, reverse) SQL of a migration: statement triggers on ``grain.rollups`` deleting the
    blocks (of any length) that hold a closed unit whose rows an INSERT, UPDATE or DELETE touches."""
    function = f"observability_{grain.unit}block_invalidate"
    closed = f"bucket < date_trunc('{grain.unit}', now(), 'UTC')"
    holds = (
        f"m.team_id = k.team_id AND m.{grain.start} <= k.bucket "
        f"AND m.{grain.start} > k.bucket - {grain.interval(max(LEVELS))} "
        f"AND m.{grain.start} + {grain.interval('m.' + grain.length)} > k.bucket"
    )
    forward = f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- A compaction of these units in progress holds their locks: wait until it commits, so that
    -- the DELETE below (a new snapshot) sees and removes what it built.
    PERFORM pg_advisory_xact_lock_shared({grain.lock_key})
    FROM (SELECT DISTINCT team_id, bucket FROM changed WHERE {closed} ORDER BY 1, 2) k;
    IF FOUND THEN
        DELETE FROM {grain.table} m USING (SELECT DISTINCT team_id, bucket FROM changed WHERE {closed}) k
        WHERE {holds};
    END IF;
    RETURN NULL;
END $$;
"""
    reverse = ""
    for event in ("INSERT", "UPDATE", "DELETE"):
        trigger = f"{grain.rollups.removeprefix('observability_')}_{grain.unit}block_{event.lower()}"
        forward += (
            f"CREATE TRIGGER {trigger} AFTER {event} ON {grain.rollups} "
            f"REFERENCING {'OLD' if event == 'DELETE' else 'NEW'} TABLE AS changed "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}();\n"
        )
        reverse += f"DROP TRIGGER IF EXISTS {trigger} ON {grain.rollups};\n"
    return forward, reverse + f"DROP FUNCTION IF EXISTS {function}();"


# --- Compaction ---------------------------------------------------------------------------

# The units of [since, until) with rollup rows and no block of one unit yet.
PENDING_SQL = """
SELECT DISTINCT r.team_id, r.bucket FROM {g.rollups} r
WHERE r.bucket >= %(since)s AND r.bucket < %(until)s {team_filter}
  AND NOT EXISTS (SELECT 1 FROM {g.table} b
                  WHERE b.team_id = r.team_id AND b.{g.start} = r.bucket AND b.{g.length} = 1 AND b.total)
ORDER BY 1, 2
"""
# Of the (team, bucket) pairs given, those a writer does not hold now: locked until commit.
LOCK_SQL = """
SELECT team_id, bucket FROM unnest(%(teams)s::bigint[], %(buckets)s::timestamptz[]) AS k(team_id, bucket)
WHERE pg_try_advisory_xact_lock({g.lock_key})
"""
COMPACT_SQL = f"""
INSERT INTO {{g.table}} (team_id, {{g.start}}, {{g.length}}, total, {{keys}}, first_seen, last_seen, {SUMS})
SELECT team_id, bucket, 1, GROUPING({{keys}}) <> 0, {{coalesced_keys}}, min(bucket), max(bucket),
       sum(executions), coalesce(sum(executions) FILTER (WHERE status = 'success'), 0), sum(duration_sum_ms),
       max(duration_max_ms), sum(input_tokens), sum(output_tokens), sum(cached_input_tokens),
       sum(reasoning_tokens), sum(cost), sum(unpriced), ARRAY[{HIST_SUMS}]::bigint[]
FROM {{g.rollups}}
WHERE (team_id, bucket) IN (SELECT * FROM unnest(%(teams)s::bigint[], %(buckets)s::timestamptz[]))
GROUP BY GROUPING SETS ((team_id, bucket, {{keys}}), (team_id, bucket))
ON CONFLICT (team_id, {{g.start}}, {{g.length}}, total, {{keys}}) DO NOTHING
"""
# Blocks of ``k`` units to build: aligned groups of closed units, each unit with rows compacted.
CANDIDATES_SQL = """
SELECT team_id, start FROM (
    SELECT r.team_id, to_timestamp(floor(extract(epoch FROM r.bucket) / (%(seconds)s * %(k)s)) * %(seconds)s * %(k)s)
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
INSERT INTO {{g.table}} (team_id, {{g.start}}, {{g.length}}, total, {{keys}}, first_seen, last_seen, {SUMS})
SELECT b.team_id, g.start, %(k)s, b.total, {{keys_of_b}}, min(b.first_seen), max(b.last_seen), sum(executions), sum(successes),
       sum(duration_sum_ms), max(duration_max_ms), sum(input_tokens), sum(output_tokens), sum(cached_input_tokens),
       sum(reasoning_tokens), sum(cost), sum(unpriced), ARRAY[{HIST_SUMS}]::bigint[]
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
    until = grain.closed_until(now)
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
            _merge(grain, [(row["team_id"], row["start"]) for row in candidates[i : i + 16]], k)
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


def _locks_take(grain: Grain, pairs) -> list[tuple[int, dt.datetime]]:
    """The (team, bucket) pairs whose lock this transaction now holds exclusively (sorted pairs:
    compactions take them in one order; one a writer holds is left for the next run)."""
    if not pairs:
        return []
    rows = sql.fetch_rows(_sql(LOCK_SQL, grain), {"teams": [p[0] for p in pairs], "buckets": [p[1] for p in pairs]})
    return [(row["team_id"], row["bucket"]) for row in rows]


@transaction.atomic
def _merge(grain: Grain, groups, k: int) -> None:
    units = [(team_id, start + grain.step * offset) for team_id, start in groups for offset in range(k)]
    taken = set(_locks_take(grain, units))
    groups = [(t, s) for t, s in groups if all((t, s + grain.step * o) in taken for o in range(k))]
    if not groups:
        return
    params = {"k": k, "teams": [g[0] for g in groups], "starts": [g[1] for g in groups]}
    complete = sql.fetch_rows(_sql(COMPLETE_SQL, grain), params)
    if complete:
        params |= {"teams": [row["team_id"] for row in complete], "starts": [row["start"] for row in complete]}
        sql.execute(_sql(MERGE_SQL, grain), params)


@transaction.atomic
def _compact(grain: Grain, pairs: list[tuple[int, dt.datetime]]) -> int:
    taken = _locks_take(grain, pairs)
    if taken:
        sql.execute(_sql(COMPACT_SQL, grain), {"teams": [p[0] for p in taken], "buckets": [p[1] for p in taken]})
    return len(taken)
