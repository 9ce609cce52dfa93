"""Team memory's periodic jobs (procrastinate, discovered at start-up; see crucible/worker.py)."""

from __future__ import annotations

import datetime as dt

from procrastinate.contrib.django import app

from teammemory.notices import quality_trend_watch_all


# Hourly: has a team's quality trend just turned down? One notification per turn (idempotent:
# the direction is recorded with the event, in one transaction per team).
@app.periodic(cron="23 * * * *")
@app.task(queue="maintenance", name="teammemory.quality_trend_watch")
def quality_trend_watch(timestamp: int) -> dict:
    return quality_trend_watch_all(now=dt.datetime.fromtimestamp(timestamp, dt.UTC))
