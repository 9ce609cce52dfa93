"""The dashboard's two views of a long period (per agent and model; per day or week) from day blocks.

Closed days that have day blocks (``observability.blocks``) are read from them: one row per agent
and model of a day, and one total row per day for the series; every other day, and the hourly and
raw edges of the period, from the rollups as before. So the histogram sums run over about half
the rows for the agents and over one row per day for the series, whatever the number of versions,
statuses and executions.
"""

from __future__ import annotations

import datetime as dt

from crucible.sql import fetch_rows
from observability.selectors.rollup_reads import HIST_ARRAY, _row, _segments, _time_expr, _where

SUMS = (
    "executions, successes, duration_sum_ms, duration_max_ms, input_tokens, output_tokens, cached_input_tokens, "
    "reasoning_tokens, cost, unpriced, hist"
)
AGGREGATES = (
    "sum(executions) AS executions, sum(successes) AS successes, sum(duration_sum_ms) AS duration_sum_ms, "
    "max(duration_max_ms) AS duration_max_ms, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, "
    "sum(cached_input_tokens) AS cached_input_tokens, sum(reasoning_tokens) AS reasoning_tokens, sum(cost) AS cost, "
    "sum(unpriced) AS unpriced, min(time) AS first_seen, max(time) AS last_seen"
)


# The agents read the fewest blocks that cover the period's compacted days (``_cover``); the
# series reads one-day blocks (a point per day).
COVERED = "(day, days) IN (SELECT * FROM unnest(%(cover_days)s::timestamptz[], %(cover_lengths)s::int[]))"
ONE_DAY = "days = 1 AND day >= %(block_lo)s AND day < %(block_hi)s"
COVER_SQL = """
SELECT day, days FROM observability_dayblockrollup
WHERE team_id = %(team)s AND total AND day >= %(lo)s AND day + days * interval '1 day' <= %(hi)s
"""


def _cover(team, lo, hi) -> list[tuple]:
    """[(day, length)]: from ``lo``, the longest block that starts on each day and ends by ``hi``
    (16, 8, 4, 2 or 1 days); a day without a block is skipped (read from the daily rollups)."""
    have = {(row["day"], row["days"]) for row in fetch_rows(COVER_SQL, {"team": team.pk, "lo": lo, "hi": hi})}
    cover, day = [], lo
    while day < hi:
        length = next((k for k in (16, 8, 4, 2, 1) if (day, k) in have), None)
        if length is None:
            day += dt.timedelta(days=1)
            continue
        cover.append((day, length))
        day += dt.timedelta(days=length)
    return cover


def block_days(*, start, end, time_bucket, status=None) -> tuple | None:
    """The [lo, hi) of the period that day blocks may serve, or None (a status filter needs the
    status column, a series finer than a day needs hours)."""
    if status:
        return None
    daily = [(lo, hi) for table, lo, hi in _segments(start, end, time_bucket) if table == "observability_dailyrollup"]
    return daily[0] if daily else None


def _block_sql(*, time: str, scope: str, filters: str) -> str:
    return (
        f"SELECT agent_name, model, {time} AS time, {SUMS} FROM (SELECT *, day AS bucket "
        f"FROM observability_dayblockrollup WHERE team_id = %(team)s AND {scope}{filters}) b"
    )


def _rest_sql(union: str, time: str) -> str:
    """The rollup rows not served by blocks, shaped like block rows (successes instead of status)."""
    return f"""
        SELECT agent_name, model, {time} AS time, executions,
               CASE WHEN status = 'success' THEN executions ELSE 0 END AS successes, duration_sum_ms,
               duration_max_ms, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost,
               unpriced, hist
        FROM ({union}) u
    """


def _filters(agent, model) -> str:
    return "".join(
        f" AND {column} = %({column})s" for column, value in (("agent_name", agent), ("model", model)) if value
    )


def block_rows(*, team, start, end, group_by=(), agent=None, model=None, with_hist=True) -> list[dict] | None:
    """``rollup_rows`` grouped by any of agent and model (no version, status or time), with the
    closed days of [start, end) read from day blocks; None when the period has no whole days (the
    caller reads the rollups). ``first_seen`` and ``last_seen`` are then only to the block."""
    days = block_days(start=start, end=end, time_bucket=None)
    if days is None or not set(group_by) <= {"agent", "model"}:
        return None
    union, params = _where(team, start, end, agent=agent, model=model, blocks=True)
    cover = _cover(team, *days)
    params |= {"cover_days": [day for day, _ in cover], "cover_lengths": [length for _, length in cover]}
    # Totals of an unfiltered period from the team's total rows; anything else from the agent rows.
    scope = ("NOT total" if group_by or agent or model else "total") + " AND " + COVERED
    keys = [{"agent": "agent_name AS agent", "model": "model"}[name] for name in group_by]
    select_keys = "".join(f"{key}, " for key in keys)
    group_clause = ("GROUP BY " + ", ".join(str(i) for i in range(1, len(keys) + 1))) if keys else ""
    hist = f", {HIST_ARRAY}" if with_hist else ""
    sql = f"""
        SELECT {select_keys}{AGGREGATES}{hist}
        FROM ({_rest_sql(union, "bucket")} UNION ALL {_block_sql(time="day", scope=scope, filters=_filters(agent, model))}) a
        {group_clause}
    """
    rows = fetch_rows(sql, params)
    return [_row(record, keys=group_by) for record in rows if record["executions"] is not None]


def block_agent_model_and_series(*, team, start, end, time_bucket, days, agent=None, model=None):
    """``rollup_agent_model_and_series`` for a period whose ``days`` (from ``block_days``) may be
    read from day blocks: the same rows, in one statement."""
    union, params = _where(team, start, end, agent=agent, model=model, time_bucket=time_bucket, blocks=True)
    cover = _cover(team, *days)
    params |= {
        "block_lo": days[0],
        "block_hi": days[1],
        "cover_days": [day for day, _ in cover],
        "cover_lengths": [length for _, length in cover],
    }
    filters = _filters(agent, model)
    time = _time_expr(time_bucket)
    # The series of an unfiltered dashboard reads the day's total row; a filtered one its agent rows.
    series_scope = "NOT total" if filters else "total"
    sql = f"""
        WITH rest AS MATERIALIZED ({_rest_sql(union, time)})
        SELECT agent_name AS agent, model, NULL::timestamptz AS time, 1 AS grouping, {AGGREGATES}, {HIST_ARRAY}
        FROM (SELECT * FROM rest UNION ALL {_block_sql(time=time, scope="NOT total AND " + COVERED, filters=filters)}) a
        GROUP BY agent_name, model
        UNION ALL
        SELECT NULL, NULL, time, 0, {AGGREGATES}, {HIST_ARRAY}
        FROM (SELECT * FROM rest UNION ALL {_block_sql(time=time, scope=series_scope + " AND " + ONE_DAY, filters=filters)}) t
        GROUP BY time
    """
    by_agent_model, series = [], []
    for record in fetch_rows(sql, params):
        if record["grouping"] == 1:
            by_agent_model.append(_row(record, keys=("agent", "model")))
        else:
            series.append(_row(record, keys=("time",)))
    return by_agent_model, series
