"""Small statistics the insights need beyond what PostgreSQL computes: the Student-t distribution
(for the p-value of a regression slope) and the Wilson score interval (for success rates of small
samples). The aggregates themselves (counts, means, percentiles, regression sums) come from SQL.
"""

from __future__ import annotations

import math


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """Continued fraction of the regularised incomplete beta function, evaluated with the
    modified Lentz method. Converges quickly for x < (a + 1) / (a + b + 2)."""
    tiny = 1e-300
    eps = 1e-15
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 1000):
        # even step: d_{2m}
        numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1.0 + numerator * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + numerator / c
        c = c if abs(c) > tiny else tiny
        result *= d * c
        # odd step: d_{2m+1}
        numerator = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 + numerator * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + numerator / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        result *= delta
        if abs(delta - 1.0) < eps:
            break
    return result


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b) for a, b > 0 and 0 <= x <= 1."""
    if not (a > 0 and b > 0):
        raise ValueError("a and b must be positive")
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(a, b, x) / a
    # symmetry I_x(a, b) = 1 - I_{1-x}(b, a) keeps the fraction in its fast region
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def student_t_two_sided_p(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with ``df`` degrees of freedom."""
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    if math.isnan(t):
        return float("nan")
    if math.isinf(t):
        return 0.0
    return regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t))


def student_t_cdf(t: float, df: float) -> float:
    """P(T <= t)."""
    tail = student_t_two_sided_p(t, df) / 2.0
    return 1.0 - tail if t >= 0 else tail


def slope_test(*, slope: float | None, r2: float | None, n: int) -> dict:
    """t-statistic and two-sided p-value of an OLS slope from PostgreSQL's regr_slope / regr_r2 /
    regr_count. With n points the slope has n - 2 degrees of freedom; t = r * sqrt((n-2)/(1-r^2)).
    Returns {"t": None, "p_value": None} when there are fewer than 3 points or x never varies."""
    if slope is None or n is None or n < 3:
        return {"t": None, "p_value": None, "df": max((n or 0) - 2, 0), "std_error": None}
    df = n - 2
    if slope == 0 or not r2:
        return {"t": 0.0, "p_value": 1.0, "df": df, "std_error": None}
    if r2 >= 1.0:
        return {"t": math.copysign(math.inf, slope), "p_value": 0.0, "df": df, "std_error": 0.0}
    t = math.copysign(math.sqrt(r2 * df / (1.0 - r2)), slope)
    return {"t": t, "p_value": student_t_two_sided_p(t, df), "df": df, "std_error": abs(slope / t)}


def wilson_lower_bound(successes: int, trials: int, z: float = 1.96) -> float:
    """Lower end of the Wilson score interval for a success rate: 0 with no trials, and lower
    for few trials than for many at the same rate, so small samples rank below proven ones."""
    if trials <= 0:
        return 0.0
    p = successes / trials
    z2 = z * z
    centre = p + z2 / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, (centre - margin) / (1 + z2 / trials))
