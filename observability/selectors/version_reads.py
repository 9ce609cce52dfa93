"""Versions of agents compared over a period: the sums from daily rows, first seen to the hour.

Which of two versions is newer is decided by the hour each was first seen, and a regression's
"released at" is that hour. Reading every hourly row of a long window for that (what
``rollup_rows(hourly=True)`` does) summed the 134-bucket histogram of each: at 10 million
executions, 14 days of hourly rows made the bottlenecks page take seconds. Here the sums come from
the usual segments (daily rows for whole days), and only the first day of the versions whose hour
matters is read from the hourly rows, without histograms (``first_seen_to_the_hour``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from crucible.sql import fetch_rows
from observability.selectors import block_sums
from observability.selectors.block_reads import AGGREGATES, with_blocks
from observability.selectors.rollup_reads import DAY, HIST_ARRAY, _merge, _row, _segments, rollup_rows

# Of the models a group ran, the first and the last by name: two names tell that the agent ran more
# than one model in the period (``models`` of ``periods_compared``), without a DISTINCT aggregate.
MODELS = "min(model) AS model_min, max(model) AS model_max"

# The first hour of each (agent, version) on the day it was first seen (named by the caller).
FIRST_HOUR_SQL = """
SELECT h.agent_name AS agent, h.version, min(h.bucket) AS first_seen
FROM observability_hourlyrollup h
JOIN unnest(%(agents)s::text[], %(versions)s::text[], %(days)s::timestamptz[]) AS c(agent, version, day)
  ON h.agent_name = c.agent AND h.version = c.version AND h.bucket >= c.day AND h.bucket < c.day + interval '1 day'
