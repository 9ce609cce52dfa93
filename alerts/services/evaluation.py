"""Evaluating a team's alert rules at one tick (a whole minute), as the worker does every minute.

One read of the team's rollups for all its rules (``observability.selectors.alert_window_figures``),
then each rule's state moves by small rules (``step``): a breach makes an OK rule pending, a breach
that lasts ``pending_minutes`` fires, the end of a breach resolves a firing rule. Each change of
state is one ``AlertTransition`` (unique per rule and tick: the idempotency key, inserted with ON
CONFLICT DO NOTHING) and, for firing and resolved unless muted, one notification
(``dedupe_key = alert-transition:<id>``). The rules are locked and their ``last_tick`` moves in the
same transaction, so a tick evaluated twice (a retried job) changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import transaction
from django.urls import reverse

from alerts.metrics import METRICS
from alerts.models import AlertRule, AlertTransition, Direction, NoData, Severity, State
from crucible import sql
from crucible.models import Team
from crucible.notifications import notification_publish
from improvement import selectors as improvement
from observability import selectors as observability
from teammemory import selectors as teammemory

logger = logging.getLogger(__name__)


def tick_of(when: dt.datetime | float | int) -> dt.datetime:
    """The whole UTC minute of ``when`` (a datetime or a UNIX timestamp)."""
    if not isinstance(when, dt.datetime):
        when = dt.datetime.fromtimestamp(when, dt.UTC)
    return when.astimezone(dt.UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Reading:
    value: float | None
    samples: int
    skipped: str = ""  # why the rule cannot be judged at this tick (its state is kept)


@dataclass(frozen=True)
class Step:
    state: str
    severity: str
    breach_since: dt.datetime | None
    reason: str = ""
    threshold: float | None = None


def _crosses(rule: AlertRule, value: float, threshold: float | None) -> bool:
    if threshold is None:
        return False
    return value > threshold if rule.direction == Direction.ABOVE else value < threshold


def breach(rule: AlertRule, reading: Reading) -> tuple[str, float | None] | None:
    """(severity, threshold) of the breach the reading makes; ("", None) for none; None when the
    rule cannot judge (too few samples, or no data with no_data = keep)."""
    if reading.samples == 0 or reading.value is None:
        if rule.no_data == NoData.KEEP:
            return None
        return (Severity.CRITICAL, None) if rule.no_data == NoData.ALERTING else ("", None)
    if reading.samples < rule.min_samples:
        return None
    if _crosses(rule, reading.value, rule.critical_threshold):
        return Severity.CRITICAL, rule.critical_threshold
    if _crosses(rule, reading.value, rule.warning_threshold):
        return Severity.WARNING, rule.warning_threshold
    return "", None


def step(rule: AlertRule, level: str, threshold: float | None, tick: dt.datetime) -> Step:
    """The rule's next state for a breach of ``level`` ("" for none) at ``tick``."""
    state = rule.state
    if not level:
        if state == State.FIRING:
            return Step(State.RESOLVED, "", None, "back within the thresholds")
        if state == State.PENDING:
            return Step(State.OK, "", None, "the breach ended before the pending period")
        return Step(state, "", None)
    since = rule.breach_since or tick
    if state == State.FIRING:
        return Step(State.FIRING, level, since, f"now {level}" if level != rule.severity else "", threshold)
    if tick - since >= dt.timedelta(minutes=rule.pending_minutes):
        return Step(State.FIRING, level, since, f"{level} threshold crossed", threshold)
    if state == State.PENDING:
        return Step(State.PENDING, level, since)
    return Step(State.PENDING, level, tick, f"{level} threshold crossed; pending", threshold)


def _describe(rule: AlertRule, reading: Reading, threshold: float | None) -> str:
    spec = METRICS[rule.metric]
    if reading.samples == 0 or reading.value is None:
        return f"No data in the last {rule.get_window_minutes_display()}."
    word = "above" if rule.direction == Direction.ABOVE else "below"
    limit = f" ({word} {spec.display(threshold)})" if threshold is not None else ""
    return (
        f"{spec.label} {spec.display(reading.value)}{limit} over the last {rule.get_window_minutes_display()}, "
        f"{reading.samples:,} samples."
    )


