"""Observability's periodic jobs (procrastinate, discovered at start-up; see crucible/worker.py)."""

from __future__ import annotations

import logging

from procrastinate.contrib.django import app

from observability import partitions, services
from observability.windows import blocks_refresh

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


# Monthly partitions of executions, payloads and rollups, created months ahead (daily, 02:47 UTC;
# idempotent: a partition that exists is left alone). See observability/partitions.py.
@app.periodic(cron="47 2 * * *")
@app.task(queue="maintenance", name="observability.partitions_ensure")
def partitions_ensure(timestamp: int) -> int:
    created = partitions.partitions_ensure()
    if created:
        logger.info("Partitions: created %s.", ", ".join(created))
    return len(created)


# Day and hour blocks (observability.blocks): compact the days and hours closed since the last
# run, then the window blocks of the standard periods (observability.windows). Every 15 minutes:
# an hour is compacted once closed for 15 minutes, so from :15 (or :30) on the pages read one hour
# of hourly rows, not two. A run with nothing to do takes about half a second on 10,000,000
# executions.
@app.periodic(cron="*/15 * * * *")
@app.task(queue="maintenance", name="observability.day_blocks_compact")
def day_blocks_compact(timestamp: int) -> int:
    done = blocks_refresh()
    logger.info(
        "Blocks: compacted %s team-days and %s team-hours; built %s windows.",
        done["days"],
        done["hours"],
        done["windows"],
    )
    return done["days"] + done["hours"]
