"""Demo data for Improvement (called by `manage.py seed_demo`).

Experiments at every stage: running with a clear winner, running with thin data, paused with
tied variants, concluded with a chosen winner, draft. Traffic is simulated by running the
experiment's own strategy call by call over past days, so the charts show the bandit shifting
traffic to the better variant; everything is written with bulk inserts.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from improvement import bandits, services
from improvement.models import Assignment, Experiment, Status, Variant, VariantBucket
from improvement.selectors import experiment_report
from marketplace import selectors as marketplace_selectors

PROMPTS = {
    "control": "You are a senior engineer. Review the change and list problems.",
    "concise": "You are a senior engineer. Review the change. Reply with at most five findings, most severe first, each with a fix.",
    "checklist": "Review the change against this checklist: correctness, tests, security, naming. Quote the lines.",
    "socratic": "Ask the author the questions a careful reviewer would ask, then answer them yourself.",
    "terse": "Minimal output. Only what must change.",
    "stepwise": "Plan in numbered steps before writing code; state assumptions first.",
    "examples": "Follow the examples below exactly; write tests before code.\n\nExample: ...",
}

# team, name, slug of the team's own agent whose prompt it tunes (None: a prompt not published as an
# agent yet), strategy, status, min_results, days, calls, {variant: (success p, quality mean)}
PLANS = [
    (
        "acme",
        "code-review-tone",
        "code-reviewer",
        "epsilon_greedy",
        Status.RUNNING,
        30,
        12,
        2400,
        {"control": (0.72, 62), "concise": (0.9, 81), "checklist": (0.78, 66)},
    ),
    (
        "initech",
        "test-writer-depth",
        "test-writer",
        "thompson",
        Status.RUNNING,
        40,
        2,
        45,
        {"control": (0.7, 60), "examples": (0.75, 65)},
    ),
    (
        "acme",
        "planner-system-prompt",
        "load-test-planner",
        "ucb1",
        Status.DRAFT,
        30,
        0,
        0,
        {"control": (0.7, 60), "stepwise": (0.8, 70)},
    ),
    (
        "acme",
        "commit-message-style",
        None,
        "epsilon_greedy",
        Status.CONCLUDED,
        25,
        8,
        900,
        {"control": (0.8, 64), "terse": (0.93, 79)},
    ),
    (
        "globex",
        "bugfix-explainer",
        None,
        "ucb1",
        Status.PAUSED,
        30,
        6,
        800,
        {"control": (0.8, 70), "socratic": (0.8, 70)},
    ),
    (
        "initech",
        "onboarding-guide",
        "onboarding-guide",
        "thompson",
        Status.RUNNING,
        20,
        5,
        700,
        {"control": (0.6, 55), "stepwise": (0.66, 61), "examples": (0.85, 77)},
    ),
    (
        "acme",
        "incident-summary",
        "incident-scribe",
        "epsilon_greedy",
        Status.DRAFT,
        30,
        0,
        0,
        {"control": (0.7, 60), "terse": (0.7, 62)},
    ),
]


def _agent_for(team, slug):
    """The team's own agent ``slug`` (None when the marketplace demo did not publish it): an
    experiment is never attached to an unrelated agent."""
    agent = marketplace_selectors.agent_for_team(team=team, ref=slug) if slug else None
    return agent if agent is not None and agent.team_id == team.pk else None


def _simulate(
    experiment: Experiment, variants: list[Variant], truth: dict, *, days: int, calls: int, rng: random.Random
):
    now = timezone.now()
    start = now - timedelta(days=days)
    span = (now - start).total_seconds()
    sums = {v.pk: defaultdict(float) for v in variants}
    buckets: dict[tuple, dict] = {}
    assignments = []
    arms_n = {v.pk: 0 for v in variants}
    arms_total = {v.pk: 0.0 for v in variants}
    arms_results = {v.pk: 0 for v in variants}
    by_id = {v.pk: v for v in variants}
    moments = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(calls))
    for moment in moments:
        arms = [bandits.Arm(v.pk, arms_n[v.pk], arms_total[v.pk], arms_results[v.pk]) for v in variants]
        chosen = bandits.choose(
            experiment.strategy, arms, epsilon=experiment.epsilon, min_results=experiment.min_results, rng=rng
        ).id
        p, q = truth[by_id[chosen].name]
        success = rng.random() < p
        quality = min(100.0, max(0.0, rng.gauss(q if success else q - 25, 9)))
        duration = max(50.0, rng.lognormvariate(7.2, 0.35))
        tokens = int(rng.gauss(1200, 250))
        cost = Decimal(tokens) * Decimal("0.000003")
        score = services.objective_score(experiment, success=success, duration_ms=duration, quality=quality, cost=cost)
        arms_n[chosen] += 1
        arms_total[chosen] += score
        arms_results[chosen] += 1
        s = sums[chosen]
        s["n"] += 1
        s["succ"] += success
        s["obj"] += score
        s["obj_sq"] += score * score
        s["q"] += quality
        s["q_sq"] += quality * quality
        s["d"] += duration
        s["d_sq"] += duration * duration
        s["tokens"] += tokens
        s["cost"] += float(cost)
        hour = moment.replace(minute=0, second=0, microsecond=0)
        b = buckets.setdefault((chosen, hour), {"assignments": 0, "results": 0, "successes": 0, "objective_sum": 0.0})
        b["assignments"] += 1
        b["results"] += 1
        b["successes"] += success
        b["objective_sum"] += score
        assignments.append(
            Assignment(
                team_id=experiment.team_id,
                experiment=experiment,
                variant_id=chosen,
                created_at=moment,
                result_at=moment + timedelta(milliseconds=duration),
            )
        )
    return sums, buckets, assignments


def seed(ctx) -> None:
    """Fill the app with realistic data for the demo teams in ``ctx``."""
    rng = ctx.rng
    with ctx.progress(len(PLANS), "Prompt experiments") as bar:
        for team_slug, name, agent_slug, strategy, status, min_results, days, calls, truth in PLANS:
            team = ctx.teams[team_slug]
            agent = _agent_for(team, agent_slug)
            subject = f"the {agent.name} agent" if agent else f"the {name.replace('-', ' ')} prompt"
            with transaction.atomic():
                experiment = services.experiment_create(
                    team=team,
                    name=name,
                    strategy=strategy,
                    min_results=min_results,
                    agent=agent,
                    description=f"Which prompt makes {subject} most useful? Objective: quality, success and speed.",
                    variants=[{"name": v, "prompt": PROMPTS[v], "is_control": v == "control"} for v in truth],
                    status=Status.RUNNING if status != Status.DRAFT else Status.DRAFT,
                )
                variants = list(experiment.variants.order_by("id"))
                if calls:
                    sums, buckets, assignments = _simulate(experiment, variants, truth, days=days, calls=calls, rng=rng)
                    Assignment.objects.bulk_create(assignments, batch_size=2000)
                    VariantBucket.objects.bulk_create(
                        [
                            VariantBucket(experiment=experiment, variant_id=vid, bucket=hour, **values)
                            for (vid, hour), values in buckets.items()
                        ],
                        batch_size=2000,
                    )
                    for v in variants:
                        s = sums[v.pk]
                        Variant.objects.filter(pk=v.pk).update(
                            results_count=int(s["n"]),
                            success_count=int(s["succ"]),
                            objective_count=int(s["n"]),
                            objective_sum=s["obj"],
                            objective_sum_sq=s["obj_sq"],
                            quality_count=int(s["n"]),
                            quality_sum=s["q"],
                            quality_sum_sq=s["q_sq"],
                            duration_sum=s["d"],
                            duration_sum_sq=s["d_sq"],
                            tokens_sum=int(s["tokens"]),
                            cost_sum=Decimal(str(round(s["cost"], 6))),
                        )
                    began = timezone.now() - timedelta(days=days)
                    Experiment.objects.filter(pk=experiment.pk).update(
                        started_at=began, created_at=began - timedelta(hours=3)
                    )
                if status == Status.PAUSED:
                    services.experiment_pause(experiment=experiment)
                elif status == Status.CONCLUDED:
                    # The evidence names the winner; publish it to the agent when there is one.
                    promote = (
                        experiment.agent_id is not None
                        and experiment_report(experiment=experiment)["winner"] is not None
                    )
                    services.experiment_conclude(experiment=experiment, promote=promote, user=ctx.users.get("alice"))
            bar.update(1)
