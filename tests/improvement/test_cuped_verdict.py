"""CUPED in the winner rule: with CUPED on, the report's means, always-valid intervals, probability
of being best and the verdict read the adjusted objective; under peeking the false-winner rate
stays at the stated level (simulation), and the intervals are narrower."""

import random

import pytest

from improvement import cuped, sequential, simulation

BASE = "/api/v1/improvement"
QUALITY_ONLY = {"weight_quality": 1.0, "weight_success": 0.0, "weight_speed": 0.0, "weight_cost": 0.0}
ALPHA = 0.05


def _results(ids, *, seed=3, per_variant=200, effect=0.02):
    """Scores strongly related to each unit's earlier metric x; the new variant is ``effect`` better."""
    rng = random.Random(seed)
    rows = []
    for name, treated in (("control", False), ("new", True)):
        for _ in range(per_variant):
            x = rng.uniform(0.2, 0.8)
            y = min(1.0, max(0.0, 0.15 + 0.7 * x + rng.gauss(0, 0.04) + (effect if treated else 0.0)))
            rows.append({"variant_id": ids[name], "success": True, "quality": y * 100, "covariate": x})
    return rows


@pytest.mark.django_db
def test_the_adjusted_objective_names_a_winner_the_unadjusted_one_cannot_yet(team_key_client):
    created = team_key_client.post(
        f"{BASE}/experiments/",
        {
            "name": "cuped-decides",
            "status": "running",
            "cuped": True,
            "variants": [{"name": "control", "prompt": "a", "is_control": True}, {"name": "new", "prompt": "b"}],
            **QUALITY_ONLY,
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    ids = {v["name"]: v["id"] for v in body["variants"]}
    recorded = team_key_client.post(f"{BASE}/results/batch/", {"results": _results(ids)}, format="json")
    assert recorded.status_code == 201, recorded.json()

    report = team_key_client.get(f"{BASE}/experiments/{body['id']}/report/").json()
    assert report["estimates"] == "cuped"
    assert report["winner"] is not None and report["winner"]["name"] == "new"
    adjusted = {row["name"]: row for row in report["variants"]}
    section = {row["name"]: row for row in report["cuped"]["variants"]}
    # The rows show the adjusted objective, with the adjusted (narrower) always-valid interval.
    assert adjusted["new"]["objective_mean"] == pytest.approx(section["new"]["mean_adjusted"])
    assert adjusted["new"]["objective_high"] - adjusted["new"]["objective_low"] < (
        section["new"]["high"] - section["new"]["low"]
    )

    off = team_key_client.patch(f"{BASE}/experiments/{body['id']}/", {"cuped": False}, format="json")
    assert off.status_code == 200
    plain = team_key_client.get(f"{BASE}/experiments/{body['id']}/report/").json()
    assert plain["estimates"] == "unadjusted"
    assert plain["winner"] is None  # the same data, unadjusted: the interval still overlaps zero
    assert {row["name"]: row["objective_mean"] for row in plain["variants"]}["new"] == pytest.approx(
        section["new"]["mean"]
    )


@pytest.mark.django_db
def test_the_page_says_the_verdict_is_adjusted(make_experiment, member_client, team):
    from improvement import services

    experiment = make_experiment("cuped-page-verdict", cuped=True, **QUALITY_ONLY)
    control, new = experiment.variants.order_by("id")
    services.results_record_bulk(team=team, results=_results({"control": control.pk, "new": new.pk}, per_variant=50))
    html = member_client.get(f"/improvement/experiments/{experiment.pk}/").content.decode()
    assert 'id="cuped-decides"' in html and "The verdict above uses the adjusted figures." in html


def test_results_without_a_covariate_count_unadjusted():
    rng = random.Random(5)
    pairs = [(x, 0.2 + 0.6 * x + rng.gauss(0, 0.05)) for x in (rng.random() for _ in range(100))]
    groups = {
        1: cuped.Moments(
            len(pairs),
            sum(y for _, y in pairs),
            sum(y * y for _, y in pairs),
            sum(x for x, _ in pairs),
            sum(x * x for x, _ in pairs),
            sum(x * y for x, y in pairs),
        ),
        2: cuped.Moments(0, 0.0, 0.0, 0.0, 0.0, 0.0),
    }
    extra = [0.4, 0.9, 0.6]  # three more results of variant 1 without a covariate
    objectives = {
        1: sequential.Sample(len(pairs) + 3, groups[1].y + sum(extra), groups[1].yy + sum(y * y for y in extra)),
        2: sequential.Sample(3, 1.5, 0.83),
    }
    theta, adjusted = cuped.adjusted_samples(groups=groups, objectives=objectives)
    assert theta == pytest.approx(0.6, abs=0.05)
    assert adjusted[1].n == 103 and adjusted[2] == objectives[2]  # no covariate: unchanged
    # The covariate results are centred at their own mean: the adjusted total keeps the sum.
    assert adjusted[1].total == pytest.approx(objectives[1].total)
    assert adjusted[1].total_sq < objectives[1].total_sq


def test_aa_false_winner_rate_under_peeking_stays_at_the_level_with_cuped():
    found = simulation.cuped_peeking(effect=0.0, horizon=1500, runs=120, seed=11, alpha=ALPHA)
    assert found.cuped_named <= ALPHA and found.plain_named <= ALPHA
    assert found.width_ratio < 0.92  # the always-valid sequence of the difference is narrower


def test_cuped_finds_a_real_effect_at_least_as_often():
    found = simulation.cuped_peeking(effect=0.06, horizon=1500, runs=60, seed=11, alpha=ALPHA)
    assert found.cuped_named >= found.plain_named > 0.3