def _record(rule: AlertRule, old_state: str, new: Step, reading: Reading, tick: dt.datetime) -> AlertTransition | None:
    muted = rule.muted_until is not None and rule.muted_until > tick
    notify = new.state in (State.FIRING, State.RESOLVED) and not muted
    row = sql.fetch_one(
        f"INSERT INTO {AlertTransition._meta.db_table} (rule_id, team_id, tick, from_state, to_state, severity, "
        "value, samples, threshold, reason, notified, created_at) VALUES (%(rule)s, %(team)s, %(tick)s, %(old)s, "
        "%(new)s, %(severity)s, %(value)s, %(samples)s, %(threshold)s, %(reason)s, %(notified)s, now()) "
        "ON CONFLICT (rule_id, tick) DO NOTHING RETURNING id",
        {
            "rule": rule.pk,
            "team": rule.team_id,
            "tick": tick,
            "old": old_state,
            "new": new.state,
            "severity": new.severity,
            "value": reading.value,
            "samples": reading.samples,
            "threshold": new.threshold,
            "reason": new.reason[:200],
            "notified": notify,
        },
    )
    if row is None:
        return None
    transition = AlertTransition.objects.get(pk=row["id"])
    if notify:
        _publish(rule, transition, reading)
    return transition


def _publish(rule: AlertRule, transition: AlertTransition, reading: Reading) -> None:
    firing = transition.to_state == State.FIRING
    title = f"[{transition.severity}] {rule.name} is firing" if firing else f"{rule.name} is resolved"
    notification_publish(
        team=rule.team,
        kind="alert.firing" if firing else "alert.resolved",
        title=title[:200],
        body=_describe(rule, reading, transition.threshold),
        url=reverse("alerts:rule-detail", kwargs={"pk": rule.pk}),
        payload={
            "rule": {"id": rule.pk, "name": rule.name, "metric": rule.metric, "window_minutes": rule.window_minutes},
            "transition": {
                "id": transition.pk,
                "from": transition.from_state,
                "to": transition.to_state,
                "severity": transition.severity,
                "value": transition.value,
                "threshold": transition.threshold,
                "samples": transition.samples,
                "tick": transition.tick.isoformat(),
            },
        },
        dedupe_key=f"alert-transition:{transition.pk}",
    )


def _execution_figures(team, rules: list[AlertRule], tick: dt.datetime) -> dict[int, dict]:
    """Rules on executions without a tag: one read of the rollups (and their raw edges) for all."""
    scopes = {rule.pk: (rule.window_minutes, rule.agent_name, rule.model, rule.version) for rule in rules}
    by_scope = observability.alert_window_figures(
        team=team,
        tick=tick,
        scopes=scopes.values(),
        quality_windows={r.window_minutes for r in rules if METRICS[r.metric].needs_quality},
    )
    return {pk: by_scope[scope] for pk, scope in scopes.items()}


def _tag_figures(team, rules: list[AlertRule], tick: dt.datetime) -> dict[int, dict]:
    """Rules scoped by a tag: the raw tagged executions of their windows (rollups have no tags),
    one bounded read per tag."""
    scopes = {rule.pk: (rule.window_minutes, rule.agent_name, rule.model, rule.version, rule.tag) for rule in rules}
    by_scope = observability.alert_tag_window_figures(
        team=team,
        tick=tick,
        scopes=scopes.values(),
        quality_windows={r.window_minutes for r in rules if METRICS[r.metric].needs_quality},
    )
    return {pk: by_scope[scope] for pk, scope in scopes.items()}


def _build_figures(team, rules: list[AlertRule], tick: dt.datetime) -> dict[int, dict]:
    by_window = teammemory.build_window_figures(team=team, tick=tick, windows={r.window_minutes for r in rules})
    return {rule.pk: by_window[rule.window_minutes] for rule in rules}


def _guardrail_figures(team, rules: list[AlertRule], tick: dt.datetime) -> dict[int, dict]:
    """Guardrail breaches the improvement app detected in each rule's window (one read for all)."""
    longest = max(rule.window_minutes for rule in rules)
    breaches = improvement.experiment_guardrail_breaches(team=team, since=tick - dt.timedelta(minutes=longest))
    return {
        rule.pk: {
            "guardrail_breaches": sum(
                1 for b in breaches if tick - dt.timedelta(minutes=rule.window_minutes) <= b.at < tick
            ),
            "checked": 1,  # the breaches are always known: zero is a value, not "no data"
        }
        for rule in rules
    }


def _source(rule: AlertRule) -> str:
    source = METRICS[rule.metric].source
    return "tagged" if source == "executions" and rule.tag else source


# Where each kind of rule reads its figures: one read per source for all the team's rules.
FIGURES = {
    "executions": _execution_figures,
    "tagged": _tag_figures,
    "builds": _build_figures,
    "experiments": _guardrail_figures,
}


