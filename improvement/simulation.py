"""Proof by simulation: the strategies and the winner rule against arms whose truth is known.

Pure Python, seeded (the same seed gives the same table), used by the tests and by
``benchmarks/experiments_sim.py``, which prints the table shown in docs/improvement.md:

- ``regret``: cumulative regret over time per strategy (what choosing a worse variant cost);
- ``best_arm_named``: how often the truly best arm is named winner by the end, and how often a
  wrong one is;
- ``aa_peeking``: how often an A/A experiment (identical arms) names a winner at *any* point when
  the report is read after every result, with the always-valid rule and, for contrast, with a
  fixed-sample 95% interval;
- ``rollout_stop``: how many runs a guarded rollout takes to stop a candidate whose error rate is
  worse than stable's, and how often it wrongly stops a candidate as good as stable.

Objective scores are Bernoulli (0 or 1) with the arm's mean, the harshest case for the normal
approximations behind the intervals.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from statistics import NormalDist

from improvement import bandits, guardrails, sequential

STRATEGIES = ("fixed_split", "epsilon_greedy", "thompson", "ucb1")


@dataclass
class _Sums:
    n: int = 0
    total: float = 0.0

    def add(self, score: float) -> None:
        self.n += 1
        self.total += score

    @property
    def sample(self) -> sequential.Sample:
        # Bernoulli scores: the sum of squares equals the sum.
        return sequential.Sample(self.n, self.total, self.total)


def _leader(sums: list[_Sums]) -> int:
    return max(range(len(sums)), key=lambda i: (sums[i].total / sums[i].n) if sums[i].n else -1.0)


def always_valid_winner(sums: list[_Sums], *, alpha: float, min_results: int, n_opt: int) -> int | None:
    """The report's winner rule on its sequential side: every arm past the minimum and the
    leader's sequences above every other arm. (The report also needs the probability of being
    best to reach its threshold, which can only make a winner rarer.)"""
    if any(s.n < min_results for s in sums):
        return None
    leader = _leader(sums)
    samples = {i: s.sample for i, s in enumerate(sums)}
    return leader if sequential.separated_leader(samples, leader, alpha, n_opt=n_opt) else None


def fixed_interval_winner(sums: list[_Sums], *, alpha: float, min_results: int) -> int | None:
    """A naive rule for contrast: a fixed-sample (1 - alpha) interval of the difference above zero."""
    if any(s.n < min_results for s in sums):
        return None
    leader = _leader(sums)
    z = NormalDist().inv_cdf(1 - alpha / 2 / max(1, len(sums) - 1))
    for i, s in enumerate(sums):
        if i == leader:
            continue
        a, b = sums[leader].sample, s.sample
        if a.variance is None or b.variance is None:
            return None
        se = math.sqrt(a.variance / a.n + b.variance / b.n)
        if a.mean - b.mean - z * se <= 0:
            return None
    return leader


def _choose(strategy: str, sums: list[_Sums], rng: random.Random, *, epsilon: float, min_results: int) -> int:
    arms = [bandits.Arm(i, s.n, s.total, s.n) for i, s in enumerate(sums)]
    return bandits.choose(strategy, arms, epsilon=epsilon, min_results=min_results, rng=rng).id


@dataclass
class Run:
    regret: list[float]  # cumulative regret at each checkpoint
    winner: int | None  # the arm named at the end (always-valid rule), or None
    ever_named: int | None = None  # the first arm named at any peek, or None
    naive_ever_named: int | None = None  # same with the fixed-sample interval


def run(
    strategy: str,
    means: list[float],
    *,
    horizon: int,
    seed: int,
    alpha: float = 0.05,
    epsilon: float = 0.1,
    min_results: int = 30,
    n_opt: int = sequential.DEFAULT_N_OPT,
    checkpoints: tuple[int, ...] = (),
    peek: bool = False,
) -> Run:
    """One experiment of ``horizon`` results; with ``peek`` the winner rules are read after every result."""
    rng = random.Random(seed)
    sums = [_Sums() for _ in means]
    best = max(means)
    regret, marks = 0.0, []
    ever = naive = None
    for t in range(1, horizon + 1):
        arm = _choose(strategy, sums, rng, epsilon=epsilon, min_results=min_results)
        sums[arm].add(1.0 if rng.random() < means[arm] else 0.0)
        regret += best - means[arm]
        if t in checkpoints:
            marks.append(regret)
        if peek:
            if ever is None:
                ever = always_valid_winner(sums, alpha=alpha, min_results=min_results, n_opt=n_opt)
            if naive is None:
                naive = fixed_interval_winner(sums, alpha=alpha, min_results=min_results)
            if ever is not None and naive is not None:
                peek = False  # both rules have spoken; the rest only adds regret
    winner = always_valid_winner(sums, alpha=alpha, min_results=min_results, n_opt=n_opt)
    return Run(marks, winner, ever, naive)


@dataclass
class Summary:
    strategy: str
    runs: int
    regret: dict[int, float] = field(default_factory=dict)  # checkpoint -> mean cumulative regret
    best_named: float = 0.0  # share of runs naming the truly best arm at the end
    wrong_named: float = 0.0  # share naming another arm


def regret_and_winners(
    strategy: str, means: list[float], *, horizon: int, runs: int, seed: int, checkpoints: tuple[int, ...], **options
) -> Summary:
    best = means.index(max(means))
    summary = Summary(strategy, runs)
    totals = [0.0] * len(checkpoints)
    for r in range(runs):
        found = run(strategy, means, horizon=horizon, seed=seed + r, checkpoints=checkpoints, **options)
        totals = [a + b for a, b in zip(totals, found.regret, strict=True)]
        if found.winner == best:
            summary.best_named += 1
        elif found.winner is not None:
            summary.wrong_named += 1
    summary.regret = {c: total / runs for c, total in zip(checkpoints, totals, strict=True)}
    summary.best_named /= runs
    summary.wrong_named /= runs
    return summary


@dataclass(frozen=True)
class Peeking:
    strategy: str
    runs: int
    always_valid_rate: float  # A/A experiments that ever named a winner, always-valid rule
    fixed_interval_rate: float  # same, with a fixed-sample interval read after every result


def aa_peeking(
    strategy: str, *, mean: float = 0.5, arms: int = 2, horizon: int, runs: int, seed: int, **options
) -> Peeking:
    """Identical arms, the report read after every result: how often is a winner ever named?"""
    ever = naive = 0
    for r in range(runs):
        found = run(strategy, [mean] * arms, horizon=horizon, seed=seed + r, peek=True, **options)
        ever += found.ever_named is not None
        naive += found.naive_ever_named is not None
    return Peeking(strategy, runs, ever / runs, naive / runs)


@dataclass(frozen=True)
class RolloutStop:
    runs: int
    stopped: float  # share of rollouts stopped by the guardrail
    median_runs_to_stop: float | None  # runs (stable + candidate) until the stop, among stopped ones
    reached_full: float  # share of rollouts that reached 100%


def rollout_stop(
    *,
    stable_error: float,
    candidate_error: float,
    schedule: tuple[float, ...] = (0.05, 0.25, 0.5, 1.0),
    runs_per_step: int = 2000,
    margin: float = 0.02,
    alpha: float = 0.05,
    min_results: int = 30,
    n_opt: int = sequential.DEFAULT_N_OPT,
    rollouts: int,
    seed: int,
) -> RolloutStop:
    """A guarded rollout: each run goes to the candidate with the step's share; the error-rate
    guardrail compares candidate and stable after every run; a breach stops the rollout."""
    stops, full = [], 0
    margins = guardrails.Margins(error_rate=margin, p95_duration=None, cost_per_run=None)
    for r in range(rollouts):
        rng = random.Random(seed + r)
        n = {"stable": 0, "candidate": 0}
        ok = {"stable": 0, "candidate": 0}
        stopped_at = None
        t = 0
        for share in schedule:
            steps = runs_per_step if share < 1.0 else runs_per_step
            for _ in range(steps):
                t += 1
                side = "candidate" if rng.random() < share else "stable"
                error = candidate_error if side == "candidate" else stable_error
                n[side] += 1
                ok[side] += rng.random() >= error
                if min(n.values()) < min_results or t % 10:
                    continue  # the guardrail is read every ten runs (as a scheduler would)
                checks = guardrails.compare(
                    guardrails.Figures(1, "candidate", n["candidate"], ok["candidate"], 0.0, 0.0),
                    guardrails.Figures(0, "stable", n["stable"], ok["stable"], 0.0, 0.0),
                    margins,
                    alpha=alpha,
                    min_results=min_results,
                    n_opt=n_opt,
                )
                if any(c.breached for c in checks):
                    stopped_at = t
                    break
            if stopped_at is not None:
                break
        if stopped_at is None:
            full += 1
        else:
            stops.append(stopped_at)
    stops.sort()
    median = stops[len(stops) // 2] if stops else None
    return RolloutStop(rollouts, len(stops) / rollouts, median, full / rollouts)


# --- CUPED in the winner rule ------------------------------------------------------------------


def sample_winner(samples: dict[int, sequential.Sample], *, alpha: float, min_results: int, n_opt: int) -> int | None:
    """The winner rule's sequential side on any samples (unadjusted or CUPED-adjusted)."""
    if any(s.n < min_results for s in samples.values()):
        return None
    leader = max(samples, key=lambda k: samples[k].mean)
    return leader if sequential.separated_leader(samples, leader, alpha, n_opt=n_opt) else None


