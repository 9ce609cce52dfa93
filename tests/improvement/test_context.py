"""Context buckets: a Thompson-sampling experiment finds the best variant per context."""

import random

import pytest
from django.core.exceptions import ValidationError

from improvement import services
from improvement.models import Assignment, VariantContext

pytestmark = pytest.mark.django_db
BASE = "/api/v1/improvement"
BEST = {"python": "a", "go": "b"}


def _play(experiment, context, n, rng):
    """Select within ``context`` and report: the context's best variant scores high, the other low."""
    for _ in range(n):
        selection = services.experiment_select(
            team_ids=[experiment.team_id], experiment_id=experiment.pk, context=context, rng=rng
        )
        good = selection.variant.name == BEST[context]
        services.result_record(
            team=experiment.team,
            assignment_id=selection.assignment_id,
            success=good or rng.random() < 0.2,
            quality=90.0 if good else 20.0,
        )


def test_thompson_per_context_serves_each_bucket_its_own_best(make_experiment):
    experiment = make_experiment("stacks", variants=("a", "b"), strategy="thompson")
    rng = random.Random(4)
    for _ in range(6):
        _play(experiment, "python", 25, rng)
        _play(experiment, "go", 25, rng)
    a, b = experiment.variants.order_by("id")
    python = VariantContext.objects.get(variant=a, context="python")
    assert python.results > 50 and python.objective_sum / python.objective_count > 0.7
    picks = {
        context: [
            services.experiment_select(
                team_ids=[experiment.team_id], experiment_id=experiment.pk, context=context, rng=rng
            ).variant.name
            for _ in range(100)
        ]
        for context in ("python", "go")
    }
    assert picks["python"].count("a") >= 90
    assert picks["go"].count("b") >= 90
    assert Assignment.objects.filter(experiment=experiment, context="go").count() >= 250


def test_a_bad_context_is_refused(make_experiment):
    experiment = make_experiment("bad-context", strategy="thompson")
    with pytest.raises(ValidationError) as exc:
        services.experiment_select(team_ids=[experiment.team_id], experiment_id=experiment.pk, context="x" * 101)
    assert "context" in exc.value.message_dict


def test_context_through_the_api(team_key_client, make_experiment):
    make_experiment("api-context", strategy="thompson")
    body = team_key_client.post(
        f"{BASE}/select/", {"experiment": "api-context", "context": "rust", "unit": "u1"}, format="json"
    ).json()
    assert body["context"] == "rust" and body["unit"] == "u1"
    assignment = team_key_client.get(f"{BASE}/assignments/{body['assignment_id']}/").json()
    assert assignment["context"] == "rust"
