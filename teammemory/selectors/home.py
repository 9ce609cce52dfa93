"""The team memory card of the home page."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from crucible import formatting
from teammemory.selectors.insights import insights_summary


def home_card(*, team, request) -> dict:
    until = timezone.now()
    summary = insights_summary(team=team, since=until - dt.timedelta(days=30), until=until)
    figures = [
        {"label": "Builds (30 days)", "value": formatting.number(summary["builds"])},
        {"label": "Success rate", "value": formatting.percent(summary["success_rate"])},
        {"label": "Avg quality", "value": formatting.number(summary["avg_quality"])},
    ]
    return {
        "title": "Team memory",
        "url": reverse("teammemory:index"),
        "figures": figures,
        "note": "What your builds show: quality trend, stacks that work, recurring errors.",
        "links": [
            {"label": "Builds", "url": reverse("teammemory:build-list")},
            {"label": "Suggest a stack", "url": reverse("teammemory:suggest")},
        ],
    }
