"""Each recommendation rule fires on data that shows it, with its evidence, and stays quiet otherwise."""

import datetime as dt

import pytest

from teammemory import conf, histogram, selectors
from tests.teammemory.conftest import NOW

pytestmark = pytest.mark.django_db

DJANGO = {"language": "Python", "framework": "Django", "database": "Postgres"}
RAILS = {"language": "Ruby", "framework": "Rails", "database": "MySQL"}
DAY = NOW - dt.timedelta(days=5)


def recs(team, weeks=12):
    return selectors.team_recommendations(
        team=team, since=NOW - dt.timedelta(weeks=weeks), until=NOW + dt.timedelta(days=1)
    )["recommendations"]


def kinds(team, **kw):
    return [r["kind"] for r in recs(team, **kw)]


def of_kind(team, kind):
    return [r for r in recs(team) if r["kind"] == kind]


@pytest.fixture(autouse=True)
def small_thresholds(monkeypatch):
    monkeypatch.setattr(conf, "RECO_MIN_BUILDS", 10)
    monkeypatch.setattr(conf, "MIN_SAMPLE", 5)


def many(make_build, n, **kw):
    start = kw.pop("start", DAY)
    return [make_build(started=start + dt.timedelta(minutes=90 * i), **kw) for i in range(n)]


def test_too_little_data(make_build, team):
    many(make_build, 3)
    [rec] = of_kind(team, "too_little_data")
    assert rec["evidence"] == {"builds": 3, "threshold": 10}
    many(make_build, 7, start=DAY + dt.timedelta(days=1))
    assert "too_little_data" not in kinds(team)


def test_falling_quality_only_when_significant(make_build, team):
    for week, quality in enumerate([90, 88, 85, 86, 80, 77, 75, 70]):
        many(make_build, 2, quality=quality, start=NOW - dt.timedelta(weeks=7 - week, hours=-1))
    [rec] = of_kind(team, "falling_quality")
    assert rec["severity"] == "high"
    assert rec["evidence"]["slope_per_week"] < 0 and rec["evidence"]["p_value"] < 0.05


def test_noisy_flat_quality_is_not_falling(make_build, team):
    for week, quality in enumerate([80, 74, 79, 73, 80, 75, 78, 76]):
        many(make_build, 2, quality=quality, start=NOW - dt.timedelta(weeks=7 - week, hours=-1))
    assert "falling_quality" not in kinds(team)


def test_failing_stack_and_component(make_build, team):
    many(make_build, 6, stack=RAILS, status="failed", quality=30)
    many(make_build, 4, stack=RAILS, status="succeeded", start=DAY + dt.timedelta(days=1))
    many(make_build, 10, stack=DJANGO, status="succeeded", start=DAY + dt.timedelta(days=2))
    [stack] = of_kind(team, "failing_stack")
    assert stack["evidence"]["stack_key"] == "ruby + ruby on rails + mysql"
    assert stack["evidence"]["failure_rate"] == pytest.approx(0.6) and stack["evidence"]["builds"] == 10
    # Ruby, Rails and MySQL only occur in that stack: no separate findings repeating it.
    assert of_kind(team, "failing_component") == []


def test_failing_component_across_stacks(make_build, team):
    many(make_build, 3, stack={"language": "Ruby", "database": "MySQL"}, status="failed")
    many(
        make_build, 3, stack={"language": "Go", "database": "MySQL"}, status="failed", start=DAY + dt.timedelta(days=1)
    )
    many(
        make_build,
        2,
        stack={"language": "Go", "database": "MySQL"},
        status="succeeded",
        start=DAY + dt.timedelta(days=2),
    )
    many(make_build, 10, stack=DJANGO, status="succeeded", start=DAY + dt.timedelta(days=3))
    components = {r["evidence"]["component"]: r["evidence"] for r in of_kind(team, "failing_component")}
    # mysql: 6 of 8 fail across two stacks. ruby has too few builds; go only repeats the go + mysql stack.
    assert set(components) == {"mysql"}
    assert components["mysql"]["failure_rate"] == pytest.approx(0.75)


def test_failure_rate_below_threshold_is_quiet(make_build, team):
    many(make_build, 2, stack=RAILS, status="failed")
    many(make_build, 8, stack=RAILS, status="succeeded", start=DAY + dt.timedelta(days=1))
    assert "failing_stack" not in kinds(team)


def test_recurring_error(make_build, team):
    many(make_build, 5, status="failed", errors=[{"type": "DependencyConflict", "message": "pip could not resolve"}])
    many(make_build, 1, status="failed", errors=[{"type": "RareGlitch"}], start=DAY + dt.timedelta(days=1))
    many(make_build, 14, start=DAY + dt.timedelta(days=2))
    [rec] = of_kind(team, "recurring_error")
    assert rec["evidence"]["error_type"] == "DependencyConflict" and rec["evidence"]["builds"] == 5
    assert rec["evidence"]["share_of_builds"] == pytest.approx(0.25)


