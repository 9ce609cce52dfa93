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

from crucible import sql
from observability import conf
from observability.ingest import EVENT_FIELDS, TOKEN_FIELDS, executions_ingest
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
    "executions_ingest",
    "executions_purge",
    "rollups_apply",
    "rollups_rebuild",
    "whole_days",
]


def executions_purge(*, days: int | None = None, batch_size: int = 50_000) -> int:
    """Delete raw executions that started more than ``days`` (default RETENTION_DAYS) ago, in
    batches (short transactions). Rollups are kept. Returns the number deleted."""
    days = conf.RETENTION_DAYS if days is None else days
    if days < 1:
        raise ValidationError({"days": "Must be at least 1."})
    cutoff = timezone.now() - dt.timedelta(days=days)
    deleted = 0
    while True:
        with transaction.atomic():
            count = sql.execute(
                "DELETE FROM observability_execution WHERE id IN ("
                " SELECT id FROM observability_execution WHERE started_at < %(cutoff)s LIMIT %(batch_size)s)",
                {"cutoff": cutoff, "batch_size": batch_size},
            )
        deleted += count
        if count < batch_size:
            return deleted
