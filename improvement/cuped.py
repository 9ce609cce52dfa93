"""CUPED (Deng, Xu, Kohavi and Walker, "Improving the sensitivity of online controlled experiments
by utilizing pre-experiment data", 2013): variance reduction with each unit's metric before the
experiment (no database access).

For results y (the objective score) that came with the unit's pre-experiment metric x:

    theta = cov(Y, X) / var(X)            pooled within variants (randomisation makes X
                                          independent of the variant, so theta is one number)
    Y_adj = Y - theta (X - mean X)        mean X over every variant's results

Each variant's adjusted mean keeps the unadjusted mean's expectation (E[X - mean X] = 0 under
randomisation: unbiased), and its variance is var(Y) (1 - rho^2), rho the correlation of Y and X.
The variance of a variant's adjusted values follows from its running sums:

    var(Y_adj) = var(Y) - 2 theta cov(Y, X) + theta^2 var(X)

The report's intervals for each variant and for its difference with the control are the same
always-valid sequences as the unadjusted ones (improvement.sequential), with these variances.
"""

from __future__ import annotations

from dataclasses import dataclass

from improvement.sequential import Sample, difference_sequence, mean_sequence


@dataclass(frozen=True)
class Moments:
    """Running sums of one variant's (y, x) pairs."""

    n: int
    y: float
    yy: float
    x: float
    xx: float
    xy: float

    def _centered(self) -> tuple[float, float, float]:
        """(Syy, Sxx, Sxy): sums of squares and products about the variant's own means."""
        if self.n == 0:
            return 0.0, 0.0, 0.0
        return (
            self.yy - self.y * self.y / self.n,
            self.xx - self.x * self.x / self.n,
            self.xy - self.x * self.y / self.n,
        )


@dataclass(frozen=True)
class Adjusted:
    n: int
    mean: float | None
    variance: float | None
    mean_adjusted: float | None
    variance_adjusted: float | None

    def sample(self, adjusted: bool) -> Sample:
        mean = self.mean_adjusted if adjusted else self.mean
        return Sample(self.n, (mean or 0.0) * self.n, 0.0)


def theta(groups: list[Moments]) -> float | None:
    """cov(Y, X) / var(X), pooled within groups; None when X does not vary (no adjustment)."""
    sxx = sum(g._centered()[1] for g in groups)
    sxy = sum(g._centered()[2] for g in groups)
    if sxx <= 1e-12:
        return None
    return sxy / sxx


def adjust(groups: dict[int, Moments]) -> tuple[float | None, dict[int, Adjusted]]:
    """(theta, {key: Adjusted}); a group below two pairs has no variance."""
    t = theta(list(groups.values()))
    n_all = sum(g.n for g in groups.values())
    x_mean = sum(g.x for g in groups.values()) / n_all if n_all else 0.0
    found = {}
    for key, g in groups.items():
        if g.n == 0:
            found[key] = Adjusted(0, None, None, None, None)
            continue
        mean = g.y / g.n
        syy, sxx, sxy = g._centered()
        variance = max(0.0, syy / (g.n - 1)) if g.n >= 2 else None
        if t is None:
            found[key] = Adjusted(g.n, mean, variance, mean, variance)
            continue
        mean_adjusted = mean - t * (g.x / g.n - x_mean)
        variance_adjusted = max(0.0, (syy - 2 * t * sxy + t * t * sxx) / (g.n - 1)) if g.n >= 2 else None
        found[key] = Adjusted(g.n, mean, variance, mean_adjusted, variance_adjusted)
    return t, found


def variance_reduction(adjusted: dict[int, Adjusted]) -> float | None:
    """1 - (pooled adjusted variance / pooled unadjusted variance): the share of the variance
    (and of the sample size needed for the same precision) CUPED saves."""
    pairs = [(a.n, a.variance, a.variance_adjusted) for a in adjusted.values() if a.variance is not None]
    before = sum((n - 1) * v for n, v, _ in pairs)
    after = sum((n - 1) * w for n, _, w in pairs)
    if before <= 0:
        return None
    return 1.0 - after / before


def _interval(a: Adjusted, adjusted: bool, alpha: float, n_opt: int) -> tuple[float | None, float | None]:
    variance = a.variance_adjusted if adjusted else a.variance
    if variance is None:
        return None, None
    _, low, high = mean_sequence(a.sample(adjusted), alpha, n_opt=n_opt, variance=max(variance, 1e-12))
    return low, high


def _difference(a: Adjusted, c: Adjusted, adjusted: bool, alpha: float, n_opt: int) -> dict:
    va, vc = (a.variance_adjusted, c.variance_adjusted) if adjusted else (a.variance, c.variance)
    if va is None or vc is None:
        return {"estimate": None, "low": None, "high": None}
    diff, low, high = difference_sequence(
        a.sample(adjusted), c.sample(adjusted), alpha, n_opt=n_opt, var_a=max(va, 1e-12), var_b=max(vc, 1e-12)
    )
    return {"estimate": diff, "low": low, "high": high}


def report(
    *, groups: dict[int, Moments], names: dict[int, str], control_id: int | None, alpha: float, n_opt: int
) -> dict:
    """The report's CUPED section: theta, the variance reduction, and per variant the unadjusted
    and adjusted means with their always-valid intervals, and the difference with the control."""
    t, adjusted = adjust(groups)
    control = adjusted.get(control_id) if control_id is not None else None
    rows = []
    for key, a in adjusted.items():
        low, high = _interval(a, False, alpha, n_opt)
        adj_low, adj_high = _interval(a, True, alpha, n_opt)
        row = {
            "id": key,
            "name": names[key],
            "results_with_covariate": a.n,
            "mean": a.mean,
            "low": low,
            "high": high,
            "mean_adjusted": a.mean_adjusted,
            "low_adjusted": adj_low,
            "high_adjusted": adj_high,
            "vs_control": None,
            "vs_control_adjusted": None,
        }
        if control is not None and key != control_id:
            row["vs_control"] = _difference(a, control, False, alpha, n_opt)
            row["vs_control_adjusted"] = _difference(a, control, True, alpha, n_opt)
        rows.append(row)
    return {"theta": t, "variance_reduction": variance_reduction(adjusted), "variants": rows}
