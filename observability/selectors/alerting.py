"""Figures of recent windows for alert rules: one read of a team's rollups for every window its
rules use, then per scope (agent, model, version; empty = any) the usual figures (``metrics``).

A window is [tick - minutes, tick), with ``tick`` a whole minute. Its whole hours are read from the
hourly rollups and its edges (the part of an hour at each end) from raw executions, in one SQL
statement for all windows; so the cost grows with agents x hours, not with executions. Average
quality is not in the rollups: it is read from raw executions (the window is at most a day), in a
second statement, only when asked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from crucible import periods
from crucible.sql import fetch_one, fetch_rows
from observability import conf
from observability.selectors.rollup_reads import (
    AGGREGATES,
    HIST_ARRAY,
    RAW_AS_ROLLUP_SQL,
    ROLLUP_COLUMNS,
    _merge,
    _row,
    metrics,
)
from observability.services import ROLLUP_FROM_RAW_SQL

Scope = tuple[int, str, str, str]  # (window minutes, agent, model, version); "" = any


def _segments(start: dt.datetime, end: dt.datetime) -> list[tuple[str, dt.datetime, dt.datetime]]:
    first_hour, last_hour = periods.ceil(start, "hour"), periods.floor(end, "hour")
    if first_hour >= last_hour:
        return [("raw", start, end)]
    parts = [("raw", start, first_hour)] if start < first_hour else []
    parts.append(("hourly", first_hour, last_hour))
    if last_hour < end:
        parts.append(("raw", last_hour, end))
    return parts


def _windows_union(windows: list[int], tick: dt.datetime) -> tuple[str, str, dict]:
    """(the raw CTE, the union of every window's segments, parameters). Raw executions are read
    once per distinct range: the recent one (every segment that ends at the tick lies in it) and
    the start edge of each long window, at minute grain, into a materialized CTE the windows share."""
    plans = {minutes: _segments(tick - dt.timedelta(minutes=minutes), tick) for minutes in windows}
    raw_parts = [(lo, hi) for parts in plans.values() for source, lo, hi in parts if source == "raw"]
    recent_lo = min((lo for lo, hi in raw_parts if hi == tick), default=tick)
    ranges = sorted(
        {(lo, hi) for lo, hi in raw_parts if lo < recent_lo} | ({(recent_lo, tick)} if recent_lo < tick else set())
    )
    params = {}
    reads = []
    for i, (lo, hi) in enumerate(ranges):
        params |= {f"raw_lo_{i}": lo, f"raw_hi_{i}": hi}
        reads.append(f"SELECT {ROLLUP_COLUMNS} FROM ({RAW_AS_ROLLUP_SQL.format(lo=f'raw_lo_{i}', hi=f'raw_hi_{i}')}) r")
    cte = f"WITH raw AS MATERIALIZED ({' UNION ALL '.join(reads)}) " if reads else ""
    union = []
    n = 0
    for minutes, parts in plans.items():
        for source, lo, hi in parts:
            params |= {f"lo_{n}": lo, f"hi_{n}": hi}
            table = "raw" if source == "raw" else "observability_hourlyrollup"
            team_filter = "" if source == "raw" else "team_id = %(team)s AND "
            union.append(
                f"SELECT {minutes} AS window_minutes, {ROLLUP_COLUMNS} FROM {table} "
                f"WHERE {team_filter}bucket >= %(lo_{n})s AND bucket < %(hi_{n})s"
            )
            n += 1
    return cte, " UNION ALL ".join(union), params


# The tagged executions of a team (the partial index execution_team_tagged): a tag-scoped read.
TAGGED = "tags <> '{}'::varchar(64)[] AND tags @> ARRAY[%(tag)s]::varchar(64)[]"


def _quality(team, windows: list[int], tick: dt.datetime, tag: str = "") -> dict[tuple, tuple[float, int]]:
    """{(window, agent, model, version): (sum, count)} of quality, in one scan of the longest window
    (of the executions tagged ``tag`` when given)."""
    columns, params = [], {"team": team.pk, "tick": tick, "start": tick - dt.timedelta(minutes=max(windows))}
    params["tag"] = tag
    for minutes in windows:
        params[f"start_{minutes}"] = tick - dt.timedelta(minutes=minutes)
        columns.append(
            f"sum(quality) FILTER (WHERE started_at >= %(start_{minutes})s) AS total_{minutes}, "
            f"count(*) FILTER (WHERE started_at >= %(start_{minutes})s) AS n_{minutes}"
        )
    rows = fetch_rows(
        f"SELECT agent_name, model, version, {', '.join(columns)} FROM observability_execution "
        "WHERE team_id = %(team)s AND started_at >= %(start)s AND started_at < %(tick)s AND quality IS NOT NULL "
        "AND counts_execution " + (f"AND {TAGGED} " if tag else "") + "GROUP BY agent_name, model, version",
        params,
    )
    found = {}
    for r in rows:
        for minutes in windows:
            if r[f"n_{minutes}"]:
                key = (minutes, r["agent_name"], r["model"], r["version"])
                found[key] = (float(r[f"total_{minutes}"]), int(r[f"n_{minutes}"]))
    return found


def _with_quality(result: dict, quality: dict, scope: Scope) -> dict:
    total, n = 0.0, 0
    for key, (q_total, q_n) in quality.items():
        if _matches(key, scope):
            total, n = total + q_total, n + q_n
    result["avg_quality"] = round(total / n, 2) if n else None
    result["quality_samples"] = n
    return result


def _matches(row_key: tuple, scope: Scope) -> bool:
    window, agent, model, version = scope
    return (
        row_key[0] == window
        and (not agent or row_key[1] == agent)
        and (not model or row_key[2] == model)
        and (not version or row_key[3] == version)
    )


def alert_window_figures(
    *, team, tick: dt.datetime, scopes: Iterable[Scope], quality_windows: Iterable[int] = ()
) -> dict:
    """{scope: figures} for each (window minutes, agent, model, version) scope of ``team`` in
    [tick - window, tick): ``metrics`` (executions, error_rate, p95_ms, p99_ms, cost,
    tokens_per_execution, unpriced, ...), plus ``avg_quality`` and ``quality_samples`` for the
    scopes whose window is in ``quality_windows``. Two SQL statements at most, whatever the number
    of scopes."""
    scopes = list(dict.fromkeys(scopes))
    windows = sorted({scope[0] for scope in scopes})
    if not windows:
        return {}
    cte, union, params = _windows_union(windows, tick)
    sql = (
        f"{cte}SELECT window_minutes, agent_name AS agent, model, version, {AGGREGATES}, {HIST_ARRAY} "
        f"FROM ({union}) u GROUP BY window_minutes, agent_name, model, version"
    )
    rows = [
        _row(r, keys=("window_minutes", "agent", "model", "version"))
        for r in fetch_rows(sql, params | {"team": team.pk})
    ]
    by_window: dict[int, list] = {}
    for r in rows:
        by_window.setdefault(r["window_minutes"], []).append(
            ((r["window_minutes"], r["agent"], r["model"], r["version"]), r)
        )
    quality_windows = sorted(set(quality_windows))
    quality = _quality(team, quality_windows, tick) if quality_windows else {}
    figures = {}
    for scope in scopes:
        merged = _merge([row for key, row in by_window.get(scope[0], ()) if _matches(key, scope)])
        result = metrics(merged)
        if scope[0] in quality_windows:
            _with_quality(result, quality, scope)
        figures[scope] = result
    return figures


TagScope = tuple[int, str, str, str, str]  # (window minutes, agent, model, version, tag); "" = any

# How many executions carry the tag in the longest window, counted up to the budget (+1).
TAG_COUNT_SQL = f"""
SELECT count(*) AS n FROM (
    SELECT 1 FROM observability_execution
    WHERE team_id = %(team)s AND started_at >= %(start)s AND started_at < %(end)s AND {TAGGED}
    LIMIT %(cap)s
) capped
"""
# Every window's figures per (agent, model, version) from the tagged executions, counted by the
# rollups' rule (ROLLUP_FROM_RAW_SQL at minute grain, then summed per window).
TAG_WINDOWS_SQL = (
    "SELECT w.minutes AS window_minutes, r.agent_name AS agent, r.model, r.version, "
    + AGGREGATES.replace("min(bucket)", "min(r.bucket)").replace("max(bucket)", "max(r.bucket)")
    + f", {HIST_ARRAY} FROM ("
    + ROLLUP_FROM_RAW_SQL.format(unit="minute", team_filter=f"AND team_id = %(team)s AND {TAGGED}")
    + ") r JOIN unnest(%(windows)s::int[]) AS w(minutes) ON r.bucket >= %(end)s - w.minutes * interval '1 minute' "
    "GROUP BY w.minutes, r.agent_name, r.model, r.version"
)


def alert_tag_window_figures(
    *, team, tick: dt.datetime, scopes: Iterable[TagScope], quality_windows: Iterable[int] = ()
) -> dict:
    """{scope: figures} for (window minutes, agent, model, version, tag) scopes, as
    ``alert_window_figures`` gives them, read from the raw executions that carry the tag (rollups
    have no tags). Per tag: a count bounded by ``ALERT_TAG_MAX_ROWS`` (a tag over it is not read:
    its scopes get ``{"over_budget": True}``), one read of every window, and quality when asked."""
    by_tag: dict[str, list[TagScope]] = {}
    for scope in dict.fromkeys(scopes):
        by_tag.setdefault(scope[4], []).append(scope)
    quality_windows = set(quality_windows)
    figures = {}
    for tag, tag_scopes in by_tag.items():
        windows = sorted({scope[0] for scope in tag_scopes})
        params = {"team": team.pk, "tag": tag, "start": tick - dt.timedelta(minutes=windows[-1]), "end": tick}
        if fetch_one(TAG_COUNT_SQL, params | {"cap": conf.ALERT_TAG_MAX_ROWS + 1})["n"] > conf.ALERT_TAG_MAX_ROWS:
            figures |= {scope: {"over_budget": True} for scope in tag_scopes}
            continue
        rows = [
            _row(r, keys=("window_minutes", "agent", "model", "version"))
            for r in fetch_rows(TAG_WINDOWS_SQL, params | {"windows": windows})
        ]
        asked = sorted(quality_windows & set(windows))
        quality = _quality(team, asked, tick, tag) if asked else {}
        for scope in tag_scopes:
            plain = scope[:4]
            keyed = [r for r in rows if _matches((r["window_minutes"], r["agent"], r["model"], r["version"]), plain)]
            result = metrics(_merge(keyed))
            if scope[0] in quality_windows:
                _with_quality(result, quality, plain)
            figures[scope] = result
    return figures
