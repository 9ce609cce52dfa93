"""Notifications of the trust checks (a guardrail breach, a sample ratio mismatch, each step of a
guarded rollout), the worker's periodic check, and the breaches the alert metric counts."""

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from crucible.notifications.models import Event
from improvement import selectors, services
from improvement.models import Experiment, Rollout, RolloutStep
from marketplace import services as marketplace_services
from marketplace.models import Agent

pytestmark = pytest.mark.django_db
QUALITY_ONLY = {"weight_quality": 1.0, "weight_success": 0.0, "weight_speed": 0.0, "weight_cost": 0.0}


def _feed(variant, n, *, success, seed, quality=70.0):
    rng = random.Random(seed)
    rows = [
        {
            "variant_id": variant.pk,
            "success": rng.random() < success,
            "quality": quality,
            "duration_ms": 1000.0,
            "cost": 0.002,
        }
        for _ in range(n)
    ]
    services.results_record_bulk(team=variant.team, results=rows)


def _events(team, kind):
    return list(Event.objects.filter(team=team, kind=kind).order_by("id"))


def _breaching(make_experiment, name="flaky-check", **fields):
    experiment = make_experiment(name, variants=("control", "flaky"), **QUALITY_ONLY, **fields)
    control, flaky = experiment.variants.order_by("id")
    _feed(control, 300, success=0.97, seed=1)
    _feed(flaky, 300, success=0.70, seed=2)
    return experiment, flaky


def test_a_breach_is_recorded_and_notified_once(make_experiment, team, other_team):
    since = timezone.now() - timedelta(seconds=1)
    experiment, flaky = _breaching(make_experiment)
    assert selectors.experiment_guardrail_breaches(team=team, since=since) == []  # not read yet (no auto-stop)
    assert services.experiments_trust_check() == 1
    assert services.experiments_trust_check() == 1  # a retried job: nothing new
    events = _events(team, "improvement.guardrail")
    assert len(events) == 1
    assert "flaky breaks a guardrail" in events[0].title and "Error rate: flaky" in events[0].body
    assert events[0].payload["variant"] == flaky.pk and events[0].payload["stopped"] is False
    flaky.refresh_from_db()
    assert flaky.guardrail_breached_at is not None and flaky.retired_at is None
    breaches = selectors.experiment_guardrail_breaches(team=team, since=since)
    assert [(b.experiment_name, b.variant_name) for b in breaches] == [("flaky-check", "flaky")]
    assert "clearly worse" in breaches[0].evidence
    assert selectors.experiment_guardrail_breaches(team=team, since=timezone.now() + timedelta(minutes=1)) == []
    assert selectors.experiment_guardrail_breaches(team=other_team, since=since) == []


def test_auto_stop_retires_and_says_so_in_the_notice(make_experiment, team):
    experiment, flaky = _breaching(make_experiment, "auto-stop", guardrail_auto_stop=True)
    flaky.refresh_from_db()
    assert flaky.retired_at is not None and flaky.guardrail_breached_at is not None
    events = _events(team, "improvement.guardrail")
    assert len(events) == 1 and events[0].payload["stopped"] is True and "was stopped" in events[0].title


def test_a_similar_variant_raises_no_notice(make_experiment, team):
    experiment = make_experiment("calm", variants=("control", "twin"), **QUALITY_ONLY)
    control, twin = experiment.variants.order_by("id")
    _feed(control, 300, success=0.95, seed=1)
    _feed(twin, 300, success=0.95, seed=2)
    services.experiments_trust_check()
    assert _events(team, "improvement.guardrail") == []
    assert selectors.experiment_guardrail_breaches(team=team, since=timezone.now() - timedelta(hours=1)) == []


class Skewed(random.Random):
    def __init__(self, seed, bias):
        super().__init__(seed)
        self.bias = bias

    def choice(self, seq):
        return seq[0] if self.random() < self.bias else super().choice(seq)


def _serve(experiment, n, rng):
    for _ in range(n):
        services.experiment_select(team_ids=[experiment.team_id], experiment_id=experiment.pk, rng=rng)


