"""The observability pages' charts, built on ``crucible.charts`` (agent and version names
escaped)."""

from __future__ import annotations

from crucible import charts


def _over_time(series: list[dict], key: str, *, title: str, kind: str = "line", y_title: str = "", scale=1) -> dict:
    points = [
        charts.Series(
            name=title,
            x=[p["time"] for p in series],
            y=[None if p[key] is None else p[key] * scale for p in series],
            kind=kind,
        )
    ]
    return charts.line_chart(points if series else [], title=title, y_title=y_title)


def series_charts(series: list[dict]) -> dict:
    """The four charts over time of the dashboard and the agent page, keyed by their element id."""
    return {
        "obs-executions": _over_time(series, "executions", title="Executions", kind="bar"),
        "obs-error-rate": _over_time(series, "error_rate", title="Error rate", y_title="%", scale=100),
        "obs-p95": _over_time(series, "p95_ms", title="p95 duration", y_title="ms"),
        "obs-cost": _over_time(series, "cost", title="Cost", kind="bar", y_title="USD"),
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
