"""The alerts app's periodic jobs (procrastinate, discovered at start-up; see crucible/worker.py)."""

from __future__ import annotations

import datetime as dt
import logging

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from alerts import services
from alerts.services.verification import rollups_verify_and_alert

logger = logging.getLogger(__name__)


# Every minute. The job of a tick evaluates that tick (its timestamp), so a late or retried job
# judges the minute it was meant for, and a tick evaluated twice changes nothing the second time.
# A tick that failed (the database went away mid-evaluation) is retried (after 2, 4, 8 ... s, for
# about 8 minutes) rather than left to the next tick, so a transition of that minute is not lost.
@app.periodic(cron="* * * * *")
@app.task(queue="alerts", name="alerts.alerts_evaluate", retry=RetryStrategy(max_attempts=8, exponential_wait=2))
def alerts_evaluate(timestamp: int) -> dict:
    return services.alerts_evaluate(tick=services.tick_of(timestamp))


# Nightly at 02:40 UTC: recompute yesterday's rollups from raw executions and compare; a mismatch
# is an alert event for each team it touches (published once per team and day).
@app.periodic(cron="40 2 * * *")
@app.task(queue="maintenance", name="alerts.rollups_verify_nightly")
def rollups_verify_nightly(timestamp: int) -> dict:
    day = dt.datetime.fromtimestamp(timestamp, dt.UTC).date() - dt.timedelta(days=1)
    return rollups_verify_and_alert(day=day)
