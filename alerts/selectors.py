"""Alert reads: the team's rules and their history, a rule's chart series, the home card."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from alerts.models import AlertRule, AlertTransition, State
from alerts.services.evaluation import rule_readings, tick_of


def alert_rule_list(*, team) -> QuerySet[AlertRule]:
    return AlertRule.objects.filter(team=team).select_related("team")


def alert_transition_list(*, rule: AlertRule) -> QuerySet[AlertTransition]:
    return AlertTransition.objects.filter(rule=rule).order_by("-tick", "-pk")


def alert_rule_series(*, rule: AlertRule, points: int = 36, now: dt.datetime | None = None) -> list[dict]:
    """The rule's metric over the last ``points`` windows-steps (each a window ending at a step),
    read as the evaluation reads it (``rule_readings``: rollups, tagged executions, builds or
    guardrail breaches): [{"t", "value", "samples"}], oldest first. One window step is the rule's
    window for short windows and an hour for long ones. A fixed number of queries per point."""
    now = tick_of(now or timezone.now())
    step = dt.timedelta(minutes=min(rule.window_minutes, 60))
    series = []
    for i in range(points - 1, -1, -1):
        tick = now - i * step
        reading = rule_readings(rule.team, [rule], tick)[rule.pk]
        series.append({"t": tick, "value": reading.value, "samples": reading.samples})
    return series


def home_card(*, team, request) -> dict:
    counts = AlertRule.objects.filter(team=team).aggregate(
        rules=Count("pk"),
        firing=Count("pk", filter=Q(state=State.FIRING)),
        pending=Count("pk", filter=Q(state=State.PENDING)),
    )
    return {
        "title": "Alerts",
        "url": reverse("alerts:index"),
        "figures": [
            {"label": "Rules", "value": counts["rules"]},
            {"label": "Firing", "value": counts["firing"]},
            {"label": "Pending", "value": counts["pending"]},
        ],
        "note": "Rules on your metrics, evaluated every minute.",
        "links": [{"label": "New rule", "url": reverse("alerts:rule-create")}],
    }
