"""Alert writes: rules (create, update, mute, delete) and their evaluation by the worker."""

from alerts.services.evaluation import alerts_evaluate, alerts_evaluate_team, tick_of
from alerts.services.rules import (
    alert_rule_create,
    alert_rule_create_once,
    alert_rule_delete,
    alert_rule_mute,
    alert_rule_update,
)

__all__ = [
    "alert_rule_create",
    "alert_rule_create_once",
    "alert_rule_delete",
    "alert_rule_mute",
    "alert_rule_update",
    "alerts_evaluate",
    "alerts_evaluate_team",
    "tick_of",
]
