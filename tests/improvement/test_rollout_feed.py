"""Observability feeds guarded rollouts: clients ask which version to run for a unit (sticky;
the candidate for its share), report executions with that version, and the rollout's guardrails
read the team's executions of candidate against stable."""

import datetime as dt
import random

import pytest
from django.utils import timezone

from improvement import services
from improvement.models import Rollout, RolloutTally
from marketplace import services as marketplace_services
from marketplace.models import Agent, AgentVersion
from observability.services import executions_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(team):
    created = marketplace_services.agent_create(
        team=team, name="Support bot", slug="support-bot", system_prompt="Old prompt.", visibility="public"
    )
    return Agent.objects.get(pk=created.pk)


@pytest.fixture
def rollout(make_experiment, agent):
    experiment = make_experiment("rollout", variants=("control", "better"), agent=agent)
    experiment = services.experiment_conclude(experiment=experiment, winner=experiment.variants.get(name="better"))
    return services.rollout_start(experiment=experiment)


def _ask(client, agent, unit):
    response = client.get(f"/api/v1/marketplace/agents/{agent.pk}/run-version/", {"unit": unit})
    assert response.status_code == 200, response.json()
    return response.json()


def test_clients_ask_which_version_to_run_sticky_per_unit(rollout, agent, team_key_client):
    answers = {unit: _ask(team_key_client, agent, unit) for unit in (f"user-{i}" for i in range(400))}
    candidates = [a for a in answers.values() if a["reason"] == "candidate"]
    assert 5 <= len(candidates) <= 40  # 5% of 400 units
    assert {a["version"] for a in candidates} == {rollout.candidate.version}
    assert all(a["channel"] == "candidate" and a["system_prompt"].startswith("You are the better") for a in candidates)
    assert {a["version"] for a in answers.values() if a["reason"] == "stable"} == {"1.0.0"}
    # Sticky: the same unit gets the same version, and keeps the candidate when the share grows.
    unit = candidates[0]["unit"]
    assert _ask(team_key_client, agent, unit)["version_id"] == candidates[0]["version_id"]
    marketplace_services.candidate_share_set(version=rollout.candidate, share=0.5)
    assert _ask(team_key_client, agent, unit)["version_id"] == candidates[0]["version_id"]


def test_run_version_errors_and_pins(rollout, agent, team_key_client, key_client, make_team):
    bad = team_key_client.get(f"/api/v1/marketplace/agents/{agent.pk}/run-version/", {"unit": "u" * 201})
    assert bad.status_code == 400 and "unit" in bad.json()["fields"]
    fresh = team_key_client.get(f"/api/v1/marketplace/agents/{agent.pk}/run-version/").json()
    assert fresh["unit"].startswith("run-") and fresh["reason"] in ("stable", "candidate")
    installer = make_team("Installer", slug="installer")
    marketplace_services.agent_install(agent=agent, team=installer, version="1.0.0")
    client = key_client(installer)
    pinned = [_ask(client, agent, f"user-{i}") for i in range(100)]
    assert {(a["reason"], a["version"]) for a in pinned} == {("pinned", "1.0.0")}
    Agent.objects.filter(pk=agent.pk).update(visibility="private")
    stranger = key_client(make_team("Stranger", slug="stranger"))
    assert stranger.get(f"/api/v1/marketplace/agents/{agent.pk}/run-version/", {"unit": "u"}).status_code == 404


def _executions(team, rollout, n, *, candidate_errors, seed, stable_errors=0.03):
    rng = random.Random(seed)
    candidate = AgentVersion.objects.get(pk=rollout.candidate_id)
    events = []
    now = timezone.now()
    for i in range(n):
        on_candidate = rng.random() < 0.5
        error = candidate_errors if on_candidate else stable_errors
        events.append(
            {
                "id": f"run-{seed}-{i}",
                "agent": "support-bot",
                "agent_ref": "support-bot",
                "agent_version": candidate.version if on_candidate else "1.0.0",
                "started_at": (now - dt.timedelta(minutes=1)).isoformat(),
                "duration_ms": 900.0,
                "status": "error" if rng.random() < error else "success",
                "cost": 0.002,
            }
        )
    results = executions_ingest(team=team, events=events)
    assert {r["status"] for r in results} == {"stored"}, results[:3]


def _tally(rollout, arm):
    return sum(RolloutTally.objects.filter(rollout=rollout, arm=arm).values_list("results", flat=True))


def test_the_teams_executions_feed_the_rollout_and_a_breach_stops_it(rollout, team, other_team):
    _executions(team, rollout, 200, candidate_errors=0.03, seed=1)
    assert _tally(rollout, "candidate") + _tally(rollout, "stable") == 200
    assert Rollout.objects.get(pk=rollout.pk).status == "running"
    _executions(team, rollout, 800, candidate_errors=0.4, seed=2)
    rollout.refresh_from_db()
    assert rollout.status == "stopped" and "Error rate" in rollout.reason
    assert AgentVersion.objects.get(pk=rollout.candidate_id).is_yanked
    # Executions after the stop are still stored, and no longer counted.
    before = _tally(rollout, "stable")
    _executions(team, rollout, 10, candidate_errors=0.0, seed=3)
    assert _tally(rollout, "stable") == before


def test_other_teams_executions_do_not_feed_the_publishers_rollout(rollout, other_team):
    _executions(other_team, rollout, 100, candidate_errors=0.5, seed=4)
    assert RolloutTally.objects.filter(rollout=rollout).count() == 0
    assert Rollout.objects.get(pk=rollout.pk).status == "running"


def test_run_version_of_an_agent_with_every_version_yanked_is_not_there(agent, team_key_client):
    # schemathesis: a schema-valid read answered 400 "no version to run"; nothing was wrong with
    # the request, there is nothing to run: a 404 in the one error shape.
    for version in AgentVersion.objects.filter(agent=agent):
        marketplace_services.version_yank(version=version, reason="withdrawn")
    response = team_key_client.get(f"/api/v1/marketplace/agents/{agent.pk}/run-version/", {"unit": "u"})
    assert response.status_code == 404
    assert "no version to run" in str(response.json())
