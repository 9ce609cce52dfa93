"""Window blocks: the closed days and hours of the standard periods, summed ahead of the pages.

A page reads each daily or hourly segment of its period from blocks (``selectors.block_reads``).
Aligned blocks cover a segment in pieces (23 hours can take 16 + 4 + 2 + 1), and the page sums the
134-bucket histogram of every piece, per agent, model and version. A window block is the whole
closed part of such a segment, from its first unit, summed once by the periodic job (every 15
minutes, after the compaction: ``observability.tasks``): the page sums
one row per agent, model and version for it (and the aligned blocks after it, if any).

Windows are built for the periods people open: the last 24 hours, 7 and 30 days and the period
before each (bottlenecks, regressions and recommendations compare the two), as they stand now and
an hour from now (the next hour's pages find theirs in the moments before the job runs). The
others are deleted by the same job.

A window lives in its grain's block table (``windowed``), merged from the one-unit blocks exactly
as an aligned block (``blocks.blocks_merge``: under the locks of its units, only when every unit
with rollup rows has its block), so it is exact or absent in the same way: the grain's trigger
deletes every block holding a changed unit, and a window is at most ``MAX_UNITS`` long, within
the reach of the trigger (32 units). A window is never aligned on a block length (that block is
an aligned block: the same rows).
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from crucible import periods, sql
from observability.blocks import GRAINS, LEVELS, Grain, blocks_merge, day_blocks_compact, hour_blocks_compact
from observability.selectors.rollup_reads import _segments, time_range

WINDOW_RANGES = ("24h", "7d", "30d")  # the standard periods whose segments get windows
MAX_UNITS = 31  # the trigger deletes the blocks that start up to 32 units before a changed unit
AHEAD = (dt.timedelta(0), periods.HOUR)  # windows of the periods now, and an hour from now


def _aligned(grain: Grain, start: dt.datetime, units: int) -> bool:
    seconds = int(grain.step.total_seconds()) * units
    return units in (1, *LEVELS) and int(start.timestamp()) % seconds == 0


def windows_wanted(now: dt.datetime) -> dict[Grain, set[tuple[dt.datetime, int]]]:
    """Per grain, the (first unit, length) of every window the standard periods read: each daily
    or hourly segment of each period and the one before it, as a dashboard (with its time bucket)
    and the analysis pages (without) read it, from its first unit to the last closed one."""
    wanted: dict[Grain, set[tuple[dt.datetime, int]]] = {}
    for ahead in AHEAD:
        for key in WINDOW_RANGES:
            period = time_range(key, now=now + ahead)
            for shown in (period, period.previous()):
                for bucket in (shown.bucket, None):
                    for table, lo, hi in _segments(shown.start, shown.end, bucket):
                        grain = GRAINS.get(table)
                        if grain is None or (grain.kept and lo < now - grain.kept):
                            continue
                        units = int((min(hi, grain.guard.closed_until(now)) - lo) / grain.step)
                        if 2 <= units <= MAX_UNITS and not _aligned(grain, lo, units):
                            wanted.setdefault(grain, set()).add((lo, units))
    return wanted


# The units with a one-unit block (a unit with executions, compacted), per team.
UNITS_SQL = """
SELECT team_id, {g.start} AS start FROM {g.table}
WHERE total AND {g.length} = 1 AND {g.start} >= %(since)s AND {g.start} < %(until)s {team_filter}
"""
BUILT_SQL = """
SELECT team_id, {g.start} AS start, {g.length} AS length FROM {g.table}
WHERE windowed AND total {team_filter}
"""
# Windows no longer wanted: no page's period starts there any more (or not with that length).
STALE_SQL = """
DELETE FROM {g.table}
WHERE windowed {team_filter}
  AND ({g.start}, {g.length}) NOT IN (SELECT * FROM unnest(%(starts)s::timestamptz[], %(lengths)s::int[]))
"""


def window_blocks_build(*, team=None, now: dt.datetime | None = None) -> int:
    """Build the missing window blocks of the standard periods (of every team with blocks there,
    or of ``team``) and delete the stale ones. Returns the windows built; a window over a unit a
    writer holds, or not compacted yet, is left for the next run. Idempotent."""
    now = now or timezone.now()
    built = 0
    team_filter = "AND team_id = %(team)s" if team is not None else ""
    team_param = {"team": team.pk} if team is not None else {}
    wanted = windows_wanted(now)
    for grain in GRAINS.values():
        windows = sorted(wanted.get(grain, ()))
        if windows:
            span = {
                "since": min(lo for lo, _ in windows),
                "until": max(lo + grain.step * units for lo, units in windows),
            }
            units_of: dict[int, list[dt.datetime]] = {}
            for r in sql.fetch_rows(_sql(UNITS_SQL, grain, team_filter), span | team_param):
                units_of.setdefault(r["team_id"], []).append(r["start"])
            present = {
                (r["team_id"], r["start"], r["length"])
                for r in sql.fetch_rows(_sql(BUILT_SQL, grain, team_filter), team_param)
            }
            for lo, units in windows:
                hi = lo + grain.step * units
                missing = [
                    (t, lo)
                    for t, starts in sorted(units_of.items())
                    if (t, lo, units) not in present and any(lo <= s < hi for s in starts)
                ]
                for i in range(0, len(missing), 16):
                    built += blocks_merge(grain, missing[i : i + 16], units, window=True)
        sql.execute(
            _sql(STALE_SQL, grain, team_filter),
            {"starts": [lo for lo, _ in windows], "lengths": [units for _, units in windows]} | team_param,
        )
    return built


def blocks_refresh(*, team=None, since: dt.datetime | None = None) -> dict[str, int]:
    """The block job's work (``observability.tasks``; after a rollup rebuild, from ``since``): the
    closed days and hours compacted, then the windows of the standard periods built, of every
    team or of ``team``. Returns what each step did: ``days`` and ``hours`` (units compacted),
    ``windows`` (built)."""
    return {
        "days": day_blocks_compact(team=team, since=since),
        "hours": hour_blocks_compact(team=team, since=since),
        "windows": window_blocks_build(team=team),
    }


def _sql(template: str, grain: Grain, team_filter: str) -> str:
    return template.format(g=grain, team_filter=team_filter)