@dataclass
class CupedRun:
    plain_first: tuple[int, int] | None  # (results so far, arm) when the unadjusted rule first named a winner
    cuped_first: tuple[int, int] | None  # same with the CUPED-adjusted objective
    width_ratio: float | None  # adjusted / unadjusted width of the difference's sequence at the end


def cuped_run(
    *,
    effect: float,
    horizon: int,
    seed: int,
    history_share: float = 0.8,
    alpha: float = 0.05,
    min_results: int = 30,
    n_opt: int = sequential.DEFAULT_N_OPT,
) -> CupedRun:
    """A fixed 50/50 split between a control and a treatment whose success probability is the unit's
    earlier success rate x (uniform on [0.05, 0.95]) plus ``effect``; a share ``history_share`` of
    units bring x as the covariate, the others none. Both winner rules are read after every result."""
    from improvement import cuped  # a sibling pure module; imported here to keep the top list short

    rng = random.Random(seed)
    plain = [[0, 0.0] for _ in range(2)]  # n, successes (Bernoulli: the sum of squares is the sum)
    moments = [[0, 0.0, 0.0, 0.0, 0.0] for _ in range(2)]  # n, Sy, Sx, Sxx, Sxy over units with history
    plain_first = cuped_first = None
    adjusted = samples = None
    for t in range(1, horizon + 1):
        arm = 0 if rng.random() < 0.5 else 1
        x = rng.uniform(0.05, 0.95)
        y = 1.0 if rng.random() < min(1.0, x + (effect if arm == 1 else 0.0)) else 0.0
        plain[arm][0] += 1
        plain[arm][1] += y
        if rng.random() < history_share:
            m = moments[arm]
            m[0] += 1
            m[1] += y
            m[2] += x
            m[3] += x * x
            m[4] += x * y
        if plain_first is not None and cuped_first is not None and t < horizon:
            continue
        samples = {k: sequential.Sample(n, s, s) for k, (n, s) in enumerate(plain)}
        groups = {k: cuped.Moments(m[0], m[1], m[1], m[2], m[3], m[4]) for k, m in enumerate(moments)}
        _, adjusted = cuped.adjusted_samples(groups=groups, objectives=samples)
        if plain_first is None:
            found = sample_winner(samples, alpha=alpha, min_results=min_results, n_opt=n_opt)
            plain_first = None if found is None else (t, found)
        if cuped_first is None:
            found = sample_winner(adjusted, alpha=alpha, min_results=min_results, n_opt=n_opt)
            cuped_first = None if found is None else (t, found)
    width = None
    before = sequential.difference_sequence(samples[1], samples[0], alpha, n_opt=n_opt)
    after = sequential.difference_sequence(adjusted[1], adjusted[0], alpha, n_opt=n_opt)
    if before is not None and after is not None:
        width = (after[2] - after[1]) / (before[2] - before[1])
    return CupedRun(plain_first, cuped_first, width)


