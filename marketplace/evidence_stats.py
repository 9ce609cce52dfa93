"""The statistics of measured evidence: intervals, spreads across teams, the failure-rise test.

- Rates (success, build success): Wilson score interval at 95 %.
- Means (tokens, cost per run, quality): mean ± 1.96 · s / √n (normal approximation, s from the
  stored sums of squares); no interval under two samples.
- Percentiles (p50/p95 duration): read from the log-scale histogram; the interval is the
  distribution-free one of order statistics: the values at ranks n·q ∓ 1.96·√(n·q·(1−q)).
- Across teams: a spread (min / median / max of the per-team figures), never one pooled number.
- "Failure rate rose clearly": a one-sided two-proportion z-test of the latest version against the
  previous one, z > 2.326 (p < 0.01), with at least ``WARNING_MIN_RUNS`` runs on each and a rise
  of at least ``WARNING_MIN_RISE`` (two percentage points).
"""

from __future__ import annotations

import math
import statistics

from crucible.histogram import LogScaleHistogram

Z95 = 1.959963984540054
WARNING_Z = 2.326347874  # one-sided p < 0.01
WARNING_MIN_RUNS = 30
WARNING_MIN_RISE = 0.02

# The same bucket rule as observability's execution rollups (observability.histogram): the ingest
# passes its bucket counts and they are read here with identical parameters (tested).
DURATION_HISTOGRAM = LogScaleHistogram(floor_ms=1.0, doublings=22, sql_prefix="observability")


def wilson(successes: int, n: int, z: float = Z95) -> dict | None:
    """{"value", "low", "high", "n"} of a rate, or None without samples."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return {"value": p, "low": max(0.0, centre - half), "high": min(1.0, centre + half), "n": n}


def mean_interval(total: float, total_sq: float, n: int) -> dict | None:
    """{"value", "low", "high", "n"} of a mean from its sum and sum of squares."""
    if n <= 0:
        return None
    mean = total / n
    if n < 2:
        return {"value": mean, "low": None, "high": None, "n": n}
    variance = max(0.0, (total_sq - total * total / n) / (n - 1))
    half = Z95 * math.sqrt(variance / n)
    return {"value": mean, "low": mean - half, "high": mean + half, "n": n}


def _value_at_rank(counts: list[int], rank: int) -> float:
    running = 0
    for index, count in enumerate(counts):
        running += count
        if running >= rank:
            return DURATION_HISTOGRAM.bucket_value(index)
    return DURATION_HISTOGRAM.bucket_value(len(counts) - 1)


def percentile_interval(hist, q: float) -> dict | None:
    """{"value", "low", "high", "n"} of the q-quantile of a histogram (None when empty)."""
    counts = [int(c or 0) for c in hist or []]
    n = sum(counts)
    if n <= 0:
        return None
    half = Z95 * math.sqrt(n * q * (1 - q))
    rank = max(1, math.ceil(q * n))
    low_rank = max(1, math.floor(q * n - half))
    high_rank = min(n, math.ceil(q * n + half))
    return {
        "value": _value_at_rank(counts, rank),
        "low": _value_at_rank(counts, low_rank),
        "high": _value_at_rank(counts, high_rank),
        "n": n,
    }


def spread(values, *, min_teams: int) -> dict | None:
    """{"min", "median", "max", "teams"} of per-team figures; None below ``min_teams`` teams
    (nothing about a smaller group is shown, not even how many there were)."""
    values = sorted(v for v in values if v is not None)
    if len(values) < min_teams or not values:
        return None
    return {"min": values[0], "median": statistics.median(values), "max": values[-1], "teams": len(values)}


def failure_rose(*, latest_failures: int, latest_runs: int, previous_failures: int, previous_runs: int) -> bool:
    """True when the latest version's failure rate is clearly above the previous one's."""
    if latest_runs < WARNING_MIN_RUNS or previous_runs < WARNING_MIN_RUNS:
        return False
    p_latest = latest_failures / latest_runs
    p_previous = previous_failures / previous_runs
    if p_latest - p_previous < WARNING_MIN_RISE:
        return False
    pooled = (latest_failures + previous_failures) / (latest_runs + previous_runs)
    se = math.sqrt(pooled * (1 - pooled) * (1 / latest_runs + 1 / previous_runs))
    return se > 0 and (p_latest - p_previous) / se > WARNING_Z
