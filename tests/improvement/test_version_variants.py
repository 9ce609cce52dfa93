"""Variants that are whole marketplace versions, the upgrade advisor's experiment, the guardrail
and both promotion paths (publish for the team's own agent, pin for an installed one)."""

import pytest
from django.core.exceptions import ValidationError

from improvement import services
from improvement.models import SourceKind, Status
from marketplace import services as marketplace_services
from marketplace.models import AgentVersion, Installation

pytestmark = pytest.mark.django_db

HINTS_V1 = {"model": "big-model", "temperature": 0.2}
HINTS_V2 = {"model": "small-model", "temperature": 0.1}
SCHEMA = {"type": "object", "properties": {"diff": {"type": "string"}}}


@pytest.fixture
def published(other_team, outsider):
    """Another team's public agent with 1.0.0 and a newer 1.1.0."""
    agent = marketplace_services.agent_create(
        team=other_team,
        name="Reviewer",
        system_prompt="Review the change.",
        model_hints=HINTS_V1,
        input_schema=SCHEMA,
        created_by=outsider,
    )
    return agent


def _install_then_upgrade_available(agent, team):
    marketplace_services.agent_install(agent=agent, team=team)
    marketplace_services.version_publish(
        agent=agent, system_prompt="Review the change, briefly.", model_hints=HINTS_V2, changelog="Shorter."
    )
    agent.refresh_from_db()
    return agent


def _wins(feed, experiment, *, candidate_p=0.97, control_p=0.6):
    control = experiment.variants.get(is_control=True)
    candidate = experiment.variants.get(is_control=False)
    feed(control, 60, p=control_p, quality=50, seed=1)
    feed(candidate, 60, p=candidate_p, quality=90, seed=2)
    return control, candidate


def test_upgrade_advisor_starts_current_against_new_with_a_guardrail(team, published, member):
    agent = _install_then_upgrade_available(published, team)
    experiment, created = services.experiment_upgrade_start(team=team, agent=agent, created_by=member)
    assert created and experiment.status == Status.RUNNING
    assert experiment.source_kind == SourceKind.UPGRADE
    assert experiment.guardrail_error_margin == pytest.approx(0.02)
    assert experiment.guardrail_p95_margin == pytest.approx(0.2) and experiment.guardrail_cost_margin == pytest.approx(
        0.2
    )
    control = experiment.variants.get(is_control=True)
    candidate = experiment.variants.get(is_control=False)
    assert (control.version_label, candidate.version_label) == ("1.0.0", "1.1.0")
    assert control.prompt == "Review the change." and control.model_hints == HINTS_V1
    assert candidate.prompt == "Review the change, briefly." and candidate.model_hints == HINTS_V2
    assert candidate.input_schema == SCHEMA
    again, created = services.experiment_upgrade_start(team=team, agent=agent)
    assert not created and again.pk == experiment.pk


def test_upgrade_advisor_refuses_when_already_on_the_newest_version(team, published):
    marketplace_services.agent_install(agent=published, team=team)
    with pytest.raises(ValidationError) as exc:
        services.experiment_upgrade_start(team=team, agent=published)
    assert "agent" in exc.value.message_dict


def test_select_returns_what_is_needed_to_run_a_version(team, published, team_key_client):
    agent = _install_then_upgrade_available(published, team)
    experiment, _ = services.experiment_upgrade_start(team=team, agent=agent)
    response = team_key_client.post(f"/api/v1/improvement/experiments/{experiment.pk}/select/", {}, format="json")
    assert response.status_code == 201, response.json()
    variant = response.json()["variant"]
    version = variant["agent_version"]
    expected = AgentVersion.objects.get(agent=agent, version=version["version"])
    assert version["id"] == expected.pk
    assert variant["prompt"] == expected.system_prompt
    assert version["model_hints"] == expected.model_hints
    assert version["input_schema"] == SCHEMA


