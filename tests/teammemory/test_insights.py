"""Insights arithmetic against a hand-computed fixture.

Five builds in range (durations 10, 20, 30, 40, 50 minutes):

  #  status     quality  minutes  tokens  cost  stack        errors
  1  succeeded  90       10       1000    0.10  python       -
  2  succeeded  70       20       3000    0.30  python       -
  3  failed     40       30       2000    0.20  node         TimeoutError, TimeoutError
  4  cancelled  -        40       0       0     node         -
  5  failed     -        50       4000    0.40  python       TimeoutError, ImportError

Success rate over decided builds (1, 2, 3, 5) = 2/4; median duration = 30 min (nearest rank 3 of
5); p90 = 50 min (nearest rank ceil(4.5) = 5), both read from the log-scale histogram of the
daily rollups, so within histogram.RELATIVE_ERROR (about 6 %) of those; mean quality of scored
builds (90 + 70 + 40) / 3; tokens per build 10000 / 5; cost per build 1.00 / 5.
"""

import datetime as dt
from decimal import Decimal

import pytest

from teammemory import histogram, selectors
from tests.teammemory.conftest import NODE_STACK, NOW, PYTHON_STACK

pytestmark = pytest.mark.django_db

MIN = 60_000


def near(exact):
    """The histogram's value for a nearest-rank percentile: within the stated relative error."""
    return pytest.approx(exact, rel=histogram.RELATIVE_ERROR)


@pytest.fixture
def fixture_builds(make_build, make_team):
    day = NOW - dt.timedelta(days=3)
    make_build(status="succeeded", quality=90, minutes=10, tokens=1000, cost="0.10", stack=PYTHON_STACK, started=day)
    make_build(status="succeeded", quality=70, minutes=20, tokens=3000, cost="0.30", stack=PYTHON_STACK, started=day)
    make_build(
        status="failed",
        quality=40,
        minutes=30,
        tokens=2000,
        cost="0.20",
        stack=NODE_STACK,
        started=day,
        errors=[{"type": "TimeoutError", "message": "step 3"}, {"type": "TimeoutError", "message": "step 4"}],
    )
    make_build(status="cancelled", quality=None, minutes=40, tokens=0, cost="0", stack=NODE_STACK, started=day)
    make_build(
        status="failed",
        quality=None,
        minutes=50,
        tokens=4000,
        cost="0.40",
        stack=PYTHON_STACK,
        started=day,
        errors=[{"type": "TimeoutError", "message": "x"}, {"type": "ImportError", "message": "no module"}],
    )
    # Outside the range, and another team's build: neither counts.
    make_build(status="failed", quality=1, minutes=500, started=NOW - dt.timedelta(days=200))
    make_build(team=make_team("Else"), status="failed", quality=1, minutes=500, started=day)


def insights():
    return selectors.team_insights(team=_team(), since=NOW - dt.timedelta(days=30), until=NOW)


def _team():
    from crucible.models import Team

    return Team.objects.get(slug="acme")


def test_summary(fixture_builds):
    s = insights()["summary"]
    assert (s["builds"], s["succeeded"], s["failed"], s["cancelled"], s["decided"]) == (5, 2, 2, 1, 4)
    assert s["success_rate"] == pytest.approx(0.5)
    assert s["failure_rate"] == pytest.approx(0.5)
    assert s["median_duration_ms"] == near(30 * MIN)
    assert s["p90_duration_ms"] == near(50 * MIN)
    assert s["avg_quality"] == pytest.approx(200 / 3)
    assert s["tokens_per_build"] == pytest.approx(2000)
    assert s["cost_per_build"] == Decimal("0.2")  # money is exact (crucible.money)
    assert s["total_tokens"] == 10000
    assert s["small_sample"] is True


def test_by_stack(fixture_builds):
    rows = {r["stack_key"]: r for r in insights()["by_stack"]}
    python = rows["python + django + postgresql"]
    assert (python["builds"], python["succeeded"], python["failed"]) == (3, 2, 1)
    assert python["success_rate"] == pytest.approx(2 / 3)
    assert python["median_duration_ms"] == near(20 * MIN)
    assert python["p90_duration_ms"] == near(50 * MIN)  # 10, 20, 50: nearest rank ceil(2.7) = 3
    assert python["avg_quality"] == pytest.approx(80)
    node = rows["typescript + express + mongodb"]
    assert (node["builds"], node["cancelled"], node["success_rate"]) == (2, 1, 0.0)
    assert node["median_duration_ms"] == near(30 * MIN)  # 30, 40: nearest rank 1
    assert node["avg_quality"] == pytest.approx(40)


def test_by_component(fixture_builds):
    rows = {r["component"]: r for r in insights()["by_component"]}
    assert set(rows) == {"python", "django", "postgresql", "typescript", "express", "mongodb"}
    assert rows["postgresql"]["builds"] == 3 and rows["postgresql"]["success_rate"] == pytest.approx(2 / 3)
    assert rows["mongodb"]["builds"] == 2 and rows["mongodb"]["failure_rate"] == pytest.approx(1.0)


def test_top_errors(fixture_builds):
    rows = insights()["top_errors"]
    assert [(r["error_type"], r["builds"], r["occurrences"]) for r in rows] == [
        ("TimeoutError", 2, 3),
        ("ImportError", 1, 1),
    ]


def test_agent_versions_with_counts(make_build, agent):
    from marketplace import services as marketplace_services

    v2 = marketplace_services.version_publish(agent=agent, system_prompt="v2", version="2.0.0")
    day = NOW - dt.timedelta(days=2)
    for quality in (90, 80):
        make_build(quality=quality, started=day, agents=[{"agent": agent.slug, "version": "1.0.0"}])
    make_build(status="failed", quality=30, started=day, agents=[{"agent": agent.slug, "version": v2.version}])
    make_build(quality=70, started=day)  # no agent named
    rows = {
        r["version"]: r
        for r in selectors.team_insights(team=_team(), since=NOW - dt.timedelta(days=30), until=NOW)["agents"]
    }
    team_quality = (90 + 80 + 30 + 70) / 4
    assert rows["1.0.0"]["builds"] == 2 and rows["1.0.0"]["success_rate"] == 1.0
    assert rows["1.0.0"]["delta_quality"] == pytest.approx(85 - team_quality)
    assert rows["2.0.0"]["builds"] == 1 and rows["2.0.0"]["success_rate"] == 0.0
    assert rows["2.0.0"]["delta_success_rate"] == pytest.approx(0.0 - 3 / 4)
    assert rows["2.0.0"]["small_sample"] is True


def test_empty_range_is_not_an_error(team):
    data = selectors.team_insights(team=team, since=NOW - dt.timedelta(days=30), until=NOW)
    assert data["summary"]["builds"] == 0 and data["summary"]["success_rate"] is None
    assert data["by_stack"] == [] and data["trend"]["weeks"] == []
    assert data["trend"]["quality"]["direction"] == "insufficient_data"
