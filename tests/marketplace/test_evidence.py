"""Measured evidence of marketplace versions: feeds, whose data is shown, and the K-team threshold
on every path (selector, API, pages, search sort and filters)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from crucible.models import Role
from marketplace import conf, services
from marketplace.evidence import version_evidence
from marketplace.evidence_stats import DURATION_HISTOGRAM, failure_rose, percentile_interval, spread, wilson
from marketplace.models import Agent, EvidenceSharing, VersionEvidenceDaily
from tests.marketplace.evidence_helpers import run_version, share

pytestmark = pytest.mark.django_db

AGENTS_URL = "/api/v1/marketplace/agents/"
SHARING_URL = "/api/v1/marketplace/evidence-sharing/"


def evidence_url(version, days=None):
    return f"/api/v1/marketplace/versions/{version.pk}/evidence/" + (f"?days={days}" if days else "")


@pytest.fixture
def published(make_agent, team, member):
    """A public agent of Acme (the publisher, team ``team``)."""
    return make_agent(team, "Summariser", created_by=member)


@pytest.fixture
def users(make_team):
    """Four user teams that may run the agent."""
    return [make_team(f"User {i}", slug=f"user-{i}") for i in range(4)]


@pytest.fixture
def three_k(monkeypatch):
    monkeypatch.setattr(conf, "EVIDENCE_MIN_TEAMS", 3)


# --- statistics -------------------------------------------------------------------------------------------


def test_the_histogram_rule_is_observability_s():
    from observability import histogram

    assert DURATION_HISTOGRAM.buckets == histogram.BUCKETS
    assert DURATION_HISTOGRAM.floor_ms == histogram.HISTOGRAM.floor_ms
    assert DURATION_HISTOGRAM.ratio == histogram.RATIO
    assert all(DURATION_HISTOGRAM.bucket_of(d) == histogram.bucket_of(d) for d in (0.3, 1, 7.5, 1234, 10**8))


def test_wilson_interval_matches_the_textbook_value():
    result = wilson(8, 10)
    assert result["value"] == 0.8
    assert result["low"] == pytest.approx(0.4902, abs=1e-4) and result["high"] == pytest.approx(0.9433, abs=1e-4)
    assert wilson(0, 0) is None


def test_percentile_interval_brackets_the_value():
    hist = DURATION_HISTOGRAM.empty()
    for d in range(1, 1001):
        hist[DURATION_HISTOGRAM.bucket_of(float(d))] += 1
    p95 = percentile_interval(hist, 0.95)
    assert p95["low"] <= p95["value"] <= p95["high"] and p95["n"] == 1000
    assert abs(p95["value"] - 950) / 950 < 0.07


def test_spread_hides_groups_below_the_threshold():
    assert spread([0.5, 0.9], min_teams=3) is None
    assert spread([0.5, 0.9, 0.7], min_teams=3) == {"min": 0.5, "median": 0.7, "max": 0.9, "teams": 3}


def test_failure_rise_needs_a_clear_difference():
    assert failure_rose(latest_failures=30, latest_runs=100, previous_failures=5, previous_runs=100)
    assert not failure_rose(latest_failures=7, latest_runs=100, previous_failures=5, previous_runs=100)
    assert not failure_rose(latest_failures=10, latest_runs=10, previous_failures=0, previous_runs=10)  # too few


# --- feeds ------------------------------------------------------------------------------------------------


def test_ingest_adds_executions_to_the_version_rollup(published, users):
    version = published.latest_version
    run_version(users[0], version, runs=5, failures=1, duration_ms=200, cost="0.01", quality=80)
    run_version(users[0], version, runs=3, duration_ms=400, cost="0.02")
    row = VersionEvidenceDaily.objects.get(team=users[0], version=version)
    assert (row.executions, row.successes, row.priced, row.quality_count) == (8, 7, 8, 5)
    assert row.tokens == 8 * 150 and float(row.cost) == pytest.approx(0.11)
    # Two durations: the stored histogram keeps the buckets from the first to the last in use.
    assert sum(row.hist) == 8 and row.hist_offset == DURATION_HISTOGRAM.bucket_of(200)
    assert row.hist[0] == 5 and row.hist[-1] == 3
    assert row.hist_offset + len(row.hist) - 1 == DURATION_HISTOGRAM.bucket_of(400)
    assert row.agent_id == published.pk


def test_a_build_first_then_executions_merge_into_one_row(published, users):
    version = published.latest_version
    started = timezone.now() - dt.timedelta(minutes=5)  # the build and the runs on the same day, even at 00:02
    services.version_evidence_build_record(
        team_id=users[0].pk, day=started.date(), succeeded=True, quality=None, version_ids=[version.pk]
    )
    run_version(users[0], version, runs=2, duration_ms=50, started_at=started)
    run_version(users[0], version, runs=1, duration_ms=5, started_at=started)
    row = VersionEvidenceDaily.objects.get(team=users[0], version=version)
    assert (row.builds, row.executions) == (1, 3)
    assert row.hist_offset == DURATION_HISTOGRAM.bucket_of(5) and (row.hist[0], row.hist[-1]) == (1, 2)
    p50 = {f.key: f for f in version_evidence(version=version, team=users[0]).figures}["p50_ms"].own
    assert p50["n"] == 3 and abs(p50["value"] - 50) / 50 < 0.07


def test_the_rollup_rebuild_recomputes_the_evidence_from_raw_executions(published, users):
    from observability.services import rollups_rebuild

    version = published.latest_version
    started = timezone.now() - dt.timedelta(minutes=5)  # the build and the runs on the same day, even at 00:02
    services.version_evidence_build_record(
        team_id=users[0].pk, day=started.date(), succeeded=True, quality=None, version_ids=[version.pk]
    )
    run_version(users[0], version, runs=6, failures=2, duration_ms=300, cost="0.01", quality=60, started_at=started)
    before = VersionEvidenceDaily.objects.values().get(team=users[0], version=version)
    VersionEvidenceDaily.objects.filter(pk=before["id"]).update(executions=999, hist=[])  # damaged
    rollups_rebuild(start=timezone.now() - dt.timedelta(days=1), end=timezone.now())
    after = VersionEvidenceDaily.objects.values().get(team=users[0], version=version)
    assert after == before  # build figures kept, execution figures recomputed exactly


def test_deleting_executions_takes_them_out_of_the_evidence(published, users):
    from observability import deletion
    from observability.models import Execution

    version = published.latest_version
    run_version(users[0], version, runs=4, failures=1, duration_ms=300, cost="0.01", quality=60)
    deletion.executions_delete(executions=Execution.objects.filter(team=users[0], status="error"))
    row = VersionEvidenceDaily.objects.get(team=users[0], version=version)
    assert (row.executions, row.successes, row.priced, row.quality_count, sum(row.hist)) == (3, 3, 3, 3, 3)
    assert float(row.cost) == pytest.approx(0.03) and row.tokens == 3 * 150


def test_builds_using_a_version_are_compared_with_the_team_s_other_builds(published, users):
    from teammemory.services import build_record

    version = published.latest_version
    finished = timezone.now() - dt.timedelta(hours=1)
    for i, (status, uses) in enumerate(
        [("succeeded", True), ("succeeded", True), ("failed", False), ("failed", False)]
    ):
        build_record(
            team=users[0],
            client_build_id=f"b{i}",
            status=status,
            started_at=finished - dt.timedelta(minutes=3),
            finished_at=finished,
            quality=90 if uses else 40,
            agents=[{"agent": f"{published.team.slug}/{published.slug}", "version": version.version}] if uses else [],
        )
    found = {f.key: f for f in version_evidence(version=version, team=users[0]).figures}
    assert found["build_success_with"].own["value"] == 1.0 and found["build_success_with"].own["n"] == 2
    assert found["build_success_other"].own["value"] == 0.0 and found["build_success_other"].own["n"] == 2
    assert found["build_quality_with"].own["value"] == 90 and found["build_quality_other"].own["value"] == 40


def test_experiment_outcomes_are_kept_per_version(published, users, three_k):
    version = published.latest_version
    now = timezone.now()
    for i, team in enumerate(users[:3]):
        services.version_experiment_record(
            team_id=team.pk,
            experiment_id=100 + i,
            concluded_at=now,
            outcomes=[{"version_id": version.pk, "outcome": "won" if i else "lost", "samples": 50, "successes": 40}],
        )
    own = version_evidence(version=version, team=users[0])
    assert [e["outcome"] for e in own.experiments_own] == ["lost"]
    assert own.experiments_own[0]["low"] < 0.8 < own.experiments_own[0]["high"]
    assert own.experiments_others is None  # nobody shares yet
    for team in users[:2]:
        share(team)
    assert version_evidence(version=version, team=users[3]).experiments_others is None  # two teams < K
    share(users[2])
    others = version_evidence(version=version, team=users[3]).experiments_others
    assert others == {"teams": 3, "won": 2, "lost": 1, "no_winner": 0}


# --- whose data ------------------------------------------------------------------------------------------


def test_own_figures_are_always_visible_to_the_own_team(published, users):
    run_version(users[0], published.latest_version, runs=10, failures=2)
    found = {f.key: f for f in version_evidence(version=published.latest_version, team=users[0]).figures}
    assert found["success_rate"].own["value"] == 0.8 and found["success_rate"].own["n"] == 10
    assert found["success_rate"].others is None
    # The publisher has no executions of its own, and nobody shares: it sees nothing.
    publisher_view = version_evidence(version=published.latest_version, team=published.team)
    assert not publisher_view.has_own and not publisher_view.has_others


def test_other_teams_figures_need_k_opted_in_teams(published, users, three_k):
    version = published.latest_version
    for team, failures in zip(users, (1, 2, 3, 9), strict=True):
        run_version(team, version, runs=10, failures=failures)
    share(users[0])
    share(users[1])
    viewer = published.team
    assert not version_evidence(version=version, team=viewer).has_others  # two sharing teams
    share(users[2])
    found = {f.key: f for f in version_evidence(version=version, team=viewer).figures}
    # users[3] (10 % success) did not opt in: it is not in the spread.
    assert found["success_rate"].others == {"min": 0.7, "median": 0.8, "max": 0.9, "teams": 3}
    assert found["cost_per_run"].others is None  # nobody had a priced run: no figure at all


def test_a_figure_is_shown_only_when_k_teams_measured_it(published, users, three_k):
    version = published.latest_version
    for i, team in enumerate(users[:3]):
        run_version(team, version, runs=4, quality=70 + i if i < 2 else None)
        share(team)
    found = {f.key: f for f in version_evidence(version=version, team=users[3]).figures}
    assert found["success_rate"].others["teams"] == 3
    assert found["quality"].others is None  # only two teams reported a quality


def test_the_callers_own_figure_never_counts_among_the_k_teams(published, users, three_k):
    """With its own figure in a spread of three, a sharing team could read the other two exactly."""
    from marketplace.models import VersionExperimentOutcome

    version = published.latest_version
    for i, (team, failures) in enumerate(zip(users[:3], (1, 2, 3), strict=True)):
        run_version(team, version, runs=10, failures=failures)
        share(team)
        VersionExperimentOutcome.objects.create(
            team=team,
            version=version,
            experiment_id=i + 1,
            outcome=VersionExperimentOutcome.Outcome.WON,
            samples=100,
            successes=90,
            low=0.8,
            high=0.95,
            concluded_at=timezone.now(),
        )
    outsider = version_evidence(version=version, team=users[3])
    assert outsider.has_others and outsider.experiments_others["teams"] == 3
    insider = version_evidence(version=version, team=users[0])
    assert insider.has_own and not insider.has_others
    assert insider.experiments_others is None and len(insider.experiments_own) == 1


def test_opting_out_removes_a_team_from_every_view(published, users, three_k):
    version = published.latest_version
    for team in users[:3]:
        run_version(team, version, runs=10)
        share(team)
    services.evidence_agents_refresh()
    assert Agent.objects.get(pk=published.pk).evidence_success_rate == 1.0
    share(users[2], on=False)
    assert not version_evidence(version=version, team=users[3]).has_others
    # The search figure is withdrawn at once, not at the next periodic refresh.
    agent = Agent.objects.get(pk=published.pk)
    assert agent.evidence_success_rate is None and agent.evidence_teams == 2


# --- API ------------------------------------------------------------------------------------------------


def test_evidence_api_gives_own_figures_and_hides_others_below_k(client_for, make_user, published, users, three_k):
    version = published.latest_version
    for team in users:
        run_version(team, version, runs=10, failures=1)
    share(users[0])
    share(users[1])
    client = client_for(make_user("u0", team=users[0]))
    body = client.get(evidence_url(version, 7)).json()
    assert body["days"] == 7 and body["min_teams"] == 3
    assert body["own"]["success_rate"]["value"] == 0.9 and body["own"]["success_rate"]["n"] == 10
    assert all(value is None for value in body["others"].values())
    share(users[2])
    # Three sharing teams, but only two besides the caller's: still nothing of theirs.
    assert all(value is None for value in client.get(evidence_url(version)).json()["others"].values())
    share(users[3])
    body = client.get(evidence_url(version)).json()
    assert body["others"]["success_rate"] == {"min": 0.9, "median": 0.9, "max": 0.9, "teams": 3}


def test_evidence_api_refuses_a_bad_period_and_another_team_s_private_version(
    client_for, make_user, make_agent, published, users
):
    client = client_for(make_user("u0", team=users[0]))
    response = client.get(evidence_url(published.latest_version, 5))
    assert response.status_code == 400 and "days" in response.json()["fields"]
    response = client.get(evidence_url(published.latest_version) + "?days=7&days=30")
    assert response.status_code == 400 and "days" in response.json()["fields"]
    private = make_agent(users[1], "Secret", visibility="private")
    assert client.get(evidence_url(private.latest_version)).status_code == 404


def test_sharing_setting_api_is_off_by_default_and_admins_change_it(client_for, make_user, users):
    member = client_for(make_user("m", team=users[0], role=Role.MEMBER))
    admin = client_for(make_user("a", team=users[0], role=Role.ADMIN))
    assert member.get(SHARING_URL).json() == {"share_evidence": False}
    assert member.put(SHARING_URL, {"share_evidence": True}, format="json").status_code == 403
    assert admin.put(SHARING_URL, {"share_evidence": "maybe"}, format="json").status_code == 400
    response = admin.put(SHARING_URL, {"share_evidence": True}, format="json")
    assert response.status_code == 200 and response.json() == {"share_evidence": True}
    assert EvidenceSharing.objects.get(team=users[0]).share_evidence
    assert member.get(SHARING_URL).json() == {"share_evidence": True}


# --- search: sort, filter, listing, warning --------------------------------------------------------------------


@pytest.fixture
def measured(make_agent, make_team, users):
    """Three public agents: 'good' (90 %) and 'fair' (60 %) measured by three sharing teams, and
    'thin' (100 %) measured by two sharing teams and one team that does not share."""
    publisher = make_team("Publisher", slug="pub")
    agents = {name: make_agent(publisher, name.title(), slug=name) for name in ("good", "fair", "thin")}
    for team in users[:3]:
        share(team)
        run_version(team, agents["good"].latest_version, runs=10, failures=1, cost="0.02")
        run_version(team, agents["fair"].latest_version, runs=10, failures=4, cost="0.01")
    for team in (users[0], users[1], users[3]):
        run_version(team, agents["thin"].latest_version, runs=10)
    services.evidence_agents_refresh()
    return agents


def _names(response):
    return [a["slug"] for a in response.json()["results"]]


def test_search_sorts_and_filters_by_measured_evidence_only_above_k(client_for, make_user, measured, three_k):
    client = client_for(make_user("searcher", team=measured["good"].team))
    by_success = _names(client.get(AGENTS_URL, {"sort": "success", "publisher": "pub"}))
    assert by_success[:2] == ["good", "fair"]  # 'thin' has no figure: it comes last
    assert _names(client.get(AGENTS_URL, {"sort": "cost_per_run", "publisher": "pub"}))[:2] == ["fair", "good"]
    assert _names(client.get(AGENTS_URL, {"min_success_rate": 80})) == ["good"]
    assert set(_names(client.get(AGENTS_URL, {"min_success_rate": 0}))) == {"good", "fair"}
    assert _names(client.get(AGENTS_URL, {"max_cost_per_run": "0.015"})) == ["fair"]
    listed = {a["slug"]: a["evidence"] for a in client.get(AGENTS_URL, {"publisher": "pub"}).json()["results"]}
    assert listed["thin"] is None
    assert listed["good"]["success_rate_median"] == 0.9 and listed["good"]["teams"] == 3


def test_a_raised_threshold_hides_search_figures_before_the_next_refresh(client_for, make_user, measured, monkeypatch):
    monkeypatch.setattr(conf, "EVIDENCE_MIN_TEAMS", 4)
    client = client_for(make_user("searcher", team=measured["good"].team))
    assert _names(client.get(AGENTS_URL, {"min_success_rate": 0})) == []
    assert _names(client.get(AGENTS_URL, {"sort": "success", "publisher": "pub"})) == ["thin"]  # stale rows left out
    assert all(a["evidence"] is None for a in client.get(AGENTS_URL).json()["results"])
    page = client.get(reverse("marketplace:index"), {"publisher": "pub"}).content.decode()
    assert "90.0%" not in page


def test_listing_warns_when_the_latest_version_fails_clearly_more(client_for, make_user, make_agent, users, three_k):
    agent = make_agent(users[3], "Flaky")
    first = agent.latest_version
    for team in users[:3]:
        share(team)
        run_version(team, first, runs=40, failures=1)
    second = services.version_publish(agent=agent, system_prompt="Worse prompt.")
    for team in users[:3]:
        run_version(team, second, runs=40, failures=12)
    call_command("marketplace_evidence_refresh")
    agent.refresh_from_db()
    assert agent.evidence_failure_warning
    # Seen by a team that did not measure it (the publisher); a team among the three that did
    # would be reading two other teams' runs, below K: no evidence and no warning for it (issue 13).
    client = client_for(make_user("publisher", team=users[3]))
    assert client.get(AGENTS_URL, {"q": "Flaky"}).json()["results"][0]["evidence"]["failure_rose"] is True
    page = client.get(reverse("marketplace:index"), {"q": "Flaky"}).content.decode()
    assert "failures up" in page
    measured = client_for(make_user("viewer0", team=users[0]))
    assert measured.get(AGENTS_URL, {"q": "Flaky"}).json()["results"][0]["evidence"] is None
    assert "failures up" not in measured.get(reverse("marketplace:index"), {"q": "Flaky"}).content.decode()
    # Below K teams on the versions compared, there is no warning.
    share(users[2], on=False)
    agent.refresh_from_db()
    assert not agent.evidence_failure_warning


# --- pages ---------------------------------------------------------------------------------------------------


def test_agent_and_version_pages_show_own_evidence_and_the_spread(client, make_user, published, users, three_k):
    version = published.latest_version
    for team, failures in zip(users, (1, 2, 3, 4), strict=True):
        run_version(team, version, runs=10, failures=failures, cost="0.01")
    client.force_login(make_user("u0", team=users[0]))
    page = client.get(reverse("marketplace:agent-detail", args=[published.pk])).content.decode()
    assert 'id="evidence-table"' in page and "90.0%" in page  # own success rate
    assert "80.0%" not in page  # nobody shares: no other team's figure
    for team in users:
        share(team)
    page = client.get(reverse("marketplace:version-detail", args=[published.pk, version.pk]), {"days": 90}).content
    assert "60.0% / 70.0% / 80.0%" in page.decode()  # the three other teams, not the caller's own


def test_version_page_of_another_team_s_private_agent_is_404(client, make_user, make_agent, users):
    private = make_agent(users[1], "Secret", visibility="private")
    client.force_login(make_user("u0", team=users[0]))
    url = reverse("marketplace:version-detail", args=[private.pk, private.latest_version.pk])
    assert client.get(url).status_code == 404


def test_sharing_page_lets_admins_switch_and_shows_others_the_state(client, make_user, users):
    admin = make_user("adm", team=users[0], role=Role.ADMIN)
    member = make_user("mem", team=users[0], role=Role.MEMBER)
    url = reverse("marketplace:evidence-sharing")
    client.force_login(member)
    assert 'id="sharing-form"' not in client.get(url).content.decode()
    assert client.post(url, {"share_evidence": "on"}).status_code == 403
    client.force_login(admin)
    assert client.post(url, {"share_evidence": "on"}).status_code == 302
    assert EvidenceSharing.objects.get(team=users[0]).share_evidence
    assert "Sharing is <strong>on</strong>" in client.get(url).content.decode()
    client.post(url, {})
    assert not EvidenceSharing.objects.get(team=users[0]).share_evidence


def test_agent_page_lists_versions_twenty_at_a_time(client, make_user, make_agent, users):
    agent = make_agent(users[0], "Prolific")
    for _ in range(24):
        services.version_publish(agent=agent, system_prompt="Again.")
    client.force_login(make_user("u0", team=users[0]))
    url = reverse("marketplace:agent-detail", args=[agent.pk])
    first = client.get(url).content.decode()
    assert len(re.findall(rf'href="/marketplace/agents/{agent.pk}/versions/\d+/"', first)) == 20
    assert "versions_page=2" in first and "1.24.0" in first and "1.0.0<" not in first.split('id="versions"')[1]
    second = client.get(url, {"versions_page": 2}).content.decode().split('id="versions"')[1]
    assert "1.0.0" in second and "1.24.0<" not in second
    # The install form suggests the 20 newest and takes any other typed in (it named all 25).
    suggested = first.split('<datalist id="install-versions">', 1)[1].split("</datalist>", 1)[0]
    assert 'value="1.24.0"' in suggested and 'value="1.0.0"' not in suggested
    assert "any version of the 25 in the table below" in first


def test_the_worker_refreshes_search_figures_every_hour(make_agent, make_team, users, three_k):
    from procrastinate.contrib.django import app

    from marketplace.models import Agent
    from marketplace.tasks import evidence_refresh

    scheduled = {p.task.name: p.cron for p in app.periodic_registry.periodic_tasks.values()}
    assert scheduled["marketplace.evidence_refresh"] == "7 * * * *"
    agent = make_agent(make_team("Publisher", slug="pub"), "Hourly", slug="hourly")
    for team in users[:3]:
        share(team)
        run_version(team, agent.latest_version, runs=10, failures=1)
    assert Agent.objects.get(pk=agent.pk).evidence_success_rate is None  # not refreshed yet
    assert evidence_refresh(0) >= 1
    assert Agent.objects.get(pk=agent.pk).evidence_success_rate == pytest.approx(0.9)