def test_prompt_only_variants_select_without_a_version(experiment, team_key_client):
    response = team_key_client.post(f"/api/v1/improvement/experiments/{experiment.pk}/select/", {}, format="json")
    assert response.status_code == 201
    assert response.json()["variant"]["agent_version"] is None


def test_a_version_variant_must_belong_to_the_experiments_agent(team, published, make_agent_for_team):
    agent = _install_then_upgrade_available(published, team)
    experiment, _ = services.experiment_upgrade_start(team=team, agent=agent)
    stranger = make_agent_for_team(team)
    with pytest.raises(ValidationError) as exc:
        services.variant_create(experiment=experiment, name="other", agent_version=stranger.latest_version)
    assert "agent_version" in exc.value.message_dict


def test_winner_of_an_installed_agent_becomes_the_pinned_version(team, published, feed):
    agent = _install_then_upgrade_available(published, team)
    experiment, _ = services.experiment_upgrade_start(team=team, agent=agent)
    _, candidate = _wins(feed, experiment)
    experiment = services.experiment_conclude(experiment=experiment, promote=True)
    experiment.refresh_from_db()
    assert experiment.winner_id == candidate.pk
    assert experiment.promoted_as == "pinned"
    installation = Installation.objects.get(team=team, agent=agent)
    assert installation.pinned and installation.version.version == "1.1.0"
    assert AgentVersion.objects.filter(agent=agent).count() == 2  # nothing published in another team's agent


def test_winner_of_the_teams_own_agent_is_published_with_its_model_hints(team, member, feed):
    agent = marketplace_services.agent_create(
        team=team, name="Own", system_prompt="Do it.", model_hints=HINTS_V1, created_by=member
    )
    marketplace_services.agent_install(agent=agent, team=team)
    marketplace_services.version_publish(agent=agent, system_prompt="Do it well.", model_hints=HINTS_V2)
    agent.refresh_from_db()
    experiment, _ = services.experiment_upgrade_start(team=team, agent=agent)
    _wins(feed, experiment)
    experiment = services.experiment_conclude(experiment=experiment, promote=True)
    experiment.refresh_from_db()
    assert experiment.promoted_as == "published"
    published = experiment.promoted_version
    assert published.version == "1.2.0"
    assert published.system_prompt == "Do it well." and published.model_hints == HINTS_V2


def test_guardrail_blocks_promoting_a_variant_that_fails_more(team, published, feed):
    agent = _install_then_upgrade_available(published, team)
    experiment, _ = services.experiment_upgrade_start(team=team, agent=agent)
    control, candidate = _wins(feed, experiment, candidate_p=0.5, control_p=0.95)
    with pytest.raises(ValidationError) as exc:
        services.experiment_conclude(experiment=experiment, winner=candidate, promote=True)
    assert "guardrail" in str(exc.value)
    assert Installation.objects.get(team=team, agent=agent).version.version == "1.0.0"


def test_an_installed_agent_cannot_be_tuned_by_a_team_that_did_not_install_it(team, published):
    with pytest.raises(ValidationError) as exc:
        services.experiment_create(team=team, name="x", agent=published)
    assert "agent" in exc.value.message_dict


def test_variant_api_adds_a_version_of_the_experiments_agent(team, published, team_key_client):
    agent = _install_then_upgrade_available(published, team)
    experiment, _ = services.experiment_upgrade_start(team=team, agent=agent)
    url = "/api/v1/improvement/variants/"
    response = team_key_client.post(
        url,
        {"experiment": experiment.pk, "name": "old on small", "agent_version": "1.0.0", "model_hints": HINTS_V2},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["version_label"] == "1.0.0" and body["model_hints"] == HINTS_V2
    assert body["prompt"] == "Review the change."
    bad = team_key_client.post(url, {"experiment": experiment.pk, "name": "x", "agent_version": "4.0.0"}, format="json")
    assert bad.status_code == 400 and "agent_version" in bad.json()["fields"]
