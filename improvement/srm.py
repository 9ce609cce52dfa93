"""Sample ratio mismatch: is traffic split the way the experiment says it is? (no database access)

A split that drifts from its design (a variant that crashes before its assignment is logged, a
cache that pins users, a buggy client) biases every comparison. Pearson's chi-square test of the
observed counts against the expected ones catches it: as Statsig documents, p < 0.01 is a warning
and p < 0.001 an alert.

Two checks per experiment, over fresh draws only (a returning unit's sticky assignment is not a
draw):

- **uniform draws**: a fixed split's draws, and epsilon-greedy's exploration draws, are uniform
  over the active variants. Expected counts are built hour by hour from the variants that were
  active in that hour, so adding or retiring a variant does not raise a false alarm;
- **exploration share** (epsilon-greedy): the share of exploration draws among post-warm-up
  draws should be epsilon (chi-square with one degree of freedom).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WARNING_P = 0.01
ALERT_P = 0.001
# Below this many draws the chi-square approximation is not trusted (5 expected per cell at least).
MIN_EXPECTED = 5.0

OK, WARNING, ALERT, NOT_ENOUGH = "ok", "warning", "alert", "not_enough_data"
STATUSES = [(OK, "ok"), (WARNING, "warning"), (ALERT, "alert"), (NOT_ENOUGH, "not enough data")]
LABELS = {OK: "Split as designed", WARNING: "Warning", ALERT: "Alert", NOT_ENOUGH: "Not enough draws yet"}


def _lower_regularized_gamma_series(a: float, x: float) -> float:
    term = total = 1.0 / a
    k = a
    for _ in range(1000):
        k += 1.0
        term *= x / k
        total += term
        if abs(term) < abs(total) * 1e-15:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _upper_regularized_gamma_fraction(a: float, x: float) -> float:
    # Lentz's method for the continued fraction of Q(a, x).
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def chi_square_p(statistic: float, df: int) -> float:
    """P(X >= statistic) for a chi-square variable with ``df`` degrees of freedom."""
    if statistic <= 0 or df <= 0:
        return 1.0
    a, x = df / 2.0, statistic / 2.0
    if x < a + 1.0:
        return max(0.0, 1.0 - _lower_regularized_gamma_series(a, x))
    return min(1.0, _upper_regularized_gamma_fraction(a, x))


@dataclass(frozen=True)
class Result:
    check: str  # "uniform_draws" or "exploration_share"
    status: str  # ok, warning, alert, not_enough_data
    statistic: float | None
    df: int
    p_value: float | None
    observed: dict  # label -> count
    expected: dict  # label -> expected count

    @property
    def message(self) -> str:
        what = "The split of uniform draws" if self.check == "uniform_draws" else "The share of exploration draws"
        if self.status == NOT_ENOUGH:
            return f"{what}: not enough draws to check yet."
        if self.status == OK:
            return f"{what} matches its design (p = {self.p_value:.3g})."
        return (
            f"{what} does not match its design (chi-square {self.statistic:.1f}, p = {self.p_value:.2g}): "
            "check for a client or logging fault before trusting the results."
        )


def _status(p: float | None) -> str:
    if p is None:
        return NOT_ENOUGH
    if p < ALERT_P:
        return ALERT
    if p < WARNING_P:
        return WARNING
    return OK


def goodness_of_fit(check: str, observed: dict, expected: dict) -> Result:
    """Pearson's chi-square of observed against expected counts (same keys)."""
    cells = [key for key in expected if expected[key] > 0]
    if len(cells) < 2 or min(expected[key] for key in cells) < MIN_EXPECTED:
        return Result(check, NOT_ENOUGH, None, max(0, len(cells) - 1), None, observed, expected)
    statistic = sum((observed.get(key, 0) - expected[key]) ** 2 / expected[key] for key in cells)
    df = len(cells) - 1
    p = chi_square_p(statistic, df)
    return Result(check, _status(p), statistic, df, p, observed, expected)


def uniform_draws(hours: list[tuple[dict, list]]) -> tuple[dict, dict]:
    """Observed and expected uniform draws per variant from ``[(draws by variant, variants
    active that hour)]``: each hour's draws are expected evenly over that hour's active variants."""
    observed: dict = {}
    expected: dict = {}
    for draws, active in hours:
        if not active:
            continue
        share = sum(draws.values()) / len(active)
        for key, count in draws.items():
            observed[key] = observed.get(key, 0) + count
        for key in active:
            expected[key] = expected.get(key, 0.0) + share
            observed.setdefault(key, 0)
    return observed, expected


def exploration_share(explored: int, exploited: int, epsilon: float) -> Result:
    total = explored + exploited
    observed = {"explore": explored, "exploit": exploited}
    expected = {"explore": epsilon * total, "exploit": (1.0 - epsilon) * total}
    return goodness_of_fit("exploration_share", observed, expected)


def worst(results: list[Result]) -> str:
    order = [ALERT, WARNING, OK, NOT_ENOUGH]
    found = {r.status for r in results}
    return next((status for status in order if status in found), NOT_ENOUGH)