WHERE h.team_id = %(team)s AND h.bucket >= %(lo)s AND h.bucket < %(hi)s
GROUP BY 1, 2
"""


def _daily_parts(*spans) -> list[tuple[dt.datetime, dt.datetime]]:
    return [
        (lo, hi)
        for start, end in spans
        for table, lo, hi in _segments(start, end)
        if table == "observability_dailyrollup"
    ]


def first_seen_to_the_hour(*, team, rows: list[dict], spans) -> None:
    """Replace, in place, the ``first_seen`` of ``rows`` (aggregates per agent and version of the
    periods ``spans``, [(start, end)], read by ``rollup_rows``) that a daily row gave to the day
    by the hour it was first seen (one query over those days' hourly rows, no histogram)."""
    daily = _daily_parts(*spans)
    vague = [r for r in rows if any(lo <= r["first_seen"] < hi for lo, hi in daily)]
    if not vague:
        return
    found = fetch_rows(
        FIRST_HOUR_SQL,
        {
            "team": team.pk,
            "agents": [r["agent"] for r in vague],
            "versions": [r["version"] for r in vague],
            "days": [r["first_seen"] for r in vague],
            "lo": min(lo for lo, _ in daily),
            "hi": max(hi for _, hi in daily),
        },
    )
    hours = {(f["agent"], f["version"]): f["first_seen"] for f in found}
    for r in vague:
        r["first_seen"] = hours.get((r["agent"], r["version"]), r["first_seen"])


def version_rows(
    *, team, start, end, agent: str | None = None, exact: Callable[[list[dict]], list[dict]] | None = None
) -> list[dict]:
    """Aggregates per (agent, version) of [start, end) (``rollup_rows`` rows with ``agent`` and
    ``version``); the ``first_seen`` of the rows ``exact(rows)`` picks (default: every row) exact
    to the hour, the others possibly only to the day."""
    rows = rollup_rows(team=team, start=start, end=end, group_by=("agent", "version"), agent=agent)
    first_seen_to_the_hour(team=team, rows=exact(rows) if exact else rows, spans=[(start, end)])
    return rows


def newest_two_need_hours(since: dt.datetime) -> Callable[[list[dict]], list[dict]]:
    """For ``version_rows``: the rows whose hour decides which two versions of an agent are the
    newest, when the newest may have appeared since ``since`` (a regression's pair). A version
    first seen before the day of ``since`` cannot be the newest one of the period; when exactly
    one was seen since, the versions of the latest day before it compete for second place."""
    day_of_since = since.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    def pick(rows: list[dict]) -> list[dict]:
        by_agent: dict[str, list[dict]] = {}
        for row in rows:
            if row["version"]:
                by_agent.setdefault(row["agent"], []).append(row)
        picked = []
        for versions in by_agent.values():
            recent = [r for r in versions if r["first_seen"] >= day_of_since]
            picked += recent
            if len(recent) == 1:
                older = [r for r in versions if r["first_seen"] < day_of_since]
                if older:
                    latest_day = max(r["first_seen"] for r in older) - DAY
                    picked += [r for r in older if r["first_seen"] > latest_day]
        return picked

    return pick


def _added(rows: list[dict]) -> dict:
    """The sums of aggregate rows (``_row`` rows): a lone row as it is (its histogram a list of its
    own if it was kept as a tuple: ``block_sums``), several merged."""
    if len(rows) > 1:
        return _merge(rows)
    row = rows[0]
    return row if type(row["hist"]) is not tuple else {**row, "hist": list(row["hist"])}


def periods_compared(*, team, period, previous, since=None, previous_agents=True) -> dict:
    """What the regressions (and the bottlenecks) of ``period`` read, in ONE pass over the rollups
    of ``previous`` and ``period``: ``current`` and ``previous`` ({agent: aggregate row}, as
    ``per_agent``) and ``versions`` (rows per agent and version over both periods, as
    ``version_rows`` with ``exact=newest_two_need_hours(since or period.start)``, of the agents
    that ran two named versions or more). Each rollup
    row's histogram is summed once (per agent, version and period), not once per figure; closed
    days and hours come from blocks (``block_reads.with_blocks``), which keep the version, and the
    sums of the previous period's blocks from the process's cache when it summed the same block
    instances before (``block_sums``).
    ``previous_agents=False``: the caller does not read ``previous`` (recommendations), so the
    previous period's histograms are summed only for the agents whose versions are compared; the
    other rows of ``previous`` come without a histogram. ``models``: {agent: names of models it
    ran in ``period``}, complete for an agent that ran one model (one name), and at least two
    names for one that ran several."""
    before_read = with_blocks(team, previous.start, previous.end, name="p")
    read = with_blocks(team, period.start, period.end, name="c")
    kept = None
    if before_read.parts and previous_agents:
        groups, kept = _groups_with_kept_blocks(team, previous, before_read, read)
    else:
        # No block can serve the previous period (bounds not on whole hours), or its histograms are
        # summed for a few agents only (``previous_agents=False``: kept sums would cost a first read
        # every agent's and save little after): one statement.
        groups = _groups_in_one_statement(before_read, read, previous_agents=previous_agents)
    by_period: dict[tuple, list] = {}
    by_version: dict[tuple, list] = {}
    models: dict[str, set[str]] = {}
    for agent, version, cur, model_min, model_max, row in groups:
        if cur:
            models.setdefault(agent, set()).update((model_min, model_max))
        by_period.setdefault((agent, cur), []).append(row)
        by_version.setdefault((agent, version), []).append(row)
    current, before = {}, {}
    for (agent, cur), rows in by_period.items():
        (current if cur else before)[agent] = {"agent": agent, **_added(rows)}
    # A version regression compares two named versions of an agent: the others are never read.
    named: dict[str, int] = {}
    for agent, version in by_version:
        named[agent] = named.get(agent, 0) + bool(version)
    versions = [
        {"agent": agent, "version": version, **_added(rows)}
        for (agent, version), rows in by_version.items()
        if named[agent] >= 2
    ]
    first_seen_to_the_hour(
        team=team,
        rows=newest_two_need_hours(since or period.start)(versions),
        spans=[(previous.start, previous.end), (period.start, period.end)],
    )
    # ``previous_memo``: where the previous period's rows are the kept sums alone (every read of
    # them alike), a place to keep what is computed from them (``analysis.compared``'s figures).
    memo = kept.memo if kept is not None else None
    return {"current": current, "previous": before, "versions": versions, "models": models, "previous_memo": memo}


# The groups of ``periods_compared``: (agent, version, cur, first model, last model, sums).
GROUP_SELECT = f"agent_name AS agent, version, {{cur}} AS cur, {AGGREGATES}, {MODELS}, {HIST_ARRAY}"
# As many NULLs as GROUP_SELECT has sums (the aggregates, the two model names and the histogram).
_NO_SUMS = ", ".join(["NULL"] * (AGGREGATES.count(" AS ") + MODELS.count(" AS ") + 1))


def _group(record: dict) -> tuple:
    return (record["agent"], record["version"], record["cur"], record["model_min"], record["model_max"], _row(record))


def _groups_with_kept_blocks(team, previous, before_read, read) -> tuple[list[tuple], block_sums.Kept | None]:
    """The groups of both periods in one statement, the previous period's blocks' sums from
    ``block_sums.CACHE`` when the statement finds the same block instances as this process kept for
    that period (else summed by it, and kept); every other row summed by it. The previous period is
    closed: its blocks change when the period moves (every hour for 24 hours, every six for 7
    days) or a late event lands in it. The current period's last blocks change every hour, and
    keeping them apart from its open hour would cost each first read more than it saves. Also
    returns the ``Kept`` entry read when the previous period's rows are its sums alone (a hit, and
    no rollup row of that period outside the blocks), else None."""
    key = ("periods_compared", team.pk, previous.start, previous.end)
    known = block_sums.CACHE.get(key)
    rest = f"""
        SELECT *, false AS cur FROM ({before_read.rest}) p
        UNION ALL SELECT *, true FROM ({read.rows(scope="NOT total")}) c
    """
    sql = f"""
        WITH {", ".join([*before_read.ctes, *read.ctes])}, {block_sums.known_ctes(before_read.cover("false"))}
        SELECT 'rest' AS part, {GROUP_SELECT.format(cur="cur")}, NULL::text AS instance
        FROM ({rest}) r GROUP BY 2, 3, 4
        UNION ALL
        SELECT 'blocks', {GROUP_SELECT.format(cur="false")}, NULL
        FROM ({before_read.blocks(scope="NOT total", time="bucket")}) b WHERE NOT (SELECT hit FROM known) GROUP BY 2, 3
        UNION ALL
        SELECT CASE WHEN (SELECT hit FROM known) THEN 'hit' ELSE 'cover' END, NULL, NULL, tag, {_NO_SUMS}, instance
        FROM cover
    """
    params = before_read.params | read.params | block_sums.known_params(known)
    parts: dict[str, list] = {"rest": [], "blocks": [], "cover": [], "hit": []}
    for record in fetch_rows(sql, params, binary=True):
        parts[record["part"]].append(record)
    groups = [_group(r) for r in parts["rest"]]
    if parts["hit"]:  # the blocks' sums this process kept
        alone = not any(r["cur"] is False for r in parts["rest"])
        return [*known.groups, *groups], known if alone else None
    kept = tuple(_group(r) for r in parts["blocks"])
    if parts["cover"]:
        block_sums.CACHE.put(key, block_sums.Kept.of([r["instance"] for r in parts["cover"]], kept), weight=len(kept))
    return [*kept, *groups], None


def _groups_in_one_statement(before_read, read, *, previous_agents: bool) -> list[tuple]:
    """The groups of both periods, blocks and rollup rows summed together in one statement.
    ``previous_agents=False``: the previous period's histograms only where two named versions may
    be compared."""
    rows = f"""
        SELECT *, false AS cur FROM ({before_read.rows(scope="NOT total")}) p
        UNION ALL SELECT *, true FROM ({read.rows(scope="NOT total")}) c
    """
    # Sums per agent, version and period (each rollup row's histogram summed once, in PostgreSQL),
    # added up again by the caller per agent and period and per agent and version: most agents run one
    # version, so most of those groups are one row, used as it is (no second pass of 134 sums).
    sql = f"""
        WITH {", ".join([*before_read.ctes, *read.ctes])}
        SELECT {GROUP_SELECT.format(cur="cur")} FROM ({rows}) r GROUP BY 1, 2, 3
    """
    if not previous_agents:
        sql = f"""
            WITH {", ".join([*before_read.ctes, *read.ctes])}, r AS MATERIALIZED ({rows}),
            compared AS (SELECT agent_name FROM r WHERE version <> '' GROUP BY 1 HAVING count(DISTINCT version) > 1),
            summed AS (SELECT * FROM r WHERE cur OR agent_name IN (SELECT agent_name FROM compared))
            SELECT {GROUP_SELECT.format(cur="cur")} FROM summed GROUP BY 1, 2, 3
            UNION ALL
            SELECT agent_name, version, cur, {AGGREGATES}, {MODELS}, NULL FROM r
            WHERE NOT cur AND agent_name NOT IN (SELECT agent_name FROM compared) GROUP BY 1, 2, 3
        """
    return [_group(record) for record in fetch_rows(sql, before_read.params | read.params, binary=True)]
