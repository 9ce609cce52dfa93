"""The observability pages' charts, built on ``crucible.charts`` (agent and version names
escaped). Every bar and point carries the URL of the rows behind it (``observability.drilldown``)."""

from __future__ import annotations

from crucible import charts, periods
from observability import drilldown


def _over_time(
    series: list[dict], key: str, *, title: str, x_range, kind="line", y_title="", scale=1, links=None
) -> dict:
    points = [
        charts.Series(
            name=title,
            x=[p["time"] for p in series],
            y=[None if p[key] is None else p[key] * scale for p in series],
            kind=kind,
            links=links,
        )
    ]
    return charts.line_chart(points if series else [], title=title, y_title=y_title, x_range=x_range)


def series_charts(series: list[dict], period=None, filters: dict | None = None) -> dict:
    """The four charts over time of the dashboard and the agent page, keyed by their element id.
    With a ``period`` the time axis spans its buckets (one point does not get an axis of
    milliseconds) and each point opens its bucket's executions with the page's ``filters``
    (agent, model, status; the error rate's points open the bucket's errors); a series without
    any execution is an empty chart."""
    if not any(p.get("executions") for p in series):
        series = []
    x_range = links = error_links = None
    filters = {name: value for name, value in (filters or {}).items() if value}
    if period is not None and series:
        width = periods.BUCKETS[period.bucket]
        x_range = [series[0]["time"] - width / 2, series[-1]["time"] + width / 2]
        links = drilldown.bucket_urls(series, period, **filters)
        error_links = drilldown.bucket_urls(series, period, **{"status": "error", **filters})
    over_time = {"x_range": x_range}
    return {
        "obs-executions": _over_time(series, "executions", title="Executions", kind="bar", links=links, **over_time),
        "obs-error-rate": _over_time(
            series, "error_rate", title="Error rate", y_title="%", scale=100, links=error_links, **over_time
        ),
        "obs-p95": _over_time(series, "p95_ms", title="p95 duration", y_title="ms", links=links, **over_time),
        "obs-cost": _over_time(series, "cost", title="Cost", kind="bar", y_title="USD", links=links, **over_time),
    }


def versions_chart(versions: list[dict], *, agent: str | None = None, period=None) -> dict:
    """p95 per version; with ``agent`` and ``period`` each bar opens that version's executions."""
    links = None
    if agent is not None and period is not None:
        links = [
            drilldown.period_url(period, agent=agent, version=v["version_label"], unversioned=not v["version_label"])
            for v in versions
        ]
    return charts.bar_chart(
        labels=[v["version"] for v in versions],
        values=[v["p95_ms"] for v in versions],
        name="p95 ms",
        value_title="ms",
        title="p95 by version",
        links=links,
    )


def time_share_chart(by_time: list[dict], *, top: int = 10, period=None) -> dict:
    """Share of agent time per agent; with ``period`` each bar opens that agent's slowest runs."""
    rows = by_time[:top]
    links = None
    if period is not None:
        links = [drilldown.period_url(period, agent=row["agent"], ordering="-duration") for row in rows]
    return charts.bar_chart(
        labels=[row["agent"] for row in rows],
        values=[row["time_share"] * 100 for row in rows],
        name="share of time %",
        horizontal=True,
        title="Share of total agent time (%)",
        links=links,
    )
