"""Promotion of a winner to the marketplace."""

import pytest

from improvement import services
from improvement.models import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(team, member):
    from marketplace import services as marketplace_services

    return marketplace_services.agent_create(
        team=team, name="Reviewer", system_prompt="Review the change.", version="1.2.0", created_by=member
    )


def test_promotion_publishes_the_winner_as_the_next_version(team_key_client, make_experiment, agent, feed):
    experiment = make_experiment("reviewer-prompt", agent=agent)
    control, concise = experiment.variants.order_by("id")
    feed(control, 60, p=0.6, quality=50, seed=1)
    feed(concise, 60, p=0.97, quality=90, seed=2)
    response = team_key_client.post(
        f"/api/v1/improvement/experiments/{experiment.pk}/conclude/", {"promote": True}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "concluded" and body["winner"] == concise.pk
    assert body["promoted_version_label"] == "1.3.0"
    from marketplace.models import AgentVersion

    version = AgentVersion.objects.get(agent=agent, version="1.3.0")
    assert version.system_prompt == concise.prompt
    assert "reviewer-prompt" in version.changelog and "concise" in version.changelog
    again = team_key_client.post(f"/api/v1/improvement/experiments/{experiment.pk}/promote/", {}, format="json")
    assert again.status_code == 400


def test_promote_action_after_conclusion_with_chosen_version(team_key_client, make_experiment, agent, feed):
    experiment = make_experiment("pick", agent=agent)
    control, concise = experiment.variants.order_by("id")
    services.experiment_conclude(experiment=experiment, winner=concise)
    response = team_key_client.post(
        f"/api/v1/improvement/experiments/{experiment.pk}/promote/", {"version": "2.0.0"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["version"] == "2.0.0"
    assert response.json()["experiment"]["promoted_version_label"] == "2.0.0"


def test_promotion_without_winner_or_agent_is_refused(team_key_client, make_experiment, agent, feed):
    no_agent = make_experiment("no-agent")
    services.experiment_conclude(experiment=no_agent, winner=no_agent.variants.first())
    r1 = team_key_client.post(f"/api/v1/improvement/experiments/{no_agent.pk}/promote/", {}, format="json")
    assert r1.status_code == 400 and "agent" in r1.json()["fields"]
    thin = make_experiment("thin", agent=agent)
    r2 = team_key_client.post(f"/api/v1/improvement/experiments/{thin.pk}/conclude/", {"promote": True}, format="json")
    assert r2.status_code == 400 and "winner" in r2.json()["fields"]
    thin.refresh_from_db()
    assert thin.status == Status.RUNNING  # nothing written
    from marketplace.models import AgentVersion

    assert AgentVersion.objects.filter(agent=agent).count() == 1


def test_agent_of_another_team_cannot_be_tuned(team_key_client, other_team):
    from marketplace import services as marketplace_services

    foreign = marketplace_services.agent_create(team=other_team, name="Theirs", system_prompt="x")
    response = team_key_client.post(
        "/api/v1/improvement/experiments/", {"name": "steal", "agent": foreign.pk}, format="json"
    )
    assert response.status_code == 400 and "agent" in response.json()["fields"]
