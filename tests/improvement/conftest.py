"""Fixtures for improvement tests: experiments with variants, and a way to feed them results."""

from __future__ import annotations

import random

import pytest

from improvement import services
from improvement.models import Variant


@pytest.fixture
def make_experiment(team):
    def make(name="checkout-prompt", *, variants=("control", "concise"), status="running", team_=None, **fields):
        specs = [
            {"name": v, "prompt": f"You are the {v} prompt.", "is_control": i == 0} for i, v in enumerate(variants)
        ]
        return services.experiment_create(team=team_ or team, name=name, variants=specs, status=status, **fields)

    return make


@pytest.fixture
def experiment(make_experiment):
    return make_experiment()


@pytest.fixture
def feed():
    """Record ``n`` simulated results for ``variant``: success with probability ``p``, quality
    around ``quality``; the objective is then dominated by these two."""

    def do(variant: Variant, n: int, *, p: float = 0.8, quality: float = 70.0, spread: float = 10.0, seed: int = 1):
        rng = random.Random(seed)
        rows = []
        for _ in range(n):
            rows.append(
                {
                    "variant_id": variant.pk,
                    "success": rng.random() < p,
                    "duration_ms": max(0.0, rng.gauss(1500, 200)),
                    "quality": min(100.0, max(0.0, rng.gauss(quality, spread))),
                    "tokens": rng.randint(100, 900),
                    "cost": 0.002,
                }
            )
        services.results_record_bulk(team=variant.team, results=rows)
        variant.refresh_from_db()
        return variant

    return do


@pytest.fixture
def make_agent_for_team(db):
    from marketplace import services as marketplace_services

    def make(team, name="Helper", **kwargs):
        kwargs.setdefault("system_prompt", f"You are {name}.")
        return marketplace_services.agent_create(team=team, name=name, **kwargs)

    return make
