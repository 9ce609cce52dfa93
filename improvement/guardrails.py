"""Guardrail metrics: a variant may win on the objective and still be worse on what users feel.

Three guardrails by default, each compared with the control with an always-valid sequence
(improvement.sequential), so reading them after every result is safe:

- error rate (1 - success rate): breached when the lower bound of (variant - control) exceeds the
  margin, in points (0.02 = 2 points);
- p95 duration: the share of results slower than the control's p95 x (1 + margin); breached when
  the lower bound of (variant share - control share) is above zero, i.e. the variant has clearly
  more slow results than the control beyond the margin;
- cost per run: breached when the lower bound of (variant mean - (1 + margin) x control mean) is
  above zero.

A guardrail is only read once both sides have the experiment's minimum results. Durations are
kept as a log-spaced histogram (8 bins per doubling, about 9% wide), enough for a p95.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from improvement.sequential import Sample, difference_sequence, proportion_variance

BINS_PER_DOUBLING = 8
ERROR_RATE, P95_DURATION, COST_PER_RUN = "error_rate", "p95_duration", "cost_per_run"
LABELS = {ERROR_RATE: "Error rate", P95_DURATION: "p95 duration", COST_PER_RUN: "Cost per run"}


def duration_bin(duration_ms: float) -> int:
    """Bin 0 holds durations under 1 ms; bin k >= 1 holds [2^((k-1)/8), 2^(k/8)) ms."""
    if duration_ms < 1.0:
        return 0
    return 1 + int(math.floor(BINS_PER_DOUBLING * math.log2(duration_ms)))


def bin_low(duration_bin_: int) -> float:
    return 0.0 if duration_bin_ <= 0 else 2.0 ** ((duration_bin_ - 1) / BINS_PER_DOUBLING)


def bin_high(duration_bin_: int) -> float:
    return 1.0 if duration_bin_ <= 0 else 2.0 ** (duration_bin_ / BINS_PER_DOUBLING)


def quantile(bins: dict[int, int], q: float) -> float | None:
    """The upper edge of the bin where the cumulative count reaches q (errs on the slow side)."""
    total = sum(bins.values())
    if not total:
        return None
    seen = 0
    for key in sorted(bins):
        seen += bins[key]
        if seen >= q * total:
            return bin_high(key)
    return bin_high(max(bins))


def slower_than(bins: dict[int, int], threshold_ms: float) -> int:
    """Results certainly slower than ``threshold_ms`` (whole bins above it)."""
    return sum(count for key, count in bins.items() if bin_low(key) >= threshold_ms)


@dataclass(frozen=True)
class Figures:
    """What the guardrails need of one variant (from its running sums and duration histogram)."""

    id: int
    name: str
    results: int
    successes: int
    cost_sum: float
    cost_sum_sq: float
    bins: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Margins:
    error_rate: float | None = 0.02
    p95_duration: float | None = 0.2
    cost_per_run: float | None = 0.2


@dataclass(frozen=True)
class Check:
    metric: str
    margin: float
    control_value: float | None
    variant_value: float | None
    low: float | None  # lower bound of the compared difference (None: not enough results)
    high: float | None
    breached: bool

    @property
    def label(self) -> str:
        return LABELS[self.metric]

    def evidence(self, variant_name: str, control_name: str) -> str:
        if self.low is None:
            return f"{self.label}: not enough results to compare yet."
        shown = {
            ERROR_RATE: lambda x: f"{x:.1%}",
            P95_DURATION: lambda x: f"{x:,.0f} ms",
            COST_PER_RUN: lambda x: f"${x:.6f}",
        }[self.metric]
        margin = f"{self.margin * 100:.0f} points" if self.metric == ERROR_RATE else f"{self.margin:.0%}"
        verdict = "clearly worse than" if self.breached else "not clearly worse than"
        return (
            f"{self.label}: {variant_name} {shown(self.variant_value)} vs {control_name} "
            f"{shown(self.control_value)}, {verdict} the control beyond the {margin} margin."
        )


def _error_rate(variant: Figures, control: Figures, margin: float, alpha: float, n_opt: int) -> Check:
    a = Sample.of_proportion(variant.results - variant.successes, variant.results)
    b = Sample.of_proportion(control.results - control.successes, control.results)
    found = difference_sequence(a, b, alpha, n_opt=n_opt, var_a=proportion_variance(a), var_b=proportion_variance(b))
    low, high = (found[1], found[2]) if found else (None, None)
    return Check(ERROR_RATE, margin, b.mean, a.mean, low, high, low is not None and low > margin)


def _p95(variant: Figures, control: Figures, margin: float, alpha: float, n_opt: int) -> Check:
    control_p95 = quantile(control.bins, 0.95)
    variant_p95 = quantile(variant.bins, 0.95)
    if control_p95 is None or variant_p95 is None:
        return Check(P95_DURATION, margin, control_p95, variant_p95, None, None, False)
    threshold = control_p95 * (1.0 + margin)
    a = Sample.of_proportion(slower_than(variant.bins, threshold), sum(variant.bins.values()))
    b = Sample.of_proportion(slower_than(control.bins, threshold), sum(control.bins.values()))
    found = difference_sequence(a, b, alpha, n_opt=n_opt, var_a=proportion_variance(a), var_b=proportion_variance(b))
    low, high = (found[1], found[2]) if found else (None, None)
    return Check(P95_DURATION, margin, control_p95, variant_p95, low, high, low is not None and low > 0)


def _cost(variant: Figures, control: Figures, margin: float, alpha: float, n_opt: int) -> Check:
    a = Sample(variant.results, variant.cost_sum, variant.cost_sum_sq)
    b = Sample(control.results, control.cost_sum, control.cost_sum_sq)
    found = difference_sequence(a, b, alpha, n_opt=n_opt, scale_b=1.0 + margin)
    low, high = (found[1], found[2]) if found else (None, None)
    return Check(COST_PER_RUN, margin, b.mean, a.mean, low, high, low is not None and low > 0)


_RULES = {ERROR_RATE: _error_rate, P95_DURATION: _p95, COST_PER_RUN: _cost}


def compare(
    variant: Figures, control: Figures, margins: Margins, *, alpha: float, min_results: int, n_opt: int
) -> list[Check]:
    """Every guardrail that is on (a margin set) for ``variant`` against ``control``."""
    checks = []
    for metric, rule in _RULES.items():
        margin = getattr(margins, metric)
        if margin is None:
            continue
        if min(variant.results, control.results) < min_results:
            checks.append(Check(metric, margin, None, None, None, None, False))
            continue
        checks.append(rule(variant, control, margin, alpha, n_opt))
    return checks
