"""Marketplace's periodic jobs (procrastinate, discovered at start-up; see crucible/worker.py)."""

from __future__ import annotations

import logging

from procrastinate.contrib.django import app

from marketplace.services import evidence_agents_refresh, evidence_histograms

logger = logging.getLogger(__name__)


# The measured evidence search sorts and filters on (opted-in teams' medians, the failure-rise
# warning), hourly, as `manage.py marketplace_evidence_refresh` does. Idempotent: it recomputes
# the agent columns from the evidence rollups, so a repeated run writes the same values.
@app.periodic(cron="7 * * * *")
@app.task(queue="maintenance", name="marketplace.evidence_refresh")
def evidence_refresh(timestamp: int) -> int:
    changed = evidence_agents_refresh()
    logger.info("Evidence: refreshed the search figures of %s agents.", changed)
    return changed


# The closed days' duration histograms of each period, merged ahead of the version pages' reads
# (marketplace.services.evidence_histograms). Only missing merges are redone (a late write deletes
# the ones it changes); until then a page merges the daily rows itself, so this only decides how
# fast a page is, never its figures.
@app.periodic(cron="*/10 * * * *")
@app.task(queue="maintenance", name="marketplace.evidence_histograms_refresh")
def evidence_histograms_refresh(timestamp: int) -> int:
    merged = evidence_histograms.evidence_histograms_refresh()
    logger.info("Evidence: merged the period histograms of %s versions.", merged)
    return merged
