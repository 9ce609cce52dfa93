"""Guarded rollout: each step, the stop and yank on a guardrail breach, and the move of stable."""

import random
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.utils import timezone

from improvement import services
from improvement.models import Rollout, RolloutStep
from marketplace import selectors as marketplace_selectors
from marketplace import services as marketplace_services
from marketplace.models import Agent, AgentVersion

pytestmark = pytest.mark.django_db
BASE = "/api/v1/improvement"


@pytest.fixture
def agent(team):
    agent = marketplace_services.agent_create(team=team, name="Support bot", system_prompt="You are the old prompt.")
    return Agent.objects.get(pk=agent.pk)


@pytest.fixture
def concluded(make_experiment, agent):
    experiment = make_experiment("rollout", variants=("control", "better"), agent=agent)
    winner = experiment.variants.get(name="better")
    return services.experiment_conclude(experiment=experiment, winner=winner)


def _runs(rollout, n, *, stable_errors, candidate_errors, seed):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        side = rollout.candidate_id if rng.random() < 0.5 else rollout.stable_id
        error = candidate_errors if side == rollout.candidate_id else stable_errors
        rows.append({"version_id": side, "success": rng.random() >= error, "duration_ms": 900.0, "cost": 0.002})
    return services.rollout_results_record(rollout=rollout, results=rows)


def test_guarded_promotion_publishes_a_candidate_beside_stable(concluded, agent):
    rollout = services.rollout_start(experiment=concluded)
    agent.refresh_from_db()
    assert rollout.candidate.channel == "candidate" and rollout.candidate.system_prompt.startswith("You are the better")
    assert agent.latest_version.version == "1.0.0"  # stable did not move
    assert agent.candidate_share == pytest.approx(0.05)
    assert [s.action for s in rollout.steps.all()] == ["start"]
    # Default-channel runs: about 5% get the candidate, the same run key always the same version.
    picks = [marketplace_selectors.version_for_run(agent=agent, run_key=f"run-{i}").pk for i in range(2000)]
    assert 50 <= picks.count(rollout.candidate_id) <= 150
    assert marketplace_selectors.version_for_run(agent=agent, run_key="run-7").pk == picks[7]
    with pytest.raises(ValidationError):
        services.rollout_start(experiment=concluded)  # promoted once


def test_each_step_is_recorded_and_completion_moves_stable(concluded, agent):
    rollout = services.rollout_start(experiment=concluded)
    now = timezone.now()
    shares = [rollout.share]
    for step in range(1, 5):
        _runs(rollout, 120, stable_errors=0.05, candidate_errors=0.05, seed=step)
        # Not due yet: nothing moves before the step's time.
        assert services.rollout_check(rollout=rollout, now=now + timedelta(minutes=step)).share == shares[-1]
        rollout = services.rollout_check(rollout=rollout, now=now + timedelta(days=step, hours=1))
        shares.append(rollout.share)
        if rollout.status != "running":
            break
    assert shares == [0.05, 0.25, 0.5, 1.0, 1.0]
    assert rollout.status == "completed"
    assert [s.action for s in rollout.steps.all()] == ["start", "advance", "advance", "advance", "complete"]
    agent.refresh_from_db()
    assert agent.latest_version_id == rollout.candidate_id and agent.candidate_share == 0
    assert AgentVersion.objects.get(pk=rollout.candidate_id).channel == "stable"


def test_a_step_waits_for_enough_candidate_runs(concluded):
    rollout = services.rollout_start(experiment=concluded)
    _runs(rollout, 20, stable_errors=0.05, candidate_errors=0.05, seed=1)
    rollout = services.rollout_check(rollout=rollout, now=timezone.now() + timedelta(days=2))
    assert rollout.share == 0.05 and rollout.steps.count() == 1


def test_a_breach_stops_the_rollout_and_yanks_the_candidate(concluded, agent):
    rollout = services.rollout_start(experiment=concluded)
    outcome = _runs(rollout, 400, stable_errors=0.02, candidate_errors=0.40, seed=3)
    assert outcome["status"] == "stopped"
    rollout.refresh_from_db()
    assert rollout.status == "stopped" and rollout.reason.startswith("Error rate")
    step = rollout.steps.last()
    assert step.action == "stop" and "clearly worse than" in step.evidence
    candidate = AgentVersion.objects.get(pk=rollout.candidate_id)
    assert candidate.is_yanked and "Error rate" in candidate.yanked_reason
    agent.refresh_from_db()
    assert agent.latest_version.version == "1.0.0" and agent.candidate_share == 0
    assert marketplace_selectors.version_for_run(agent=agent, run_key="any").version == "1.0.0"
    with pytest.raises(ValidationError):
        _runs(rollout, 10, stable_errors=0.0, candidate_errors=0.0, seed=4)


def test_management_command_advances_due_rollouts(concluded):
    rollout = services.rollout_start(experiment=concluded)
    _runs(rollout, 120, stable_errors=0.05, candidate_errors=0.05, seed=5)
    Rollout.objects.filter(pk=rollout.pk).update(next_step_at=timezone.now() - timedelta(minutes=1))
    call_command("improvement_rollouts")
    rollout.refresh_from_db()
    assert rollout.share == 0.25 and RolloutStep.objects.filter(rollout=rollout, action="advance").count() == 1


def test_bad_schedule_and_runs_are_refused(concluded):
    with pytest.raises(ValidationError) as exc:
        services.rollout_start(experiment=concluded, schedule=[0.5, 0.25, 1.0])
    assert "schedule" in exc.value.message_dict
    rollout = services.rollout_start(experiment=concluded, schedule=[0.1, 1.0])
    with pytest.raises(ValidationError) as exc:
        services.rollout_results_record(
            rollout=rollout, results=[{"version_id": 999999, "success": True}, {"success": 1}]
        )
    assert {"results.0.version_id", "results.1.version_id", "results.1.success"} <= set(exc.value.message_dict)


def test_guarded_promotion_and_runs_through_the_api(team_key_client, concluded):
    promoted = team_key_client.post(f"{BASE}/experiments/{concluded.pk}/promote/", {"guarded": True}, format="json")
    assert promoted.status_code == 201, promoted.json()
    rollout_id = promoted.json()["rollout"]
    detail = team_key_client.get(f"{BASE}/rollouts/{rollout_id}/").json()
    assert detail["status"] == "running" and detail["share"] == 0.05 and detail["steps"][0]["action"] == "start"
    runs = [{"version_id": detail["candidate"], "success": False}] * 60 + [
        {"version_id": detail["stable"], "success": True}
    ] * 60
    recorded = team_key_client.post(f"{BASE}/rollouts/{rollout_id}/results/", {"results": runs}, format="json")
    assert recorded.status_code == 201, recorded.json()
    assert recorded.json()["status"] == "stopped"
    listed = team_key_client.get(f"{BASE}/rollouts/", {"status": "stopped"}).json()
    assert [r["id"] for r in listed["results"]] == [rollout_id]
