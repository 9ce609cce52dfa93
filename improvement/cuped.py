"""CUPED (Deng, Xu, Kohavi and Walker, "Improving the sensitivity of online controlled experiments
by utilizing pre-experiment data", 2013): variance reduction with each unit's metric before the
experiment (no database access).

For results y (the objective score) that came with the unit's pre-experiment metric x:

    theta = cov(Y, X) / var(X)            pooled within variants (randomisation makes X
                                          independent of the variant, so theta is one number)
    Y_adj = Y - theta (X - mean X)        mean X over every variant's results

A result without x (a unit with no history) counts with x at the mean (Y_adj = Y), so every
scored result stays in the estimate. Each variant's adjusted mean keeps the unadjusted mean's
expectation (E[X - mean X] = 0 under randomisation: unbiased), and its variance is about
var(Y) (1 - rho^2), rho the correlation of Y and X. The adjusted values' sums follow from the
running sums (over the results with x: n_c, Sy, Sx, Sxx, Sxy; over all: n, Sy_all, Syy_all):

    sum Y_adj   = Sy_all - theta (Sx - n_c mean X)
    sum Y_adj^2 = Syy_all - 2 theta (Sxy - mean X Sy) + theta^2 (Sxx - 2 mean X Sx + n_c mean X^2)

so the report's always-valid sequences (improvement.sequential), its probability of being best
and the winner rule read adjusted ``Sample`` s exactly as they read unadjusted ones. Why the
sequences stay valid with theta estimated from the same results: docs/improvement.md, "CUPED
variance reduction".
"""

from __future__ import annotations

from dataclasses import dataclass

from improvement.sequential import Sample, difference_sequence, mean_sequence


@dataclass(frozen=True)
class Moments:
    """Running sums of one variant's (y, x) pairs: the results that came with a covariate."""

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

    @property
    def sample(self) -> Sample:
        return Sample(self.n, self.y, self.yy)


@dataclass(frozen=True)
class Adjusted:
    n: int
    mean: float | None
    variance: float | None
    mean_adjusted: float | None
    variance_adjusted: float | None


def theta(groups: list[Moments]) -> float | None:
    """cov(Y, X) / var(X), pooled within groups; None when X does not vary (no adjustment)."""
    sxx = sum(g._centered()[1] for g in groups)
    sxy = sum(g._centered()[2] for g in groups)
    if sxx <= 1e-12:
        return None
    return sxy / sxx


def adjusted_samples(
    *, groups: dict[int, Moments], objectives: dict[int, Sample] | None = None
) -> tuple[float | None, dict[int, Sample]]:
    """(theta, {key: the adjusted values' Sample}). ``objectives`` are every scored result of each
    group (those without a covariate count unadjusted); by default only the results with one.
    With theta None (X does not vary) the samples are the unadjusted ones."""
    if objectives is None:
        objectives = {key: g.sample for key, g in groups.items()}
    t = theta(list(groups.values()))
    if t is None:
        return None, dict(objectives)
    n_x = sum(g.n for g in groups.values())
    x_mean = sum(g.x for g in groups.values()) / n_x
    found = {}
    for key, plain in objectives.items():
        g = groups.get(key) or Moments(0, 0.0, 0.0, 0.0, 0.0, 0.0)
        total = plain.total - t * (g.x - g.n * x_mean)
        total_sq = (
            plain.total_sq
            - 2.0 * t * (g.xy - x_mean * g.y)
            + t * t * (g.xx - 2.0 * x_mean * g.x + g.n * x_mean * x_mean)
        )
        found[key] = Sample(plain.n, total, max(total_sq, total * total / plain.n if plain.n else 0.0))
    return t, found


def adjust(groups: dict[int, Moments]) -> tuple[float | None, dict[int, Adjusted]]:
    """(theta, {key: Adjusted}) over the results with a covariate; below two pairs, no variance."""
    t, samples = adjusted_samples(groups=groups)
    found = {}
    for key, g in groups.items():
        a = samples[key]
        found[key] = Adjusted(g.n, g.sample.mean, _variance(g.sample), a.mean, _variance(a))
    return t, found


def _variance(sample: Sample) -> float | None:
    if sample.n < 2:
        return None
    return max(0.0, (sample.total_sq - sample.total * sample.total / sample.n) / (sample.n - 1))


def variance_reduction(plain: dict[int, Sample], adjusted: dict[int, Sample]) -> float | None:
    """1 - (pooled adjusted variance / pooled unadjusted variance): the share of the variance
    (and of the sample size needed for the same precision) CUPED saves."""
    pairs = [(plain[k], adjusted[k]) for k in plain if plain[k].n >= 2]
    before = sum((p.n - 1) * _variance(p) for p, _ in pairs)
    after = sum((a.n - 1) * _variance(a) for _, a in pairs)
    if before <= 0:
        return None
    return 1.0 - after / before


def _interval(sample: Sample, alpha: float, n_opt: int) -> tuple[float | None, float | None]:
    _, low, high = mean_sequence(sample, alpha, n_opt=n_opt)
    return low, high


def _difference(a: Sample, c: Sample, alpha: float, n_opt: int) -> dict:
    found = difference_sequence(a, c, alpha, n_opt=n_opt)
    if found is None:
        return {"estimate": None, "low": None, "high": None}
    diff, low, high = found
    return {"estimate": diff, "low": low, "high": high}


def report(
    *,
    groups: dict[int, Moments],
    names: dict[int, str],
    control_id: int | None,
    alpha: float,
    n_opt: int,
    objectives: dict[int, Sample] | None = None,
) -> dict:
    """The report's CUPED section: theta, the variance reduction, and per variant the unadjusted
    and adjusted means with their always-valid intervals, and the difference with the control.
    With ``objectives`` (every scored result), the figures are those the winner rule reads."""
    plain = objectives if objectives is not None else {key: g.sample for key, g in groups.items()}
    t, adjusted = adjusted_samples(groups=groups, objectives=plain)
    rows = []
    for key in plain:
        low, high = _interval(plain[key], alpha, n_opt)
        adj_low, adj_high = _interval(adjusted[key], alpha, n_opt)
        row = {
            "id": key,
            "name": names[key],
            "results": plain[key].n,
            "results_with_covariate": groups[key].n if key in groups else 0,
            "mean": plain[key].mean,
            "low": low,
            "high": high,
            "mean_adjusted": adjusted[key].mean,
            "low_adjusted": adj_low,
            "high_adjusted": adj_high,
            "vs_control": None,
            "vs_control_adjusted": None,
        }
        if control_id in plain and key != control_id:
            row["vs_control"] = _difference(plain[key], plain[control_id], alpha, n_opt)
            row["vs_control_adjusted"] = _difference(adjusted[key], adjusted[control_id], alpha, n_opt)
        rows.append(row)
    return {"theta": t, "variance_reduction": variance_reduction(plain, adjusted), "variants": rows}
