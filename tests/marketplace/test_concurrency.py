"""Counters stay exact under concurrent requests: each thread uses its own database connection."""

import threading

import pytest
from django.db import connection

from crucible.models import Role
from marketplace import services
from marketplace.models import Agent, AgentDailyStat, Download, Installation, InstallEvent, Rating

pytestmark = pytest.mark.django_db(transaction=True)


def run_concurrently(jobs):
    """Start every job at the same moment (a barrier), each in its own thread and connection."""
    barrier = threading.Barrier(len(jobs))
    errors = []

    def wrap(job):
        try:
            barrier.wait()
            job()
        except Exception as exc:  # collected and re-raised in the test thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


@pytest.fixture
def published(make_agent, make_team):
    publisher = make_team("Publisher")
    return make_agent(publisher, "Popular Agent")


def test_concurrent_installs_count_distinct_teams_exactly(published, make_team):
    teams = [make_team() for _ in range(6)]
    # Every team installs twice at the same time: 12 concurrent requests, 6 distinct teams.
    jobs = [lambda t=t: services.agent_install(agent=published, team=t) for t in teams for _ in range(2)]
    run_concurrently(jobs)
    agent = Agent.objects.get(pk=published.pk)
    assert agent.install_count == 6
    assert agent.active_install_count == 6
    assert Installation.objects.filter(agent=agent).count() == 6
    assert InstallEvent.objects.filter(agent=agent, kind="install").count() == 6
    assert AgentDailyStat.objects.get(agent=agent).installs == 6


def test_concurrent_uninstall_and_reinstall_keep_active_count_exact(published, make_team):
    teams = [make_team() for _ in range(5)]
    installations = [services.agent_install(agent=published, team=t)[0] for t in teams]
    run_concurrently(
        [lambda i=i: services.installation_uninstall(installation=i) for i in installations for _ in range(2)]
    )
    assert Agent.objects.get(pk=published.pk).active_install_count == 0
    run_concurrently([lambda t=t: services.agent_install(agent=published, team=t) for t in teams for _ in range(2)])
    agent = Agent.objects.get(pk=published.pk)
    assert (agent.install_count, agent.active_install_count) == (5, 5)


def test_concurrent_downloads_count_once_per_team_version_day(published, make_team):
    teams = [make_team() for _ in range(3)]
    version = published.latest_version
    run_concurrently([lambda t=t: services.version_download(version=version, team=t) for t in teams for _ in range(4)])
    agent = Agent.objects.get(pk=published.pk)
    assert agent.download_count == 3
    assert Download.objects.count() == 3
    assert AgentDailyStat.objects.get(agent=agent).downloads == 3


def test_concurrent_ratings_keep_average_count_and_histogram_exact(published, make_team, make_user):
    raters = []
    for stars in (5, 4, 4, 3, 1, 5, 2, 5):
        team = make_team()
        services.agent_install(agent=published, team=team)
        raters.append((make_user(team=team, role=Role.MEMBER), team, stars))
    jobs = []
    for user, team, stars in raters:
        # Each rater rates twice concurrently: first 1 star, then their real rating; whichever
        # lands last wins, and the aggregates must match the stored ratings exactly.
        jobs.append(lambda u=user, t=team: services.rating_set(agent=published, user=u, team=t, stars=1))
        jobs.append(lambda u=user, t=team, s=stars: services.rating_set(agent=published, user=u, team=t, stars=s))
    run_concurrently(jobs)
    agent = Agent.objects.get(pk=published.pk)
    stored = list(Rating.objects.filter(agent=agent).values_list("stars", flat=True))
    assert len(stored) == len(raters) == agent.rating_count
    assert agent.rating_sum == sum(stored)
    assert agent.histogram == {n: stored.count(n) for n in range(1, 6)}
