"""Proof by simulation (fixed seeds): the A/A false-winner rate under peeking stays at or below
the stated error level, the best arm is found, and a guarded rollout stops a worse candidate."""

import pytest

from improvement import sequential, simulation

ALPHA = 0.05


@pytest.mark.parametrize("strategy", ["fixed_split", "thompson"])
def test_aa_false_winner_rate_under_peeking_stays_below_alpha(strategy):
    found = simulation.aa_peeking(strategy, horizon=1500, runs=120, seed=11, alpha=ALPHA)
    assert found.always_valid_rate <= ALPHA
    # The fixed-sample interval read after every result is the trap the sequential rule avoids.
    assert found.fixed_interval_rate > 2 * ALPHA


def test_the_truly_best_arm_is_named_and_never_a_worse_one():
    summary = simulation.regret_and_winners(
        "fixed_split", [0.4, 0.7], horizon=600, runs=30, seed=3, checkpoints=(100, 600)
    )
    assert summary.best_named >= 0.9 and summary.wrong_named == 0.0


def test_bandits_have_less_regret_than_a_fixed_split():
    options = {"horizon": 1500, "runs": 10, "seed": 5, "checkpoints": (1500,)}
    fixed = simulation.regret_and_winners("fixed_split", [0.4, 0.5, 0.7], **options)
    thompson = simulation.regret_and_winners("thompson", [0.4, 0.5, 0.7], **options)
    assert thompson.regret[1500] < fixed.regret[1500] / 2


def test_a_guarded_rollout_stops_a_worse_candidate_and_spares_an_equal_one():
    worse = simulation.rollout_stop(stable_error=0.05, candidate_error=0.20, rollouts=20, seed=7, runs_per_step=1000)
    assert worse.stopped == 1.0 and worse.median_runs_to_stop < 2000
    equal = simulation.rollout_stop(stable_error=0.05, candidate_error=0.05, rollouts=20, seed=7, runs_per_step=1000)
    assert equal.stopped <= ALPHA and equal.reached_full >= 0.95


def test_confidence_sequence_is_wider_than_a_fixed_interval_and_shrinks():
    sample = sequential.Sample(100, 50.0, 50.0)
    _, low, high = sequential.mean_sequence(sample, ALPHA)
    assert high - low > 2 * 1.96 * (0.25 / 100) ** 0.5
    _, low_big, high_big = sequential.mean_sequence(sequential.Sample(10000, 5000.0, 5000.0), ALPHA)
    assert high_big - low_big < (high - low) / 5
