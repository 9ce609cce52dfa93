"""The report's evidence: intervals, probability of being best, lift, and when it names a winner."""

import math

import pytest

from improvement import services, stats
from improvement.selectors import experiment_report, experiment_timeline

pytestmark = pytest.mark.django_db


def test_wilson_interval_matches_the_textbook_values():
    low, high = stats.wilson_interval(8, 10, 0.95)
    assert math.isclose(low, 0.4902, abs_tol=1e-3) and math.isclose(high, 0.9433, abs_tol=1e-3)
    low, high = stats.wilson_interval(0, 20, 0.95)
    assert math.isclose(low, 0.0, abs_tol=1e-12) and math.isclose(high, 0.1611, abs_tol=1e-3)
    assert stats.wilson_interval(0, 0, 0.95) == (None, None)


def test_mean_interval_from_sums_matches_the_direct_computation():
    values = [0.2, 0.4, 0.9, 0.5, 0.7]
    n, total, total_sq = len(values), sum(values), sum(v * v for v in values)
    mean, low, high = stats.mean_interval(n, total, total_sq, 0.95)
    m = total / n
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    assert math.isclose(mean, m)
    assert math.isclose(high - mean, 1.959964 * sd / math.sqrt(n), rel_tol=1e-5)
    assert math.isclose(mean - low, high - mean)


def test_thin_data_names_no_winner_and_says_why(experiment, feed):
    control, concise = experiment.variants.order_by("id")
    feed(control, 10, p=0.2, quality=20)
    feed(concise, 10, p=1.0, quality=95)
    report = experiment_report(experiment=experiment)
    assert report["winner"] is None
    assert "Not enough results" in report["verdict"]
    assert "control has 10 of 30" in report["verdict"]
    assert report["results_needed"] >= 40  # at least the 20 + 20 still missing
    assert all(row["below_minimum"] for row in report["variants"])


def test_tied_variants_name_no_winner(experiment, feed):
    control, concise = experiment.variants.order_by("id")
    feed(control, 300, p=0.8, quality=70, seed=1)
    feed(concise, 300, p=0.8, quality=70, seed=2)
    report = experiment_report(experiment=experiment)
    assert report["winner"] is None
    assert "No variant is clearly better" in report["verdict"]
    assert max(row["probability_best"] for row in report["variants"]) < 0.95
    assert math.isclose(sum(row["probability_best"] for row in report["variants"]), 1.0)


def test_clear_data_names_the_better_variant_with_evidence(experiment, feed):
    control, concise = experiment.variants.order_by("id")
    feed(control, 60, p=0.6, quality=55, seed=1)
    feed(concise, 60, p=0.95, quality=85, seed=2)
    report = experiment_report(experiment=experiment)
    assert report["winner"]["id"] == concise.pk
    assert report["winner"]["probability_best"] >= 0.95
    rows = {row["name"]: row for row in report["variants"]}
    assert rows["concise"]["objective_low"] > rows["control"]["objective_high"]
    assert rows["concise"]["lift_vs_control"] > 0.1
    assert rows["control"]["lift_vs_control"] is None
    assert rows["concise"]["success_low"] < rows["concise"]["success_rate"] < rows["concise"]["success_high"]
    assert report["results_needed"] is None
    # Same data, same report (the Monte Carlo generator is seeded from the data).
    assert experiment_report(experiment=experiment)["variants"] == report["variants"]


def test_results_needed_estimate():
    leader, runner = stats.Posterior(0.60, 0.0), stats.Posterior(0.55, 0.0)
    # z(0.95)^2 * (0.01 + 0.01) / 0.05^2 = 21.6 -> 22 per variant
    kwargs = dict(leader_var=0.01, runner_var=0.01, probability=0.95)
    assert stats.results_needed(leader, runner, leader_n=10, runner_n=10, **kwargs) == 24
    assert stats.results_needed(leader, runner, leader_n=20, runner_n=20, **kwargs) == 4
    assert stats.results_needed(leader, runner, leader_n=30, runner_n=30, **kwargs) == 0
    assert stats.results_needed(leader, stats.Posterior(0.60, 0.0), leader_n=10, runner_n=10, **kwargs) is None


def test_report_estimates_results_needed_when_undecided(make_experiment, feed):
    experiment = make_experiment("close-call", min_results=5)
    a, b = experiment.variants.order_by("id")
    feed(a, 20, p=0.8, quality=70, seed=1)
    feed(b, 20, p=0.8, quality=72, seed=2)
    report = experiment_report(experiment=experiment)
    assert report["winner"] is None
    assert report["results_needed"] > 0
    assert f"About {report['results_needed']} more results" in report["verdict"]


def test_retired_variants_stay_in_the_report_but_cannot_win(experiment, feed):
    control, concise = experiment.variants.order_by("id")
    third = services.variant_create(experiment=experiment, name="third", prompt="p")
    feed(control, 60, p=0.5, quality=50, seed=1)
    feed(concise, 60, p=0.99, quality=95, seed=2)
    feed(third, 60, p=0.95, quality=85, seed=3)
    services.variant_retire(variant=concise)
    report = experiment_report(experiment=experiment)
    rows = {row["name"]: row for row in report["variants"]}
    assert rows["concise"]["retired"] and rows["concise"]["probability_best"] is None
    # The retired variant has the best figures, yet the winner is the best *active* one.
    assert rows["concise"]["objective_mean"] > rows["third"]["objective_mean"]
    assert report["winner"] is not None and report["winner"]["id"] == third.pk


def test_timeline_has_traffic_and_cumulative_results(experiment, feed):
    control, concise = experiment.variants.order_by("id")
    for _ in range(5):
        services.variant_select(experiment=experiment)
    feed(control, 7)
    feed(concise, 3)
    timeline = experiment_timeline(experiment=experiment)
    points = {p["variant_id"]: p for p in timeline["points"]}
    assert sum(p["assignments"] for p in timeline["points"]) == 5
    assert points[control.pk]["cumulative"] == 7 and points[concise.pk]["cumulative"] == 3


def test_no_probability_of_being_best_without_results(experiment, feed):
    report = experiment_report(experiment=experiment)
    assert [row["probability_best"] for row in report["variants"]] == [None, None]
    control, _ = experiment.variants.order_by("id")
    feed(control, 3)
    rows = experiment_report(experiment=experiment)["variants"]
    assert rows[0]["probability_best"] is not None and rows[1]["probability_best"] is None


def test_results_needed_is_a_total_over_the_variants_as_documented(experiment, feed):
    from pathlib import Path

    control, concise = experiment.variants.order_by("id")
    feed(control, 10, p=0.2, quality=20)
    feed(concise, 10, p=1.0, quality=95)
    report = experiment_report(experiment=experiment)
    # The gap is clear, so what remains is the minimum: 20 more for each of the two variants.
    assert report["results_needed"] == 40
    docs = " ".join((Path(__file__).parents[2] / "docs" / "improvement.md").read_text().split())
    assert "(`results_needed`) is a total over the experiment, not a number per variant" in docs