def rule_readings(team, rules: list[AlertRule], tick: dt.datetime) -> dict[int, Reading]:
    """Each rule's value and sample size at ``tick``: one read per source (rollups, tagged
    executions, builds, guardrail breaches) for every rule of that source."""
    by_source: dict[str, list[AlertRule]] = {}
    for rule in rules:
        by_source.setdefault(_source(rule), []).append(rule)
    figures = {}
    for source, its_rules in by_source.items():
        figures |= FIGURES[source](team, its_rules, tick)
    readings = {}
    for rule in rules:
        spec, found = METRICS[rule.metric], figures[rule.pk]
        if found.get("over_budget"):
            readings[rule.pk] = Reading(None, 0, skipped="too many tagged executions in the window to read")
        else:
            readings[rule.pk] = Reading(spec.value(found), spec.samples(found))
    return readings


@transaction.atomic
def alerts_evaluate_team(*, team, tick: dt.datetime) -> list[AlertTransition]:
    """Evaluate every enabled rule of ``team`` not yet evaluated at ``tick``. Returns the
    transitions recorded."""
    tick = tick_of(tick)
    rules = list(
        AlertRule.objects.select_for_update(of=("self",))
        .select_related("team")
        .filter(team=team, enabled=True)
        .exclude(last_tick__gte=tick)
        .order_by("pk")
    )
    if not rules:
        return []
    readings = rule_readings(team, rules, tick)
    transitions = []
    for rule in rules:
        reading = readings[rule.pk]
        judged = None if reading.skipped else breach(rule, reading)
        rule.last_value, rule.last_samples, rule.last_tick = reading.value, reading.samples, tick
        if judged is not None:
            new = step(rule, *judged, tick)
            if new.state != rule.state or (new.state == State.FIRING and new.severity != rule.severity):
                old_state = rule.state
                rule.state, rule.state_since = new.state, tick
                rule.severity = new.severity
                transition = _record(rule, old_state, new, reading, tick)
                if transition is not None:
                    transitions.append(transition)
            rule.severity, rule.breach_since = new.severity, new.breach_since
    _save_states(rules, tick)
    return transitions


def _save_states(rules: list[AlertRule], tick: dt.datetime) -> None:
    """One UPDATE for every rule of the tick (a bulk_update's CASE per row and field costs seconds
    for a thousand rules)."""
    sql.execute(
        f"""
        UPDATE {AlertRule._meta.db_table} r SET state = u.state, severity = u.severity, state_since = u.state_since,
               breach_since = u.breach_since, last_value = u.last_value, last_samples = u.last_samples,
               last_tick = %(tick)s
        FROM unnest(%(ids)s::bigint[], %(states)s::text[], %(severities)s::text[], %(state_since)s::timestamptz[],
                    %(breach_since)s::timestamptz[], %(last_value)s::float8[], %(last_samples)s::bigint[])
             AS u(id, state, severity, state_since, breach_since, last_value, last_samples)
        WHERE r.id = u.id
        """,
        {
            "tick": tick,
            "ids": [rule.pk for rule in rules],
            "states": [rule.state for rule in rules],
            "severities": [rule.severity for rule in rules],
            "state_since": [rule.state_since for rule in rules],
            "breach_since": [rule.breach_since for rule in rules],
            "last_value": [rule.last_value for rule in rules],
            "last_samples": [rule.last_samples for rule in rules],
        },
    )


def alerts_evaluate(*, tick: dt.datetime) -> dict:
    """Evaluate the rules of every team that has enabled ones; a team whose evaluation fails is
    logged and the others go on (the failed ones raise at the end, so the job shows as failed
    and its retry redoes only what is left)."""
    tick = tick_of(tick)
    failed, transitions = [], 0
    team_ids = AlertRule.objects.filter(enabled=True).values_list("team_id", flat=True).distinct()
    for team in Team.objects.filter(pk__in=list(team_ids)).order_by("pk"):
        try:
            transitions += len(alerts_evaluate_team(team=team, tick=tick))
        except Exception:  # one team's failure must not stop the others
            logger.exception("Alert evaluation failed for team %s at %s", team.slug, tick)
            failed.append(team.slug)
    if failed:
        raise RuntimeError(f"Alert evaluation failed for {', '.join(failed)} at {tick:%Y-%m-%d %H:%M}.")
    return {"tick": tick.isoformat(), "transitions": transitions}
