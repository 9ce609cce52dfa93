"""The background worker's heartbeat on /healthz and in the admin, and the stalled-job check."""

from __future__ import annotations

import pytest
from django.test import override_settings

from crucible import sql, worker
from crucible.tasks import stalled_jobs_retry

pytestmark = pytest.mark.django_db


def _register_worker(seconds_ago: float) -> int:
    row = sql.fetch_one(
        "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - make_interval(secs => %(s)s)) RETURNING id",
        {"s": seconds_ago},
    )
    return row["id"]


def _job_running_on(worker_id: int | None) -> int:
    job_id = stalled_jobs_retry.defer(timestamp=0)
    sql.execute(
        "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %(w)s WHERE id = %(id)s",
        {"w": worker_id, "id": job_id},
    )
    return job_id


def _status(job_id: int) -> str:
    return sql.fetch_one("SELECT status FROM procrastinate_jobs WHERE id = %(id)s", {"id": job_id})["status"]


def test_healthz_without_worker_says_none(client):
    body = client.get("/healthz").json()
    assert body["worker"] == {"status": "none", "workers": 0, "last_heartbeat": None, "age_seconds": None}


def test_healthz_shows_the_last_heartbeat_and_its_age(client):
    _register_worker(120)
    _register_worker(4)
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["worker"]["status"] == "ok"
    assert body["worker"]["workers"] == 2
    assert 3 <= body["worker"]["age_seconds"] < 30
    assert body["worker"]["last_heartbeat"]


@override_settings(WORKER_STALLED_SECONDS=60)
def test_healthz_says_stale_when_every_heartbeat_is_old(client):
    _register_worker(300)
    assert client.get("/healthz").json()["worker"]["status"] == "stale"


@override_settings(WORKER_STALLED_SECONDS=60)
def test_jobs_of_a_dead_worker_go_back_to_the_queue_and_live_ones_stay():
    dead = _job_running_on(_register_worker(300))
    orphan = _job_running_on(None)  # its worker was already pruned
    alive = _job_running_on(_register_worker(2))
    assert worker.stalled_jobs_retry() == 2
    assert _status(dead) == "todo"
    assert _status(orphan) == "todo"
    assert _status(alive) == "doing"


def test_admin_lists_workers_with_their_heartbeat(admin_client):
    _register_worker(7)
    page = admin_client.get("/admin/procrastinate/procrastinateworker/")
    assert page.status_code == 200
    assert "Seconds since heartbeat" in page.content.decode()


def test_healthz_is_ok_when_the_queue_tables_are_missing(client, monkeypatch):
    """A database not migrated yet (the slow-client tests' server) is still a healthy database."""
    from django.db import DatabaseError

    def missing():
        raise DatabaseError('relation "procrastinate_workers" does not exist')

    monkeypatch.setattr(worker, "worker_status", missing)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["worker"]["status"] == "unknown"
