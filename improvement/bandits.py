"""Selection strategies: pure functions over per-variant running sums (no database access).

Every strategy sees ``Arm`` tuples (id, number of scored results, sum of objective scores, all
results) and a ``random.Random``; objective scores are in [0, 1], which makes UCB1's bound and
Thompson sampling's Beta posterior (the Bernoulli trick of Agrawal and Goyal: a score in [0, 1]
counts as a fractional success) valid without knowing the spread of the rewards.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Arm:
    id: int
    n: int  # scored results
    total: float  # sum of objective scores, each in [0, 1]
    results: int = 0  # all results (warm-up counts these)

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None


def _warming_up(arms: list[Arm], min_results: int) -> list[Arm]:
    return [arm for arm in arms if arm.results < min_results]


def _best_by_mean(arms: list[Arm], rng: random.Random) -> Arm:
    scored = [arm for arm in arms if arm.n]
    if not scored:
        return rng.choice(arms)
    top = max(arm.mean for arm in scored)
    return rng.choice([arm for arm in scored if arm.mean == top])


def epsilon_greedy(arms: list[Arm], *, epsilon: float, min_results: int, rng: random.Random) -> Arm:
    """Variants below ``min_results`` are served first (uniformly among them); after that a share
    ``epsilon`` of calls explores uniformly at random and the rest exploit the best mean (ties
    broken at random)."""
    warming = _warming_up(arms, min_results)
    if warming:
        return rng.choice(warming)
    if rng.random() < epsilon:
        return rng.choice(arms)
    return _best_by_mean(arms, rng)


def thompson(arms: list[Arm], *, min_results: int, rng: random.Random) -> Arm:
    """Draw once from each variant's Beta(1 + total, 1 + n - total) posterior; serve the highest draw.
    No warm-up phase: the wide posterior of an untried variant already sends it traffic."""
    best, best_draw = None, -1.0
    for arm in arms:
        alpha = 1.0 + arm.total
        beta = 1.0 + max(0.0, arm.n - arm.total)
        draw = rng.betavariate(alpha, beta)
        if draw > best_draw:
            best, best_draw = arm, draw
    return best


def ucb1(arms: list[Arm], *, min_results: int, rng: random.Random) -> Arm:
    """Every variant once (untried ones first, at random), then the highest mean + sqrt(2 ln N / n)."""
    untried = [arm for arm in arms if arm.n == 0]
    if untried:
        return rng.choice(untried)
    total = sum(arm.n for arm in arms)
    log_total = math.log(total)
    scores = [(arm.mean + math.sqrt(2.0 * log_total / arm.n), arm) for arm in arms]
    top = max(score for score, _ in scores)
    return rng.choice([arm for score, arm in scores if score == top])


def fixed_split(arms: list[Arm], *, min_results: int, rng: random.Random) -> Arm:
    """Equal shares: every active variant uniformly at random (a classic A/B/n test)."""
    return rng.choice(arms)


STRATEGIES = {"epsilon_greedy": epsilon_greedy, "thompson": thompson, "ucb1": ucb1, "fixed_split": fixed_split}

# What kind of draw served a variant (the sample-ratio check in improvement.srm tests the uniform ones).
UNIFORM, GREEDY, OTHER = "uniform", "greedy", "other"


def choose_with_kind(
    strategy: str, arms: list[Arm], *, epsilon: float, min_results: int, rng: random.Random
) -> tuple[Arm, str]:
    """``choose``, and whether the draw was uniform over all arms (a fixed split, or
    epsilon-greedy's exploration), greedy (epsilon-greedy's exploitation) or anything else."""
    if not arms:
        raise ValueError("no arms to choose from")
    if len(arms) == 1:
        return arms[0], OTHER
    if strategy == "fixed_split":
        return rng.choice(arms), UNIFORM
    if strategy == "epsilon_greedy":
        if _warming_up(arms, min_results):
            return epsilon_greedy(arms, epsilon=epsilon, min_results=min_results, rng=rng), OTHER
        if rng.random() < epsilon:
            return rng.choice(arms), UNIFORM
        return _best_by_mean(arms, rng), GREEDY
    return STRATEGIES[strategy](arms, min_results=min_results, rng=rng), OTHER


def choose(strategy: str, arms: list[Arm], *, epsilon: float, min_results: int, rng: random.Random) -> Arm:
    return choose_with_kind(strategy, arms, epsilon=epsilon, min_results=min_results, rng=rng)[0]
