"""Sticky assignment: a unit keeps its variant for the experiment's life, across processes and
after the bandit reweights; without a unit key every call is a fresh draw."""

import json
import os
import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from improvement import services
from improvement.models import Assignment, UnitAssignment

pytestmark = pytest.mark.django_db
BASE = "/api/v1/improvement"
ROOT = Path(__file__).resolve().parents[2]


def _select(experiment, unit, seed):
    return services.experiment_select(
        team_ids=[experiment.team_id], experiment_id=experiment.pk, unit=unit, rng=random.Random(seed)
    )


def test_same_unit_gets_same_variant_and_a_new_assignment_each_time(make_experiment):
    experiment = make_experiment("sticky", variants=("a", "b", "c", "d"), strategy="fixed_split")
    first = {f"user-{i}": _select(experiment, f"user-{i}", seed=i) for i in range(40)}
    assert len({s.variant.pk for s in first.values()}) > 1  # units are spread over the variants
    for i, (unit, selection) in enumerate(first.items()):
        again = _select(experiment, unit, seed=1000 + i)
        assert again.variant.pk == selection.variant.pk
        assert again.returning_unit and not selection.returning_unit
        assert again.assignment_id != selection.assignment_id
    assert UnitAssignment.objects.filter(experiment=experiment).count() == 40
    assert Assignment.objects.filter(experiment=experiment).count() == 80


def test_without_a_unit_key_each_call_is_a_fresh_draw(make_experiment):
    experiment = make_experiment("fresh", variants=("a", "b"), strategy="fixed_split")
    rng = random.Random(3)
    picks = {
        services.experiment_select(team_ids=[experiment.team_id], experiment_id=experiment.pk, rng=rng).variant.pk
        for _ in range(30)
    }
    assert len(picks) == 2
    assert not UnitAssignment.objects.exists()


def test_reweighting_changes_only_new_units(make_experiment, feed):
    experiment = make_experiment("reweigh", variants=("control", "better"), strategy="epsilon_greedy", epsilon=0.0)
    control, better = experiment.variants.order_by("id")
    feed(control, 40, p=0.9, quality=90, seed=1)
    feed(better, 40, p=0.1, quality=10, seed=2)
    early = {f"u{i}": _select(experiment, f"u{i}", seed=i).variant.pk for i in range(10)}
    assert set(early.values()) == {control.pk}  # greedy on the control while it leads
    # The evidence turns: the other variant is now far better, the bandit reweights.
    feed(better, 400, p=1.0, quality=100, seed=3)
    assert {_select(experiment, unit, seed=99).variant.pk for unit in early} == {control.pk}
    assert {_select(experiment, f"new{i}", seed=i).variant.pk for i in range(10)} == {better.pk}


def test_a_unit_whose_variant_is_retired_gets_a_new_one(make_experiment):
    experiment = make_experiment("retire", variants=("a", "b"), strategy="fixed_split")
    first = _select(experiment, "build-7", seed=1)
    services.variant_retire(variant=experiment.variants.get(pk=first.variant.pk))
    moved = _select(experiment, "build-7", seed=2)
    assert moved.variant.pk != first.variant.pk and not moved.returning_unit
    assert _select(experiment, "build-7", seed=3).variant.pk == moved.variant.pk
    assert UnitAssignment.objects.get(experiment=experiment, unit_key="build-7").variant_id == moved.variant.pk


@pytest.mark.parametrize("unit", ["", "   ", "x" * 201, 7])
def test_a_bad_unit_key_is_refused(make_experiment, unit):
    experiment = make_experiment("bad-unit")
    with pytest.raises(ValidationError) as exc:
        _select(experiment, unit, seed=1)
    assert "unit" in exc.value.message_dict


def test_api_select_with_a_unit_is_sticky(team_key_client, make_experiment):
    make_experiment("api-sticky", variants=("a", "b", "c"), strategy="fixed_split")
    seen = set()
    for _ in range(6):
        response = team_key_client.post(
            f"{BASE}/select/", {"experiment": "api-sticky", "unit": "session-42"}, format="json"
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["unit"] == "session-42"
        seen.add(body["variant"]["id"])
    assert len(seen) == 1
    too_long = team_key_client.post(f"{BASE}/select/", {"experiment": "api-sticky", "unit": "x" * 201}, format="json")
    assert too_long.status_code == 400 and "unit" in too_long.json()["fields"]


_CHILD = """
import json, os, random, sys
import django
django.setup()
from improvement import services
experiment_id, team_id, units = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
rng = random.Random(int(sys.argv[4]))
out = {u: services.experiment_select(team_ids=[team_id], experiment_id=experiment_id, unit=u, rng=rng).variant.pk
       for u in units}
print(json.dumps(out))
"""


def _in_another_process(experiment, units, seed):
    env = dict(
        os.environ, CRUCIBLE_DB_NAME=connection.settings_dict["NAME"], DJANGO_SETTINGS_MODULE="crucible.settings"
    )
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(experiment.pk), str(experiment.team_id), ",".join(units), str(seed)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.django_db(transaction=True)
def test_stickiness_holds_across_processes_and_concurrent_first_calls(make_experiment):
    if "DATABASE_URL" in os.environ:
        pytest.skip("the child process finds the test database through CRUCIBLE_DB_NAME")
    experiment = make_experiment("procs", variants=("a", "b", "c", "d"), strategy="fixed_split")
    units = [f"user-{i}" for i in range(12)]
    # Many threads see the same new units at once: each unit still ends with one variant.
    answers: list[dict] = []

    def worker(seed):
        try:
            answers.append({u: _select(experiment, u, seed=seed * 100 + i).variant.pk for i, u in enumerate(units)})
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert len(answers) == 4
    assert all(answer == answers[0] for answer in answers)
    # Two other processes (another worker, or the same after a restart) agree.
    assert _in_another_process(experiment, units, seed=5) == {u: answers[0][u] for u in units}
    assert _in_another_process(experiment, units, seed=6) == {u: answers[0][u] for u in units}
