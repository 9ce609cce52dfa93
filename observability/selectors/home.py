"""Reads for other pages: the executions of a team memory build, and the home page card."""

from __future__ import annotations

from django.urls import reverse

from crucible import formatting
from observability.models import Execution
from observability.selectors.block_reads import block_rows
from observability.selectors.rollup_reads import metrics, rollup_rows, time_range


def executions_for_build(*, team, build):
    """The executions reported with a team memory build, oldest first (used by the build page)."""
    return Execution.objects.filter(team=team, build=build).order_by("started_at", "id")


def home_card(*, team, request) -> dict:
    period = time_range("24h")
    # Closed hours from hour blocks (observability.blocks): a few total rows instead of every hourly row.
    rows = block_rows(team=team, start=period.start, end=period.end)
    if rows is None:
        rows = rollup_rows(team=team, start=period.start, end=period.end)
    m = metrics(rows[0]) if rows else None
    url = reverse("observability:index")
    if m is None:
        return {
            "title": "Observability",
            "url": url,
            "figures": [],
            "note": "No executions in the last 24 hours.",
            "links": [{"label": "How to send executions", "url": reverse("api-docs")}],
        }
    figures = [
        {"label": "Executions (24 h)", "value": formatting.number(m["executions"])},
        {"label": "Success rate", "value": formatting.percent(m["success_rate"])},
        {"label": "p95", "value": formatting.duration(m["p95_ms"])},
        {"label": "Cost", "value": formatting.money(m["cost"])},
    ]
    note = f"{formatting.number(m['unpriced'])} executions have no price for their model." if m["unpriced"] else ""
    return {
        "title": "Observability",
        "url": url,
        "figures": figures,
        "note": note,
        "links": [
            {"label": "Bottlenecks", "url": reverse("observability:bottlenecks")},
            {"label": "Recommendations", "url": reverse("observability:recommendations")},
        ],
    }
