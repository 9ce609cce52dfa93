"""Improvement's periodic jobs (procrastinate, discovered at start-up; see crucible/worker.py)."""

from __future__ import annotations

import logging

from procrastinate.contrib.django import app

from improvement import services

logger = logging.getLogger(__name__)


# Every five minutes: each running guarded rollout is checked (a guardrail breach stops it and
# yanks the candidate; a due step raises the share or completes it), and each running experiment's
# guardrails and traffic split are read (a first breach or a new warning/alert is notified, a
# breaching variant is retired with auto-stop). Idempotent: a step moves the next step's time and
# each record is written once, so a retried job applies nothing twice.
@app.periodic(cron="*/5 * * * *")
@app.task(queue="maintenance", name="improvement.trust_check")
def trust_check(timestamp: int) -> dict:
    rollouts = services.rollouts_advance_due()
    experiments = services.experiments_trust_check()
    logger.info("Trust check: %s rollouts, %s experiments.", len(rollouts), experiments)
    return {"rollouts": len(rollouts), "experiments": experiments}
