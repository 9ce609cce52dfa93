"""A real worker is SIGKILLed in the middle of an alert evaluation: the job is not lost (another
worker retries it once the dead one's heartbeat is stale) and its effects apply once."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from django.db import connection

from alerts import services
from alerts.models import AlertTransition
from alerts.tasks import alerts_evaluate
from crucible import sql
from crucible.notifications.models import Event
from tests.worker.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _job(job_id: int) -> dict:
    return sql.fetch_one("SELECT status, attempts FROM procrastinate_jobs WHERE id = %(id)s", {"id": job_id})


def _lock_rules(team_id: int) -> psycopg.Connection:
    """Another session holds the team's rules, so the evaluation blocks once it has started."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    other = psycopg.connect(**params)
    other.execute("SELECT id FROM alerts_alertrule WHERE team_id = %s FOR UPDATE", [team_id])
    return other


def test_a_killed_worker_loses_no_job_and_the_retry_applies_once(team, worker_processes):
    rule = services.alert_rule_create(
        team=team,
        data={
            "name": "no traffic",
            "metric": "executions",
            "window_minutes": 5,
            "critical_threshold": 1,
            "direction": "below",
            "no_data": "alerting",
            "pending_minutes": 0,
        },  # fmt: skip
    )
    tick = services.tick_of(dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    holder = _lock_rules(team.pk)
    try:
        job_id = alerts_evaluate.defer(timestamp=int(tick.timestamp()))
        first = worker_processes()
        wait_for(lambda: _job(job_id)["status"] == "doing", timeout=60, what="the job to start", worker=first)
        first.kill()
    finally:
        holder.rollback()
        holder.close()
    assert _job(job_id)["status"] == "doing"  # left running by a dead worker
    assert not AlertTransition.objects.filter(rule=rule).exists()  # its transaction died with it

    second = worker_processes()
    wait_for(lambda: _job(job_id)["status"] == "succeeded", timeout=90, what="the retried job", worker=second)
    assert _job(job_id)["attempts"] >= 1
    transitions = AlertTransition.objects.filter(rule=rule)
    assert [(t.from_state, t.to_state) for t in transitions] == [("ok", "firing")]
    assert Event.objects.filter(team=team, kind="alert.firing").count() == 1

    # A job that ran to the end but is run again (killed before being marked done) adds nothing.
    alerts_evaluate(int(tick.timestamp()))
    assert AlertTransition.objects.filter(rule=rule).count() == 1
    assert Event.objects.filter(team=team, kind="alert.firing").count() == 1


def test_a_worker_shows_its_heartbeat_on_healthz(client, worker_processes):
    worker = worker_processes()
    body = wait_for(
        lambda: (b := client.get("/healthz").json())["worker"]["status"] == "ok" and b,
        timeout=60,
        what="a heartbeat",
        worker=worker,
    )
    assert body["worker"]["workers"] == 1
    assert body["worker"]["age_seconds"] < 10
