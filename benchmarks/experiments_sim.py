"""Simulation table of the improvement app's strategies and rules (improvement.simulation).

    .venv/bin/python benchmarks/experiments_sim.py            # the table in docs/improvement.md
    .venv/bin/python benchmarks/experiments_sim.py --quick    # fewer runs, same columns

No database or server: arms with known means, fixed seeds, so the same command prints the same table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from improvement import simulation  # noqa: E402

MEANS = [0.50, 0.55, 0.65]
CHECKPOINTS = (100, 500, 1000, 3000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    runs = 40 if args.quick else 200
    started = time.perf_counter()

    print(f"Regret and winners: arms with means {MEANS}, {CHECKPOINTS[-1]} results, {runs} runs each")
    head = "".join(f"{'regret@' + str(c):>12}" for c in CHECKPOINTS)
    print(f"{'strategy':<16}{head}{'best named':>12}{'wrong named':>12}")
    for strategy in simulation.STRATEGIES:
        s = simulation.regret_and_winners(
            strategy, MEANS, horizon=CHECKPOINTS[-1], runs=runs, seed=args.seed, checkpoints=CHECKPOINTS
        )
        cells = "".join(f"{s.regret[c]:>12.1f}" for c in CHECKPOINTS)
        print(f"{strategy:<16}{cells}{s.best_named:>12.0%}{s.wrong_named:>12.0%}")

    print(
        f"\nA/A false winners, report read after every result (2 identical arms, 2000 results, {runs} runs, alpha 5%)"
    )
    print(f"{'strategy':<16}{'always-valid':>14}{'fixed 95% interval':>20}")
    for strategy in simulation.STRATEGIES:
        p = simulation.aa_peeking(strategy, horizon=2000, runs=runs, seed=args.seed)
        print(f"{strategy:<16}{p.always_valid_rate:>14.1%}{p.fixed_interval_rate:>20.1%}")

    print(f"\nGuarded rollout (5% -> 25% -> 50% -> 100%, 2000 runs a step, error margin 2 points, {runs} rollouts)")
    print(f"{'stable / candidate errors':<28}{'stopped':>10}{'median runs to stop':>22}{'reached 100%':>14}")
    for stable, candidate in ((0.05, 0.05), (0.05, 0.10), (0.05, 0.15), (0.05, 0.30)):
        r = simulation.rollout_stop(stable_error=stable, candidate_error=candidate, rollouts=runs, seed=args.seed)
        median = "-" if r.median_runs_to_stop is None else f"{r.median_runs_to_stop:,}"
        print(f"{f'{stable:.0%} / {candidate:.0%}':<28}{r.stopped:>10.0%}{median:>22}{r.reached_full:>14.0%}")

    print(
        f"\nCUPED in the winner rule: fixed 50/50 split, success probability = the unit's earlier success rate"
        f" (80% of units have one) + effect, read after every result, 2000 results, {runs} runs"
        f" ({runs * 5} for A/A), alpha 5%"
    )
    print(f"{'effect':<10}{'winner named':>14}{'with CUPED':>12}{'median results':>16}{'with CUPED':>12}{'width':>8}")
    for effect in (0.0, 0.04, 0.08):
        # The A/A row is a rate to compare with 5%: five times the runs for a tighter estimate.
        n = runs * 5 if effect == 0.0 else runs
        c = simulation.cuped_peeking(effect=effect, horizon=2000, runs=n, seed=args.seed)
        plain = "-" if c.plain_median_results is None else f"{c.plain_median_results:,.0f}"
        adjusted = "-" if c.cuped_median_results is None else f"{c.cuped_median_results:,.0f}"
        print(
            f"{effect:<10.2f}{c.plain_named:>14.1%}{c.cuped_named:>12.1%}{plain:>16}{adjusted:>12}{c.width_ratio:>8.2f}"
        )
    print(f"\n({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
