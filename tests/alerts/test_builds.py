"""The build failure rate: team memory builds of the window, team-wide rules only."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from alerts import services
from teammemory.services import build_record

pytestmark = pytest.mark.django_db
_ids = itertools.count(1)


def _builds(team, *, at, statuses):
    for status in statuses:
        build_record(
            team=team,
            client_build_id=f"b-{next(_ids)}",
            status=status,
            started_at=at,
            finished_at=at + dt.timedelta(seconds=30),
            stack={"language": "python"},
        )


def test_build_failure_rate_over_the_window(team, other_team, tick, evaluate):
    _builds(team, at=tick - dt.timedelta(minutes=20), statuses=["failed", "failed", "succeeded", "cancelled"])
    _builds(team, at=tick - dt.timedelta(hours=3), statuses=["succeeded"] * 6)
    _builds(other_team, at=tick - dt.timedelta(minutes=20), statuses=["succeeded"] * 5)
    hour = services.alert_rule_create(
        team=team,
        data={
            "name": "builds 1h",
            "metric": "build_failure_rate",
            "window_minutes": 60,
            "critical_threshold": 0.5,
            "pending_minutes": 0,
        },  # fmt: skip
    )
    day = services.alert_rule_create(
        team=team,
        data={
            "name": "builds 1d",
            "metric": "build_failure_rate",
            "window_minutes": 1440,
            "critical_threshold": 0.5,
            "pending_minutes": 0,
        },  # fmt: skip
    )
    evaluate(team, tick)
    hour.refresh_from_db()
    day.refresh_from_db()
    assert (hour.last_value, hour.last_samples, hour.state) == (pytest.approx(2 / 3, abs=1e-4), 3, "firing")
    assert (day.last_value, day.last_samples, day.state) == (pytest.approx(2 / 9, abs=1e-4), 9, "ok")


def test_build_rules_have_no_agent_scope(team):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        services.alert_rule_create(
            team=team,
            data={
                "name": "x",
                "metric": "build_failure_rate",
                "window_minutes": 60,
                "critical_threshold": 0.5,
                "agent_name": "planner",
            },  # fmt: skip
        )
    assert "agent_name" in caught.value.message_dict
