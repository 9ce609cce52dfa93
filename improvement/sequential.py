"""Inference that survives peeking: always-valid confidence sequences (no database access).

A fixed-sample interval holds at one pre-chosen sample size; read after every result, a 95%
interval excludes the truth at *some* point far more often than 5% of the time. A confidence
sequence holds at every sample size at once: the chance that it *ever* excludes the truth is at
most alpha, so the report can be read as often as anyone likes.

We use the asymptotic confidence sequence of Waudby-Smith, Arbour, Sinha, Kennedy and Ramdas
("Time-uniform central limit theory and asymptotic confidence sequences", 2021), built on
Robbins' normal mixture. For n results with mean m and standard deviation s:

    m +/- s * sqrt( 2 (n r^2 + 1) / (n^2 r^2) * ln( sqrt(n r^2 + 1) / alpha ) )

where r (rho) tunes the sample size at which the sequence is tightest (``n_opt``):

    r^2 = ( -2 ln alpha + ln(-2 ln alpha + 1) ) / n_opt

For a difference of two means the standard error sqrt(s1^2/n1 + s2^2/n2) replaces s / sqrt(n),
with the boundary's factor taken at whichever of n1, n2 makes it wider. docs/improvement.md gives
the same formulas; improvement.simulation checks the A/A false-winner rate under peeking.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Sample size at which the sequence is tightest (CRUCIBLE_IMPROVEMENT_SEQUENTIAL_N_OPT).
DEFAULT_N_OPT = 500
# A floor on a variance so identical values do not give a zero-width sequence.
MIN_VARIANCE = 1e-6


def rho_squared(alpha: float, n_opt: int = DEFAULT_N_OPT) -> float:
    log_term = -2.0 * math.log(alpha)
    return (log_term + math.log(log_term + 1.0)) / max(1, n_opt)


def boundary_factor(n: int, alpha: float, n_opt: int = DEFAULT_N_OPT) -> float:
    """The multiplier of the standard error (s / sqrt(n)) at n results."""
    r2 = rho_squared(alpha, n_opt)
    nr2 = n * r2
    return math.sqrt(2.0 * (nr2 + 1.0) / nr2 * math.log(math.sqrt(nr2 + 1.0) / alpha))


@dataclass(frozen=True)
class Sample:
    """Running sums of one group's values."""

    n: int
    total: float
    total_sq: float

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        if self.n < 2:
            return None
        return max(MIN_VARIANCE, (self.total_sq - self.total * self.total / self.n) / (self.n - 1))

    @classmethod
    def of_proportion(cls, successes: int, n: int) -> Sample:
        return cls(n, float(successes), float(successes))


def proportion_variance(sample: Sample) -> float | None:
    """A smoothed Bernoulli variance (never zero, so 0 of 40 errors still has a spread)."""
    if sample.n < 2:
        return None
    p = (sample.total + 0.5) / (sample.n + 1.0)
    return p * (1.0 - p)


def mean_sequence(
    sample: Sample, alpha: float, *, n_opt: int = DEFAULT_N_OPT, variance: float | None = None
) -> tuple[float | None, float | None, float | None]:
    """(mean, low, high) valid at every n at once; low/high None below two results."""
    if sample.n == 0:
        return None, None, None
    var = variance if variance is not None else sample.variance
    if var is None:
        return sample.mean, None, None
    half = math.sqrt(var / sample.n) * boundary_factor(sample.n, alpha, n_opt)
    return sample.mean, sample.mean - half, sample.mean + half


def difference_sequence(
    a: Sample,
    b: Sample,
    alpha: float,
    *,
    n_opt: int = DEFAULT_N_OPT,
    scale_b: float = 1.0,
    var_a: float | None = None,
    var_b: float | None = None,
) -> tuple[float, float, float] | None:
    """(difference, low, high) of mean(a) - scale_b * mean(b); None below two results in either."""
    va = var_a if var_a is not None else a.variance
    vb = var_b if var_b is not None else b.variance
    if va is None or vb is None:
        return None
    diff = a.mean - scale_b * b.mean
    se = math.sqrt(va / a.n + scale_b * scale_b * vb / b.n)
    factor = max(boundary_factor(a.n, alpha, n_opt), boundary_factor(b.n, alpha, n_opt))
    return diff, diff - se * factor, diff + se * factor


def separated_leader(samples: dict[int, Sample], leader: int, alpha: float, *, n_opt: int = DEFAULT_N_OPT) -> bool:
    """True when the leader's sequence for its difference with every other group lies above zero
    (alpha split evenly over the comparisons, Bonferroni)."""
    others = [key for key in samples if key != leader]
    if not others:
        return False
    each = alpha / len(others)
    for key in others:
        found = difference_sequence(samples[leader], samples[key], each, n_opt=n_opt)
        if found is None or found[1] <= 0:
            return False
    return True
