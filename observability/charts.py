"""The observability pages' charts, built on ``crucible.charts`` (agent and version names
escaped)."""

from __future__ import annotations

from crucible import charts, periods


def _over_time(series: list[dict], key: str, *, title: str, x_range, kind="line", y_title="", scale=1) -> dict:
    points = [
        charts.Series(
            name=title,
            x=[p["time"] for p in series],
            y=[None if p[key] is None else p[key] * scale for p in series],
            kind=kind,
        )
    ]
    return charts.line_chart(points if series else [], title=title, y_title=y_title, x_range=x_range)


def series_charts(series: list[dict], period=None) -> dict:
    """The four charts over time of the dashboard and the agent page, keyed by their element id.
    With a ``period`` the time axis spans its buckets (one point does not get an axis of
    milliseconds); a series without any execution is an empty chart."""
    if not any(p.get("executions") for p in series):
        series = []
    x_range = None
    if period is not None and series:
        width = periods.BUCKETS[period.bucket]
        x_range = [series[0]["time"] - width / 2, series[-1]["time"] + width / 2]
    over_time = {"x_range": x_range}
    return {
        "obs-executions": _over_time(series, "executions", title="Executions", kind="bar", **over_time),
        "obs-error-rate": _over_time(series, "error_rate", title="Error rate", y_title="%", scale=100, **over_time),
        "obs-p95": _over_time(series, "p95_ms", title="p95 duration", y_title="ms", **over_time),
        "obs-cost": _over_time(series, "cost", title="Cost", kind="bar", y_title="USD", **over_time),
    }


def versions_chart(versions: list[dict]) -> dict:
    return charts.bar_chart(
        labels=[v["version"] for v in versions],
        values=[v["p95_ms"] for v in versions],
        name="p95 ms",
        value_title="ms",
        title="p95 by version",
    )


def time_share_chart(by_time: list[dict], *, top: int = 10) -> dict:
    rows = by_time[:top]
    return charts.bar_chart(
        labels=[row["agent"] for row in rows],
        values=[row["time_share"] * 100 for row in rows],
        name="share of time %",
        horizontal=True,
        title="Share of total agent time (%)",
    )
