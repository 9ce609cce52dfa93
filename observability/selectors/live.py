"""The live view's figures (the last 15 or 60 minutes, per minute) from the minute rollups.

The team's total rows per (minute, status) (``observability.minutes``, agent empty): at most two rows a minute
whatever the traffic, so the read does not grow with the executions of the hour. An agent filter,
or a window older than the minutes kept, reads the raw executions (``dashboard``) instead.
"""

from __future__ import annotations

from crucible.sql import fetch_rows
from observability import histogram
from observability.minutes import minutes_kept_since
from observability.selectors.dashboard import dashboard
from observability.selectors.rollup_reads import AGGREGATES, HIST_ARRAY, TimeRange, _merge, _row, metrics

# Each minute and (``is_total``) the whole window, in one scan: the totals' histogram is summed here
# rather than by adding sixty arrays in Python.
SERIES_SQL = f"""
SELECT bucket AS time, GROUPING(bucket) AS is_total, {AGGREGATES}, {HIST_ARRAY}
FROM observability_minuterollup
WHERE team_id = %(team)s AND agent_name = '' AND bucket >= %(start)s AND bucket < %(end)s {{status_filter}}
GROUP BY GROUPING SETS ((bucket), ())
"""


def live_dashboard(*, team, period: TimeRange, agent=None, status=None) -> dict:
    """``dashboard``'s totals, series and filters for a minute-bucket period (no per-agent rows:
    the live view shows none)."""
    if agent or period.bucket != "minute" or period.start < minutes_kept_since():
        return dashboard(team=team, period=period, agent=agent, status=status)
    params = {"team": team.pk, "start": period.start, "end": period.end}
    status_filter = ""
    if status:
        status_filter, params["status"] = "AND status = %(status)s", status
    records = fetch_rows(SERIES_SQL.format(status_filter=status_filter), params, binary=True)
    rows = [_row(record, keys=("time",)) for record in records if not record["is_total"]]
    total = next((record for record in records if record["is_total"]), None)
    series = [
        {key: m[key] for key in ("executions", "error_rate", "p95_ms", "cost", "unpriced")} | {"time": row["time"]}
        for row, m in ((row, metrics(row)) for row in rows)
    ]
    # An empty window's total row holds NULL sums: the zeros of an empty merge instead.
    totals = _row(total) if total is not None and total["executions"] is not None else _merge([])
    return {
        "period": period.as_dict(),
        "filters": {"agent": "", "model": "", "status": status or ""},
        "totals": metrics(totals),
        "agents": [],
        "series": period.fill(
            series, {"executions": 0, "error_rate": None, "p95_ms": None, "cost": 0.0, "unpriced": 0}
        ),
        "unpriced": {"executions": totals["unpriced"], "models": []},
        "histogram_relative_error": round(histogram.RELATIVE_ERROR, 4),
    }
