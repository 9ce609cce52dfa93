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
from crucible.sql import fetch_rows
from observability.selectors.rollup_reads import (
    AGGREGATES,
    HIST_ARRAY,
    RAW_AS_ROLLUP_SQL,
    ROLLUP_COLUMNS,
    _merge,
    _row,
    metrics,
)

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


def _windows_union(windows: list[int], tick: dt.datetime) -> tuple[str, dict]:
    union, params = [], {}
    n = 0
    for minutes in windows:
        for source, lo, hi in _segments(tick - dt.timedelta(minutes=minutes), tick):
            params |= {f"lo_{n}": lo, f"hi_{n}": hi}
            if source == "raw":
                body = f"SELECT {ROLLUP_COLUMNS} FROM ({RAW_AS_ROLLUP_SQL.format(lo=f'lo_{n}', hi=f'hi_{n}')}) raw"
            else:
                body = (
                    f"SELECT {ROLLUP_COLUMNS} FROM observability_hourlyrollup "
                    f"WHERE team_id = %(team)s AND bucket >= %(lo_{n})s AND bucket < %(hi_{n})s"
                )
            union.append(f"SELECT {minutes} AS window_minutes, s.* FROM ({body}) s")
            n += 1
    return " UNION ALL ".join(union), params


def _quality(team, windows: list[int], tick: dt.datetime) -> dict[tuple, tuple[float, int]]:
    parts, params = [], {"team": team.pk, "tick": tick}
    for minutes in windows:
        params[f"start_{minutes}"] = tick - dt.timedelta(minutes=minutes)
        parts.append(
            f"SELECT {minutes} AS window_minutes, agent_name, model, version, sum(quality) AS total, "
            "count(quality) AS n FROM observability_execution WHERE team_id = %(team)s "
            f"AND started_at >= %(start_{minutes})s AND started_at < %(tick)s AND quality IS NOT NULL "
            "GROUP BY agent_name, model, version"
        )
    return {
        (r["window_minutes"], r["agent_name"], r["model"], r["version"]): (float(r["total"]), int(r["n"]))
        for r in fetch_rows(" UNION ALL ".join(parts), params)
    }


def _matches(row_key: tuple, scope: Scope) -> bool:
    window, agent, model, version = scope
    return (
        row_key[0] == window
        and (not agent or row_key[1] == agent)
        and (not model or row_key[2] == model)
        and (not version or row_key[3] == version)
    )


def alert_window_figures(*, team, tick: dt.datetime, scopes: Iterable[Scope], with_quality: bool = False) -> dict:
    """{scope: figures} for each (window minutes, agent, model, version) scope of ``team`` in
    [tick - window, tick): ``metrics`` (executions, error_rate, p95_ms, p99_ms, cost,
    tokens_per_execution, unpriced, ...) plus ``avg_quality`` and ``quality_samples`` when
    ``with_quality``. Two SQL statements at most, whatever the number of scopes."""
    scopes = list(dict.fromkeys(scopes))
    windows = sorted({scope[0] for scope in scopes})
    if not windows:
        return {}
    union, params = _windows_union(windows, tick)
    sql = (
        f"SELECT window_minutes, agent_name AS agent, model, version, {AGGREGATES}, {HIST_ARRAY} "
        f"FROM ({union}) u GROUP BY window_minutes, agent_name, model, version"
    )
    rows = [
        _row(r, keys=("window_minutes", "agent", "model", "version"))
        for r in fetch_rows(sql, params | {"team": team.pk})
    ]
    keyed = [((r["window_minutes"], r["agent"], r["model"], r["version"]), r) for r in rows]
    quality = _quality(team, windows, tick) if with_quality else {}
    figures = {}
    for scope in scopes:
        merged = _merge([row for key, row in keyed if _matches(key, scope)])
        result = metrics(merged)
        if with_quality:
            total, n = 0.0, 0
            for key, (q_total, q_n) in quality.items():
                if _matches(key, scope):
                    total, n = total + q_total, n + q_n
            result["avg_quality"] = round(total / n, 2) if n else None
            result["quality_samples"] = n
        figures[scope] = result
    return figures
