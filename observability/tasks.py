"""Observability's periodic jobs (procrastinate, discovered at start-up; see crucible/worker.py)."""

from __future__ import annotations

import logging

from procrastinate.contrib.django import app

from observability import services

logger = logging.getLogger(__name__)


# Retention, daily at 03:17 UTC, as `manage.py observability_retention` does: raw executions older
# than CRUCIBLE_OBS_RETENTION_DAYS (rollups stay) and span payloads older than their own retention.
# Idempotent by nature: a second run finds nothing more to delete.
@app.periodic(cron="17 3 * * *")
@app.task(queue="maintenance", name="observability.executions_purge")
def executions_purge(timestamp: int) -> int:
    deleted = services.executions_purge()
    payloads = services.payloads_purge()
    logger.info("Retention: deleted %s raw executions and %s span payloads.", deleted, payloads)
    return deleted
