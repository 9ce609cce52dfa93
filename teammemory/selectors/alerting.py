"""Build figures of recent windows for alert rules (the alerts app's build failure rate)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from crucible.sql import fetch_one


def build_window_figures(*, team, tick: dt.datetime, windows: Iterable[int]) -> dict[int, dict]:
    """{window minutes: {"builds", "failures", "build_failure_rate"}} of the builds that started in
    [tick - window, tick), in one scan of the longest window (the covering index on team and start).
    Cancelled builds count as neither success nor failure; the rate is None without builds."""
    windows = sorted(set(windows))
    if not windows:
        return {}
    columns, params = [], {"team": team.pk, "tick": tick, "start": tick - dt.timedelta(minutes=windows[-1])}
    for minutes in windows:
        params[f"start_{minutes}"] = tick - dt.timedelta(minutes=minutes)
        columns.append(
            f"count(*) FILTER (WHERE started_at >= %(start_{minutes})s AND status <> 'cancelled') AS builds_{minutes}, "
            f"count(*) FILTER (WHERE started_at >= %(start_{minutes})s AND status = 'failed') AS failures_{minutes}"
        )
    row = fetch_one(
        f"SELECT {', '.join(columns)} FROM teammemory_build "
        "WHERE team_id = %(team)s AND started_at >= %(start)s AND started_at < %(tick)s",
        params,
    )
    figures = {}
    for minutes in windows:
        builds, failures = int(row[f"builds_{minutes}"]), int(row[f"failures_{minutes}"])
        figures[minutes] = {
            "builds": builds,
            "failures": failures,
            "build_failure_rate": round(failures / builds, 4) if builds else None,
        }
    return figures
