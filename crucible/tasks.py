"""Background tasks of the core app (discovered by procrastinate's Django integration)."""

from __future__ import annotations

import logging

from django.conf import settings

from crucible import worker
from crucible.notifications.tasks import email_send, webhook_deliver  # noqa: F401  (the notification jobs)

logger = logging.getLogger(__name__)


# Every WORKER_STALLED_CHECK_SECONDS (1-59; croniter reads a sixth, last, cron column as seconds):
# jobs of dead workers go back in the queue. A periodic deferral is unique per tick, so however
# many workers run, each tick's check runs once.
@worker.app.periodic(cron=f"* * * * * */{max(1, min(59, settings.WORKER_STALLED_CHECK_SECONDS))}")
@worker.app.task(queue="maintenance", name="crucible.stalled_jobs_retry")
def stalled_jobs_retry(timestamp: int) -> int:
    retried = worker.stalled_jobs_retry()
    if retried:
        logger.warning("Retried %s job(s) left running by a stopped worker.", retried)
    return retried
