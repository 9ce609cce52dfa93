"""The agent page's chart, built on ``crucible.charts``."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from crucible import charts


def installs_chart(*, stats: dict, days: int = 90) -> dict:
    """Installs and downloads per day over the last ``days`` days, days without activity drawn as
    zero (``stats`` from ``marketplace.selectors.agent_stats``)."""
    daily = {row["day"]: row for row in stats["daily"]}
    if not daily:
        return charts.line_chart([])
    today = timezone.now().date()
    span = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    return charts.line_chart(
        [
            charts.Series(
                name="Installs", x=span, y=[daily[d]["installs"] if d in daily else 0 for d in span], kind="bar"
            ),
            charts.Series(
                name="Downloads",
                x=span,
                y=[daily[d]["downloads"] if d in daily else 0 for d in span],
                secondary_axis=True,
            ),
        ],
        y_title="installs",
        y2_title="downloads",
    )
