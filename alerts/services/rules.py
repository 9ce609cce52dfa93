"""Creating, changing, muting and deleting alert rules; every bad field is reported at once."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from alerts.metrics import METRICS
from alerts.models import WINDOW_CHOICES, AlertRule, Direction, Metric, NoData, State
from crucible import limits
from crucible import validation as v

WINDOWS = [minutes for minutes, _ in WINDOW_CHOICES]
# The fields a caller sets, with their check; thresholds are checked together below.
EDITABLE = ("name", "metric", "agent_name", "model", "version", "tag", "window_minutes", "direction",
            "warning_threshold", "critical_threshold", "min_samples", "no_data", "pending_minutes", "enabled")  # fmt: skip
MAX_THRESHOLD = 1e15


def _window(value):
    minutes = v.whole(value, required=True)
    if minutes not in WINDOWS:
        raise v.Invalid(f"One of: {', '.join(map(str, WINDOWS))} (minutes).")
    return minutes


def _clean(data: dict, errors: v.Errors, *, partial: bool, current: AlertRule | None) -> dict:
    """The fields of ``data`` (all of them unless ``partial``), checked."""
    checks = {
        "name": lambda x: v.text(x, max_length=limits.NAME_CHARS, required=True),
        "metric": lambda x: v.choice(x, Metric.values),
        "agent_name": lambda x: v.text(x, max_length=limits.LABEL_CHARS),
        "model": lambda x: v.text(x, max_length=limits.LABEL_CHARS),
        "version": lambda x: v.text(x, max_length=64),
        "tag": lambda x: v.text(x, max_length=64),
        "window_minutes": _window,
        "direction": lambda x: v.choice(x, Direction.values, required=False, default=Direction.ABOVE),
        "warning_threshold": lambda x: v.number(x, low=-MAX_THRESHOLD, high=MAX_THRESHOLD),
        "critical_threshold": lambda x: v.number(x, low=-MAX_THRESHOLD, high=MAX_THRESHOLD),
        "min_samples": lambda x: v.whole(x, low=1, high=limits.MAX_TOKENS, default=1),
        "no_data": lambda x: v.choice(x, NoData.values, required=False, default=NoData.KEEP),
        "pending_minutes": lambda x: v.whole(x, low=0, high=1440, default=1),
        "enabled": lambda x: v.boolean(x, required=False, default=True),
    }
    cleaned = {}
    for name in EDITABLE:
        if partial and name not in data:
            continue
        value = errors.check(name, checks[name], data.get(name))
        if name not in errors:
            cleaned[name] = value
    warning = cleaned.get("warning_threshold", current.warning_threshold if current else None)
    critical = cleaned.get("critical_threshold", current.critical_threshold if current else None)
    if "warning_threshold" not in errors and "critical_threshold" not in errors:
        if warning is None and critical is None:
            errors.add("critical_threshold", "Give a warning threshold, a critical threshold, or both.")
        elif warning is not None and critical is not None:
            direction = cleaned.get("direction", current.direction if current else Direction.ABOVE)
            if (direction == Direction.ABOVE and critical < warning) or (
                direction == Direction.BELOW and critical > warning
            ):
                word = "above" if direction == Direction.ABOVE else "below"
                errors.add("critical_threshold", f"Must be {word} the warning threshold, or equal to it.")
    _check_scope(cleaned, errors, current)
    return cleaned


def _check_scope(cleaned: dict, errors: v.Errors, current: AlertRule | None) -> None:
    """Metrics on builds and experiments are team-wide: they have no agent, model, version or tag
    to scope by."""
    metric = cleaned.get("metric", current.metric if current else None)
    if metric not in METRICS or METRICS[metric].source == "executions":
        return
    for name in ("agent_name", "model", "version", "tag"):
        if cleaned.get(name, getattr(current, name, "") if current else ""):
            errors.add(name, f"{METRICS[metric].label} is team-wide: leave this empty.")


def _name_taken(team, name: str, exclude_pk=None) -> bool:
    return AlertRule.objects.filter(team=team, name=name).exclude(pk=exclude_pk).exists()


@transaction.atomic
def alert_rule_create(*, team, data: dict, created_by=None) -> AlertRule:
    errors = v.Errors()
    cleaned = _clean(data, errors, partial=False, current=None)
    if "name" in cleaned and _name_taken(team, cleaned["name"]):
        errors.add("name", "Your team has a rule with this name.")
    errors.raise_if_any()
    return AlertRule.objects.create(team=team, created_by=created_by, **cleaned)


def _identical_rule(team, cleaned: dict) -> AlertRule | None:
    return AlertRule.objects.filter(team=team, **cleaned).order_by("pk").first()


@transaction.atomic
def alert_rule_create_once(*, team, data: dict, created_by=None) -> tuple[AlertRule, bool]:
    """``alert_rule_create``, unless the team already has a rule with exactly these fields: then
    that rule, not a second one (a double click on a one-click button). ``(rule, created)``."""
    errors = v.Errors()
    cleaned = _clean(data, errors, partial=False, current=None)
    errors.raise_if_any()
    existing = _identical_rule(team, cleaned)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return alert_rule_create(team=team, data=data, created_by=created_by), True
    except IntegrityError:
        # A concurrent click created it between the look-up and the insert (the unique name).
        existing = _identical_rule(team, cleaned)
        if existing is None:
            raise ValidationError({"name": ["Your team has a rule with this name."]}) from None
        return existing, False


@transaction.atomic
def alert_rule_update(*, rule: AlertRule, data: dict) -> AlertRule:
    """Change some fields. A change of what is measured (metric, scope, window, thresholds)
    starts the rule again from OK at the next evaluation (without a notification)."""
    rule = AlertRule.objects.select_for_update().get(pk=rule.pk)
    errors = v.Errors()
    cleaned = _clean(data, errors, partial=True, current=rule)
    if "name" in cleaned and _name_taken(rule.team_id, cleaned["name"], exclude_pk=rule.pk):
        errors.add("name", "Your team has a rule with this name.")
    errors.raise_if_any()
    measured = {"metric", "agent_name", "model", "version", "tag", "window_minutes", "direction"}
    measured |= {"warning_threshold", "critical_threshold"}
    if any(getattr(rule, name) != value for name, value in cleaned.items() if name in measured):
        rule.state, rule.severity, rule.breach_since, rule.state_since = State.OK, "", None, None
    for name, value in cleaned.items():
        setattr(rule, name, value)
    rule.save()
    return rule


@transaction.atomic
def alert_rule_mute(*, rule: AlertRule, until) -> AlertRule:
    """No notifications from ``rule`` before ``until`` (None: unmute). Evaluation goes on, and
    the history still records every transition."""
    errors = v.Errors()
    until = errors.check("until", v.timestamp, until, required=False)
    errors.raise_if_any()
    AlertRule.objects.filter(pk=rule.pk).update(muted_until=until, updated_at=dt.datetime.now(dt.UTC))
    rule.refresh_from_db()
    return rule


@transaction.atomic
def alert_rule_delete(*, rule: AlertRule) -> None:
    rule.delete()
