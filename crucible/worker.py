"""The background worker: one procrastinate App for the project (``procrastinate.contrib.django``'s
``app``, configured by the ``PROCRASTINATE_*`` settings), its queue in PostgreSQL (the
``procrastinate_*`` tables, created by migrations). Tasks live in each app's ``tasks.py`` and are
discovered when Django starts. Run workers with ``python manage.py procrastinate worker`` (one per
process, on any host that reaches the database); ``scripts/run`` starts one beside the web server.

Reliability: each worker writes a heartbeat (``procrastinate_workers.last_heartbeat``) every
``WORKER_HEARTBEAT_SECONDS``. The periodic ``crucible.tasks.stalled_jobs_retry`` puts back in the
queue the jobs of workers silent for ``WORKER_STALLED_SECONDS`` (killed, host lost), so no job is
lost; the tasks themselves are idempotent (unique keys + ON CONFLICT), so a job run twice has its
effects once.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from procrastinate.contrib.django import app

from crucible import sql

__all__ = ["app", "stalled_jobs_retry", "worker_status", "worker_status_shown"]


class WorkerStatus(NamedTuple):
    workers: int
    last_heartbeat: dt.datetime | None

    @property
    def age_seconds(self) -> float | None:
        if self.last_heartbeat is None:
            return None
        return max(0.0, (timezone.now() - self.last_heartbeat).total_seconds())

    @property
    def state(self) -> str:
        """ "ok" (a heartbeat within the stalled timeout), "stale" (only older ones) or "none"."""
        age = self.age_seconds
        if age is None:
            return "none"
        return "ok" if age <= settings.WORKER_STALLED_SECONDS else "stale"

    def as_dict(self) -> dict:
        age = self.age_seconds
        return {
            "status": self.state,
            "workers": self.workers,
            "last_heartbeat": self.last_heartbeat.isoformat() if self.last_heartbeat else None,
            "age_seconds": round(age, 1) if age is not None else None,
        }


def worker_status() -> WorkerStatus:
    """The registered workers and the newest heartbeat among them (a worker that stops cleanly
    unregisters itself; a killed one stays until another worker prunes it)."""
    return sql.fetch_one(
        "SELECT count(*) AS workers, max(last_heartbeat) AS last_heartbeat FROM procrastinate_workers",
        {},
        WorkerStatus,
    )


def worker_status_shown() -> dict:
    """``worker_status().as_dict()``, or status "unknown" when the queue tables cannot be read
    (a database not migrated yet): the web's health does not depend on the worker's."""
    try:
        return worker_status().as_dict()
    except DatabaseError:
        return {"status": "unknown", "workers": None, "last_heartbeat": None, "age_seconds": None}


def stalled_jobs_retry() -> int:
    """Put back in the queue every job left "doing" by a worker with no heartbeat for
    ``WORKER_STALLED_SECONDS`` (or by no registered worker at all). Returns how many."""
    rows = sql.fetch_rows(
        """
        SELECT job.id FROM procrastinate_jobs job
        LEFT JOIN procrastinate_workers w ON w.id = job.worker_id
        WHERE job.status = 'doing'
          AND (w.id IS NULL OR w.last_heartbeat < now() - make_interval(secs => %(seconds)s))
        """,
        {"seconds": settings.WORKER_STALLED_SECONDS},
    )
    for row in rows:
        app.job_manager.retry_job_by_id(row["id"], retry_at=timezone.now())
    return len(rows)
