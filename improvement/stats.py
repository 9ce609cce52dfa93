"""Statistics for experiment reports, from running sums only (no raw results are needed).

- objective mean: normal-approximation interval from n, sum and sum of squares;
- success rate: Wilson score interval;
- probability of being best: Monte Carlo over each variant's posterior for its objective mean
  (Normal with the sample mean and standard error; a vague prior before two results), drawn
  with a seeded generator so the same data always gives the same report;
- results still needed: more results in total (both leaders together) for the observed gap between
  the two leading variants to reach the required probability.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import NormalDist

# Variance of a uniform score on [0, 1]: the prior spread of a variant with fewer than two results.
PRIOR_VARIANCE = 1.0 / 12.0
# A floor on the sample variance so identical scores do not give a zero-width posterior.
MIN_VARIANCE = 1e-4


def z_for(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def sample_variance(n: int, total: float, total_sq: float) -> float | None:
    if n < 2:
        return None
    return max(0.0, (total_sq - total * total / n) / (n - 1))


def mean_interval(
    n: int, total: float, total_sq: float, confidence: float
) -> tuple[float | None, float | None, float | None]:
    """(mean, low, high); low/high are None below two results."""
    if n == 0:
        return None, None, None
    mean = total / n
    var = sample_variance(n, total, total_sq)
    if var is None:
        return mean, None, None
    half = z_for(confidence) * math.sqrt(var / n)
    return mean, mean - half, mean + half


def wilson_interval(successes: int, n: int, confidence: float) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    z = z_for(confidence)
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Posterior:
    mean: float
    sd: float


def posterior(n: int, total: float, total_sq: float) -> Posterior:
    if n == 0:
        return Posterior(0.5, math.sqrt(PRIOR_VARIANCE))
    var = sample_variance(n, total, total_sq)
    var = PRIOR_VARIANCE if var is None else max(var, MIN_VARIANCE)
    return Posterior(total / n, math.sqrt(var / n))


def probability_best(posteriors: list[Posterior], *, draws: int, seed: int) -> list[float]:
    """Share of joint draws in which each posterior is the highest (ties split evenly)."""
    if not posteriors:
        return []
    if len(posteriors) == 1:
        return [1.0]
    rng = random.Random(seed)
    wins = [0.0] * len(posteriors)
    gauss = rng.gauss
    for _ in range(draws):
        values = [gauss(p.mean, p.sd) for p in posteriors]
        top = max(values)
        leaders = [i for i, v in enumerate(values) if v == top]
        for i in leaders:
            wins[i] += 1.0 / len(leaders)
    return [w / draws for w in wins]


def results_needed(
    leader: Posterior,
    runner_up: Posterior,
    *,
    leader_n: int,
    runner_n: int,
    leader_var: float | None,
    runner_var: float | None,
    probability: float,
) -> int | None:
    """More results (in total over both variants) for the observed gap to reach ``probability``
    that the leader is ahead; None when the two look tied (no finite number would do)."""
    gap = leader.mean - runner_up.mean
    if gap <= 1e-9:
        return None
    v1 = max(leader_var if leader_var is not None else PRIOR_VARIANCE, MIN_VARIANCE)
    v2 = max(runner_var if runner_var is not None else PRIOR_VARIANCE, MIN_VARIANCE)
    z = NormalDist().inv_cdf(probability)
    per_variant = math.ceil(z * z * (v1 + v2) / (gap * gap))
    return max(0, per_variant - leader_n) + max(0, per_variant - runner_n)
