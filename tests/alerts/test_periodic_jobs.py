"""The periodic jobs besides the minute evaluation: nightly rollup verification, retention."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts.tasks import rollups_verify_nightly
from crucible import sql
from crucible.notifications.models import Event
from observability.models import Execution
from observability.tasks import executions_purge

pytestmark = pytest.mark.django_db


def _midnight(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(2, 40), tzinfo=dt.UTC).timestamp())


def test_nightly_verification_raises_one_alert_per_team_on_mismatch(team, other_team, ingest):
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    noon = dt.datetime.combine(yesterday, dt.time(12), tzinfo=dt.UTC)
    ingest(team, at=noon, n=3)
    ingest(other_team, at=noon, n=2)
    today = _midnight(yesterday + dt.timedelta(days=1))
    assert rollups_verify_nightly(today) == {"day": yesterday.isoformat(), "ok": True, "teams": 0}
    assert not Event.objects.exists()

    sql.execute(
        "UPDATE observability_hourlyrollup SET executions = executions + 5 WHERE team_id = %(team)s",
        {"team": team.pk},
    )
    result = rollups_verify_nightly(today)
    assert result["ok"] is False and result["teams"] == 1
    event = Event.objects.get()
    assert event.team == team and event.kind == "alert.firing"
    assert yesterday.isoformat() in event.title
    assert f"--team {team.slug}" in event.body
    rollups_verify_nightly(today)  # the same night again (a retried job): no second event
    assert Event.objects.count() == 1


def test_retention_job_deletes_old_raw_executions(team, ingest, settings):
    from observability import conf

    now = dt.datetime.now(dt.UTC)
    ingest(team, at=now - dt.timedelta(days=2), n=2)
    ingest(team, at=now - dt.timedelta(hours=1), n=1)
    old = conf.RETENTION_DAYS
    conf.RETENTION_DAYS = 1
    try:
        assert executions_purge(int(now.timestamp())) == 2
    finally:
        conf.RETENTION_DAYS = old
    assert Execution.objects.filter(team=team).count() == 1
