"""Observability writes. Ingest lives in ``observability.ingest`` (parse, validate, resolve,
insert), rollups in ``observability.rollups``, the OTLP transport in ``observability.otlp``; the
names other code calls are importable from here (``executions_ingest`` is the documented
contract with team memory).
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crucible import limits, sql
from crucible import validation as v
from observability import conf, partitions
from observability.blocks import day_blocks_compact, hour_blocks_compact
from observability.ingest import EVENT_FIELDS, TOKEN_FIELDS, executions_ingest
from observability.minutes import minute_rollups_purge
from observability.models import RedactionRule
from observability.redaction import pattern_check
from observability.rollups import (
    ROLLUP_FROM_RAW_SQL,
    ROLLUP_TABLES,
    rollups_apply,
    rollups_rebuild,
    whole_days,
)

__all__ = [
    "EVENT_FIELDS",
    "ROLLUP_FROM_RAW_SQL",
    "ROLLUP_TABLES",
    "TOKEN_FIELDS",
    "day_blocks_compact",
    "executions_ingest",
    "hour_blocks_compact",
    "executions_purge",
    "payloads_purge",
    "redaction_rule_create",
    "redaction_rule_delete",
    "redaction_rule_update",
    "rollups_apply",
    "rollups_rebuild",
    "whole_days",
]


def executions_purge(*, days: int | None = None, batch_size: int = 50_000) -> int:
    """Delete raw executions that started more than ``days`` (default RETENTION_DAYS) ago, and
    their payloads, and the summaries of traces that ended before then. Rollups are kept.
    Whole monthly partitions are dropped; rows are deleted (in batches, short transactions) only
    in the month that straddles the cutoff. Returns the number of executions deleted (a dropped
    partition's rows are counted; past ``partitions.EXACT_COUNT_BELOW`` PostgreSQL's estimate)."""
    days = conf.RETENTION_DAYS if days is None else days
    if days < 1:
        raise ValidationError({"days": "Must be at least 1."})
    cutoff = timezone.now() - dt.timedelta(days=days)
    partitions.partitions_ensure()
    partitions.partitions_drop_before(partitions.PAYLOADS, cutoff=cutoff, batch_size=batch_size)
    deleted = partitions.partitions_drop_before(partitions.EXECUTIONS, cutoff=cutoff, batch_size=batch_size)
    # Trace summaries go with their spans (a trace that ended before the cutoff has none left).
    sql.execute("DELETE FROM observability_trace WHERE ended_at < %(cutoff)s", {"cutoff": cutoff})
    minute_rollups_purge()  # the live view's minutes have a retention of their own (hours)
    return deleted.rows


def payloads_purge(*, days: int | None = None, batch_size: int = 50_000) -> int:
    """Delete span inputs and outputs (SpanPayload) of spans that started more than ``days``
    (default CRUCIBLE_TRACE_PAYLOAD_RETENTION_DAYS) ago; the spans stay. Whole monthly partitions
    are dropped, the straddling month deleted row-wise. Returns the number deleted."""
    days = conf.TRACE_PAYLOAD_RETENTION_DAYS if days is None else days
    if days < 1:
        raise ValidationError({"days": "Must be at least 1."})
    cutoff = timezone.now() - dt.timedelta(days=days)
    return partitions.partitions_drop_before(partitions.PAYLOADS, cutoff=cutoff, batch_size=batch_size).rows


def _rule_values(*, name, pattern, replacement, errors: v.Errors) -> dict:
    values = {
        "name": errors.check("name", v.text, name, max_length=limits.LABEL_CHARS, required=True),
        "replacement": errors.check("replacement", v.text, replacement, max_length=200, strip=False),
        "pattern": errors.check("pattern", v.text, pattern, max_length=500, required=True, strip=False),
    }
    if values["pattern"]:
        errors.check("pattern", pattern_check, values["pattern"])
    return values


@transaction.atomic
def redaction_rule_create(*, team, name: str, pattern: str, replacement: str = "[REDACTED]", enabled: bool = True):
    """A team's redaction rule (a regular expression, checked here); applies to the next ingest."""
    errors = v.Errors()
    values = _rule_values(name=name, pattern=pattern, replacement=replacement, errors=errors)
    if values["name"] and RedactionRule.objects.filter(team=team, name=values["name"]).exists():
        errors.add("name", "This team has a rule with this name.")
    errors.raise_if_any()
    return RedactionRule.objects.create(team=team, enabled=bool(enabled), **values)


@transaction.atomic
def redaction_rule_update(*, rule: RedactionRule, **changes) -> RedactionRule:
    errors = v.Errors()
    current = {"name": rule.name, "pattern": rule.pattern, "replacement": rule.replacement}
    values = _rule_values(**(current | {k: changes[k] for k in current if k in changes}), errors=errors)
    duplicate = RedactionRule.objects.filter(team_id=rule.team_id, name=values["name"]).exclude(pk=rule.pk)
    if values["name"] and duplicate.exists():
        errors.add("name", "This team has a rule with this name.")
    errors.raise_if_any()
    for key, value in values.items():
        setattr(rule, key, value)
    if "enabled" in changes:
        rule.enabled = bool(changes["enabled"])
    rule.save()
    return rule


def redaction_rule_delete(*, rule: RedactionRule) -> None:
    rule.delete()