@dataclass(frozen=True)
class CupedSummary:
    effect: float
    runs: int
    plain_named: float  # share of runs in which the unadjusted rule ever named a winner
    cuped_named: float  # same, CUPED-adjusted
    plain_median_results: float | None  # median results until the first winner, among runs that named one
    cuped_median_results: float | None
    width_ratio: float  # mean adjusted / unadjusted width of the difference's sequence at the end


def _median(values: list[int]) -> float | None:
    values = sorted(values)
    return float(values[len(values) // 2]) if values else None


def cuped_peeking(*, effect: float, horizon: int, runs: int, seed: int, **options) -> CupedSummary:
    """``effect`` 0 is an A/A test: how often each rule *ever* names a winner when read after every
    result (must stay at or below alpha); with an effect, how often and how soon each finds it."""
    found = [cuped_run(effect=effect, horizon=horizon, seed=seed + r, **options) for r in range(runs)]
    widths = [f.width_ratio for f in found if f.width_ratio is not None]
    return CupedSummary(
        effect,
        runs,
        sum(f.plain_first is not None for f in found) / runs,
        sum(f.cuped_first is not None for f in found) / runs,
        _median([f.plain_first[0] for f in found if f.plain_first is not None]),
        _median([f.cuped_first[0] for f in found if f.cuped_first is not None]),
        sum(widths) / len(widths) if widths else float("nan"),
    )