def test_srm_is_notified_once_per_transition(make_experiment, team):
    experiment = make_experiment("skew", variants=("a", "b", "c"), strategy="fixed_split")
    _serve(experiment, 600, random.Random(1))
    assert services.experiment_srm_check(experiment=experiment) == "ok"
    assert _events(team, "improvement.srm") == []
    _serve(experiment, 900, Skewed(2, bias=0.35))
    assert services.experiments_trust_check() == 1
    services.experiments_trust_check()  # the same status again: no second notice
    events = _events(team, "improvement.srm")
    assert len(events) == 1 and events[0].payload["status"] == "alert"
    assert "sample ratio mismatch" in events[0].title and "does not match its design" in events[0].body
    assert Experiment.objects.get(pk=experiment.pk).srm_status == "alert"


def test_a_fair_split_is_never_notified(make_experiment, team):
    experiment = make_experiment("fair", variants=("a", "b"), strategy="fixed_split")
    _serve(experiment, 800, random.Random(5))
    services.experiments_trust_check()
    assert _events(team, "improvement.srm") == []


@pytest.fixture
def concluded(make_experiment, team):
    agent = Agent.objects.get(
        pk=marketplace_services.agent_create(team=team, name="Support bot", system_prompt="Old prompt.").pk
    )
    experiment = make_experiment("rollout", variants=("control", "better"), agent=agent)
    return services.experiment_conclude(experiment=experiment, winner=experiment.variants.get(name="better"))


def _runs(rollout, n, *, candidate_errors, seed, stable_errors=0.05):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        side = rollout.candidate_id if rng.random() < 0.5 else rollout.stable_id
        error = candidate_errors if side == rollout.candidate_id else stable_errors
        rows.append({"version_id": side, "success": rng.random() >= error, "duration_ms": 900.0, "cost": 0.002})
    return services.rollout_results_record(rollout=rollout, results=rows)


def test_each_rollout_step_is_notified(concluded, team):
    rollout = services.rollout_start(experiment=concluded)
    _runs(rollout, 120, candidate_errors=0.05, seed=1)
    services.rollout_check(rollout=rollout, now=timezone.now() + timedelta(days=1, hours=1))
    _runs(rollout, 600, candidate_errors=0.5, seed=2)
    events = _events(team, "improvement.rollout")
    assert [e.payload["action"] for e in events] == ["start", "advance", "stop"]
    assert "gets 5% of runs" in events[0].title and "gets 25% of runs" in events[1].title
    assert "yanked" in events[2].title and "Error rate" in events[2].body


def test_the_worker_steps_a_due_rollout_once(concluded, team):
    from procrastinate.contrib.django import app

    from improvement.tasks import trust_check

    scheduled = {p.task.name: p.cron for p in app.periodic_registry.periodic_tasks.values()}
    assert scheduled["improvement.trust_check"] == "*/5 * * * *"
    rollout = services.rollout_start(experiment=concluded)
    _runs(rollout, 120, candidate_errors=0.05, seed=1)
    assert trust_check(0)["rollouts"] == 1
    assert Rollout.objects.get(pk=rollout.pk).share == pytest.approx(0.05)  # not due yet
    Rollout.objects.filter(pk=rollout.pk).update(next_step_at=timezone.now() - timedelta(minutes=1))
    trust_check(0)
    trust_check(0)  # retried: the step is not applied twice
    rollout.refresh_from_db()
    assert rollout.share == pytest.approx(0.25)
    assert list(RolloutStep.objects.filter(rollout=rollout).values_list("action", flat=True)) == ["start", "advance"]


def test_the_worker_stops_a_breaching_rollout_that_is_not_due(concluded, team):
    from improvement.models import RolloutTally
    from improvement.tasks import trust_check

    rollout = services.rollout_start(experiment=concluded)
    # Runs written without a check of their own (by an earlier version, or an import): the
    # worker reads every running rollout's guardrails, not only those with a step due.
    RolloutTally.objects.create(
        rollout=rollout, team_id=rollout.team_id, arm="stable", bin=80, results=400, successes=380, cost_sum=0.8
    )
    RolloutTally.objects.create(
        rollout=rollout, team_id=rollout.team_id, arm="candidate", bin=80, results=400, successes=200, cost_sum=0.8
    )
    trust_check(0)
    rollout.refresh_from_db()
    assert rollout.status == "stopped" and "Error rate" in rollout.reason
    assert [e.payload["action"] for e in _events(team, "improvement.rollout")] == ["start", "stop"]
    breaches = selectors.experiment_guardrail_breaches(team=team, since=rollout.started_at)
    assert [(b.rollout_id, b.variant_name) for b in breaches] == [
        (rollout.pk, f"candidate {rollout.candidate.version}")
    ]
