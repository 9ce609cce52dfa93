"""The apps that already exist publish: marketplace versions, yanks, ratings and reports, and
an experiment that concludes with a winner."""

from __future__ import annotations

import pytest

from crucible.models import Role
from crucible.notifications.models import Event, Notification
from improvement import services as improvement
from marketplace import services as marketplace


@pytest.fixture
def publisher(make_team, make_user):
    team = make_team("Publisher", slug="publisher")
    return team, make_user("pub", team=team, role=Role.OWNER)


@pytest.fixture
def public_agent(publisher):
    team, owner = publisher
    return marketplace.agent_create(
        team=team, name="Reviewer", system_prompt="Review.", visibility="public", created_by=owner
    )


def kinds_for(team):
    return list(Event.objects.filter(team=team).values_list("kind", flat=True))


def test_a_new_version_reaches_the_teams_that_installed_the_agent(team, member, other_team, public_agent):
    marketplace.agent_install(agent=public_agent, team=team, user=member)
    version = marketplace.version_publish(agent=public_agent, system_prompt="Review better.", changelog="Sharper.")
    [event] = Event.objects.filter(team=team)
    assert event.kind == "marketplace.version_published" and version.version in event.title
    assert Notification.objects.get(user=member).event == event
    assert kinds_for(other_team) == []  # did not install it


def test_a_yank_reaches_the_teams_using_that_version(team, member, other_team, outsider, public_agent):
    marketplace.agent_install(agent=public_agent, team=team, user=member)
    newer = marketplace.version_publish(agent=public_agent, system_prompt="v2")
    marketplace.agent_install(agent=public_agent, team=other_team, user=outsider)  # takes the newest
    used_by_team = public_agent.versions.exclude(pk=newer.pk).get()
    marketplace.version_yank(version=used_by_team, reason="Leaks secrets")
    marketplace.version_yank(version=used_by_team, reason="Leaks secrets")  # again: no second event
    assert kinds_for(team).count("marketplace.version_yanked") == 1
    assert "marketplace.version_yanked" not in kinds_for(other_team)
    assert Event.objects.get(kind="marketplace.version_yanked").body == "Leaks secrets"


def test_a_rating_and_a_report_reach_the_agents_team(team, member, publisher, public_agent):
    marketplace.agent_install(agent=public_agent, team=team, user=member)
    marketplace.rating_set(agent=public_agent, user=member, team=team, stars=2, review="Slow")
    marketplace.report_create(agent=public_agent, reporter=member, team=team, reason="spam", text="Ads")
    marketplace.report_create(agent=public_agent, reporter=member, team=team, reason="spam", text="Ads")
    publisher_team, owner = publisher
    assert sorted(kinds_for(publisher_team)) == ["marketplace.rating", "marketplace.report"]
    assert Notification.objects.filter(user=owner).count() == 2


def test_an_experiment_concluded_with_a_winner(team, member):
    experiment = improvement.experiment_create(
        team=team,
        name="shorter",
        variants=[{"name": "control", "prompt": "A", "is_control": True}, {"name": "terse", "prompt": "B"}],
        status="running",
    )
    winner = experiment.variants.get(name="terse")
    improvement.experiment_conclude(experiment=experiment, winner=winner)
    [event] = Event.objects.filter(team=team)
    assert event.kind == "improvement.winner" and "terse" in event.title
    assert event.url.endswith(f"/experiments/{experiment.pk}/")
