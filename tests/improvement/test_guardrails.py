"""Guardrails: a variant clearly worse than the control on errors, p95 duration or cost cannot be
named winner, and an experiment can retire it automatically, with the evidence as the reason."""

import random

import pytest

from improvement import guardrails, selectors, services

pytestmark = pytest.mark.django_db
BASE = "/api/v1/improvement"
QUALITY_ONLY = {"weight_quality": 1.0, "weight_success": 0.0, "weight_speed": 0.0, "weight_cost": 0.0}


def _feed(variant, n, *, quality, success, duration=1000.0, cost=0.002, seed=1):
    rng = random.Random(seed)
    rows = [
        {
            "variant_id": variant.pk,
            "success": rng.random() < success,
            "quality": min(100.0, max(0.0, rng.gauss(quality, 5))),
            "duration_ms": max(1.0, rng.gauss(duration, duration / 10)),
            "cost": cost,
        }
        for _ in range(n)
    ]
    services.results_record_bulk(team=variant.team, results=rows)
    variant.refresh_from_db()


def _row(report, name):
    return next(row for row in report["guardrails"]["variants"] if row["name"] == name)


def _check(row, metric):
    return next(c for c in row["checks"] if c["metric"] == metric)


def test_better_objective_but_more_errors_cannot_win(make_experiment):
    experiment = make_experiment("veto", variants=("control", "shiny"), **QUALITY_ONLY)
    control, shiny = experiment.variants.order_by("id")
    _feed(control, 300, quality=60, success=0.97, seed=1)
    _feed(shiny, 300, quality=90, success=0.70, seed=2)
    report = selectors.experiment_report(experiment=experiment)
    row = _row(report, "shiny")
    assert row["breached"] and _check(row, "error_rate")["breached"]
    assert "clearly worse than" in _check(row, "error_rate")["evidence"]
    assert report["winner"] is None
    assert any("guardrail" in reason for reason in report["reasons"])
    # Concluding on the evidence names no winner either.
    assert services.experiment_conclude(experiment=experiment).winner is None


def test_without_the_guardrail_the_same_variant_wins(make_experiment):
    experiment = make_experiment("no-veto", variants=("control", "shiny"), guardrail_error_margin=None, **QUALITY_ONLY)
    control, shiny = experiment.variants.order_by("id")
    _feed(control, 300, quality=60, success=0.97, seed=1)
    _feed(shiny, 300, quality=90, success=0.70, seed=2)
    report = selectors.experiment_report(experiment=experiment)
    assert report["winner"]["name"] == "shiny"
    assert [c["metric"] for c in _row(report, "shiny")["checks"]] == ["p95_duration", "cost_per_run"]


def test_slow_tail_and_cost_are_guarded(make_experiment):
    experiment = make_experiment("slow", variants=("control", "slow", "dear"), **QUALITY_ONLY)
    control, slow, dear = experiment.variants.order_by("id")
    _feed(control, 200, quality=60, success=0.95, duration=1000, cost=0.002, seed=1)
    _feed(slow, 200, quality=62, success=0.95, duration=3000, cost=0.002, seed=2)
    _feed(dear, 200, quality=62, success=0.95, duration=1000, cost=0.004, seed=3)
    report = selectors.experiment_report(experiment=experiment)
    assert _check(_row(report, "slow"), "p95_duration")["breached"]
    assert not _check(_row(report, "slow"), "cost_per_run")["breached"]
    assert _check(_row(report, "dear"), "cost_per_run")["breached"]
    assert not _check(_row(report, "dear"), "p95_duration")["breached"]
    assert not _check(_row(report, "dear"), "error_rate")["breached"]


def test_a_similar_variant_does_not_breach(make_experiment):
    experiment = make_experiment("same", variants=("control", "twin"), **QUALITY_ONLY)
    control, twin = experiment.variants.order_by("id")
    _feed(control, 200, quality=60, success=0.9, seed=1)
    _feed(twin, 200, quality=60, success=0.9, seed=2)
    row = _row(selectors.experiment_report(experiment=experiment), "twin")
    assert not row["breached"] and len(row["checks"]) == 3


def test_thin_data_is_not_read(make_experiment):
    experiment = make_experiment("thin", variants=("control", "bad"), min_results=30, **QUALITY_ONLY)
    control, bad = experiment.variants.order_by("id")
    _feed(control, 10, quality=60, success=1.0, seed=1)
    _feed(bad, 10, quality=60, success=0.0, seed=2)
    row = _row(selectors.experiment_report(experiment=experiment), "bad")
    assert not row["breached"]
    assert "not enough results" in _check(row, "error_rate")["evidence"]


def test_automatic_stop_retires_the_variant_with_the_evidence(make_experiment):
    experiment = make_experiment("auto", variants=("control", "broken", "fine"), guardrail_auto_stop=True)
    control, broken, fine = experiment.variants.order_by("id")
    _feed(control, 100, quality=60, success=0.98, seed=1)
    _feed(fine, 100, quality=60, success=0.98, seed=3)
    _feed(broken, 40, quality=60, success=0.2, seed=2)
    broken.refresh_from_db()
    assert broken.retired_at is not None
    assert broken.retired_reason.startswith("Stopped by a guardrail. Error rate")
    fine.refresh_from_db()
    control.refresh_from_db()
    assert fine.retired_at is None and control.retired_at is None
    # It gets no more traffic.
    picks = {services.variant_select(experiment=experiment)[0].pk for _ in range(40)}
    assert broken.pk not in picks
    report = selectors.experiment_report(experiment=experiment)
    assert next(v for v in report["variants"] if v["name"] == "broken")["retired_reason"] == broken.retired_reason


def test_without_automatic_stop_nothing_is_retired(make_experiment):
    experiment = make_experiment("manual", variants=("control", "broken"))
    control, broken = experiment.variants.order_by("id")
    _feed(control, 100, quality=60, success=0.98, seed=1)
    _feed(broken, 100, quality=60, success=0.2, seed=2)
    broken.refresh_from_db()
    assert broken.retired_at is None


def test_guardrail_settings_through_the_api(team_key_client):
    created = team_key_client.post(
        f"{BASE}/experiments/",
        {"name": "guarded", "guardrail_error_margin": 0.05, "guardrail_p95_margin": None, "guardrail_auto_stop": True},
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["guardrail_error_margin"] == 0.05 and body["guardrail_p95_margin"] is None
    assert body["guardrail_cost_margin"] == 0.2 and body["guardrail_auto_stop"] is True
    for field, value in (("guardrail_error_margin", 2), ("guardrail_cost_margin", -1), ("guardrail_auto_stop", "yes")):
        bad = team_key_client.patch(f"{BASE}/experiments/{body['id']}/", {field: value}, format="json")
        assert bad.status_code == 400 and field in bad.json()["fields"]


def test_duration_bins_give_a_p95_within_a_bin():
    bins: dict[int, int] = {}
    for ms in range(1, 1001):
        key = guardrails.duration_bin(float(ms))
        bins[key] = bins.get(key, 0) + 1
    p95 = guardrails.quantile(bins, 0.95)
    assert 950 <= p95 <= 950 * 2 ** (1 / 8)
