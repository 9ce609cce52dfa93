"""Alert reads: the team's rules and their history, a rule's chart series, the home card."""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from alerts.metrics import METRICS
from alerts.models import AlertRule, AlertTransition, State
from alerts.services.evaluation import tick_of
from observability import selectors as observability


def alert_rule_list(*, team) -> QuerySet[AlertRule]:
    return AlertRule.objects.filter(team=team).select_related("team")


def alert_transition_list(*, rule: AlertRule) -> QuerySet[AlertTransition]:
    return AlertTransition.objects.filter(rule=rule).order_by("-tick", "-pk")


def alert_rule_series(*, rule: AlertRule, points: int = 36, now: dt.datetime | None = None) -> list[dict]:
    """The rule's metric over the last ``points`` windows-steps (each a window ending at a step),
    read like the evaluation reads it: [{"t", "value", "samples"}], oldest first. One window step
    is the rule's window for short windows and an hour for long ones ."""
    now = tick_of(now or timezone.now())
    step = dt.timedelta(minutes=min(rule.window_minutes, 60))
    spec = METRICS[rule.metric]
    scope = (rule.window_minutes, rule.agent_name, rule.model, rule.version)
    series = []
    for i in range(points - 1, -1, -1):
        tick = now - i * step
        figures = observability.alert_window_figures(
            team=rule.team,
            tick=tick,
            scopes=[scope],
            quality_windows=[rule.window_minutes] if spec.needs_quality else (),
        )[scope]
        series.append({"t": tick, "value": spec.value(figures), "samples": spec.samples(figures)})
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