def test_recurring_error_counts_the_failed_builds_that_met_it(make_build, team):
    # 3 failed and 2 succeeded builds met the error; 4 other builds failed without it.
    many(make_build, 3, status="failed", errors=[{"type": "DependencyConflict"}])
    many(make_build, 2, errors=[{"type": "DependencyConflict"}], start=DAY + dt.timedelta(days=1))
    many(make_build, 4, status="failed", start=DAY + dt.timedelta(days=2))
    many(make_build, 11, start=DAY + dt.timedelta(days=3))
    [rec] = of_kind(team, "recurring_error")
    assert rec["evidence"]["builds"] == 5
    assert rec["evidence"]["failed_builds"] == 3  # not the team's 7 failed builds


def test_slow_builds(make_build, team, monkeypatch):
    monkeypatch.setattr(conf, "RECO_SLOW_P90_SECONDS", 1800)
    many(make_build, 8, minutes=10)
    many(make_build, 2, minutes=120, stack=RAILS, start=DAY + dt.timedelta(days=1))
    slow = of_kind(team, "slow_builds")
    assert slow[0]["evidence"]["p90_duration_ms"] > 1800 * 1000
    assert "slow_builds" in kinds(team)
    monkeypatch.setattr(conf, "RECO_SLOW_P90_SECONDS", 3 * 3600)
    assert "slow_builds" not in kinds(team)


def test_slow_stack_compared_with_the_team(make_build, team, monkeypatch):
    monkeypatch.setattr(conf, "RECO_SLOW_P90_SECONDS", 10**6)
    many(make_build, 10, minutes=10)
    many(make_build, 5, minutes=40, stack=RAILS, start=DAY + dt.timedelta(days=1))
    [rec] = of_kind(team, "slow_builds")
    assert rec["evidence"]["stack_key"] == "ruby + ruby on rails + mysql"
    # Read from the duration histogram: within its stated relative error.
    assert rec["evidence"]["median_duration_ms"] == pytest.approx(40 * 60_000, rel=histogram.RELATIVE_ERROR)


def test_worse_agent_version(make_build, team, agent):
    from marketplace import services as marketplace_services

    marketplace_services.version_publish(agent=agent, system_prompt="v2", version="2.0.0")
    v1 = [{"agent": agent.slug, "version": "1.0.0"}]
    v2 = [{"agent": agent.slug, "version": "2.0.0"}]
    many(make_build, 10, agents=v1, quality=85)
    many(make_build, 4, agents=v2, quality=40, status="failed", start=DAY + dt.timedelta(days=1))
    many(make_build, 2, agents=v2, quality=80, start=DAY + dt.timedelta(days=2))
    [rec] = of_kind(team, "worse_agent_version")
    assert rec["evidence"]["version"] == "2.0.0" and rec["evidence"]["builds"] == 6
    assert rec["evidence"]["delta_success_rate"] < -0.15
    assert rec["severity"] == "high"


def test_flaky_stack(make_build, team):
    text = "Export monthly reports as CSV"
    statuses = ["succeeded", "failed", "succeeded", "failed"]
    for i, status in enumerate(statuses):
        make_build(stack=DJANGO, requirements=text, status=status, started=DAY + dt.timedelta(hours=2 * i))
    # Same requirements text modulo case and spaces counts as the same.
    make_build(
        stack=DJANGO,
        requirements="  export monthly   REPORTS as csv",
        status="succeeded",
        started=DAY + dt.timedelta(hours=9),
    )
    many(make_build, 10, start=DAY + dt.timedelta(days=1))
    [rec] = of_kind(team, "flaky_stack")
    assert rec["evidence"]["stack_key"] == "python + django + postgresql"
    assert rec["evidence"]["flips"] == 4 and rec["evidence"]["repeats_within_window"] == 4


def test_pass_and_fail_far_apart_is_not_flaky(make_build, team):
    text = "Export monthly reports as CSV"
    for i, status in enumerate(["succeeded", "failed", "succeeded"]):
        make_build(stack=DJANGO, requirements=text, status=status, started=DAY - dt.timedelta(days=3 * i))
    many(make_build, 10, start=DAY + dt.timedelta(days=1))
    assert "flaky_stack" not in kinds(team)


def test_recommendations_are_sorted_by_severity(make_build, team):
    many(make_build, 6, stack=RAILS, status="failed")  # failing stack (high) but only 6 builds (info)
    severities = [r["severity"] for r in recs(team)]
    order = ["high", "medium", "low", "info"]
    assert {"high", "info"} <= set(severities)
    assert severities == sorted(severities, key=order.index)


def test_evidence_on_the_insights_page_is_labelled_and_rounded(client, member, make_build, team):
    # 9 of 22 builds meet the error: a share of 0.40909090909090906.
    many(make_build, 9, status="failed", errors=[{"type": "DependencyConflict"}])
    many(make_build, 13, start=DAY + dt.timedelta(days=1))
    client.force_login(member)
    html = client.get("/teammemory/?days=30").content.decode()
    recommendations = html[html.index('id="recommendations"') :]
    assert "<dt>Share of builds</dt><dd>40.9%</dd>" in recommendations
    assert "0.409" not in recommendations and "share_of_builds</dt>" not in recommendations
