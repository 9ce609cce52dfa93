"""The Student-t p-values and Wilson bounds against values known in closed form or from tables."""

import math

import pytest

from teammemory.stats import (
    regularized_incomplete_beta,
    slope_test,
    student_t_cdf,
    student_t_two_sided_p,
    wilson_lower_bound,
)


@pytest.mark.parametrize("t", [0.1, 0.5, 1.0, 3.0, 12.7062])
def test_one_degree_of_freedom_is_cauchy(t):
    assert student_t_two_sided_p(t, 1) == pytest.approx(1 - 2 / math.pi * math.atan(t), abs=1e-12)


@pytest.mark.parametrize("t", [0.3, 1.5, 4.0, 25.0])
def test_two_degrees_of_freedom_closed_form(t):
    assert student_t_two_sided_p(t, 2) == pytest.approx(1 - t / math.sqrt(t * t + 2), abs=1e-12)


@pytest.mark.parametrize(
    "t, df, p",
    [
        (2.228138852, 10, 0.05),  # critical values from t tables
        (2.085963447, 20, 0.05),
        (3.169272667, 10, 0.01),
        (2.042272456, 30, 0.05),
        (1.959963985, 1e9, 0.05),  # the normal limit
    ],
)
def test_table_critical_values(t, df, p):
    assert student_t_two_sided_p(t, df) == pytest.approx(p, rel=1e-6)


def test_cdf_is_symmetric_and_monotonic():
    assert student_t_cdf(0, 7) == pytest.approx(0.5)
    assert student_t_cdf(-1.3, 7) == pytest.approx(1 - student_t_cdf(1.3, 7))
    values = [student_t_cdf(t / 4, 5) for t in range(-20, 21)]
    assert values == sorted(values)


def test_incomplete_beta_uniform_case_and_bounds():
    assert regularized_incomplete_beta(1, 1, 0.3) == pytest.approx(0.3)
    assert regularized_incomplete_beta(2, 3, 0) == 0
    assert regularized_incomplete_beta(2, 3, 1) == 1


def test_slope_test_handles_edges():
    assert slope_test(slope=1.0, r2=0.5, n=2)["p_value"] is None  # too few points
    assert slope_test(slope=0.0, r2=1.0, n=10)["p_value"] == 1.0  # a constant series
    assert slope_test(slope=2.0, r2=1.0, n=10)["p_value"] == 0.0  # a perfect line
    result = slope_test(slope=-0.5, r2=0.64, n=12)
    # r = -0.8, t = r * sqrt(10 / 0.36) = -4.2164
    assert result["t"] == pytest.approx(-0.8 * math.sqrt(10 / 0.36))
    assert result["p_value"] == pytest.approx(student_t_two_sided_p(4.216370213557839, 10))


def test_wilson_lower_bound():
    assert wilson_lower_bound(0, 0) == 0
    assert wilson_lower_bound(9, 10) == pytest.approx(0.5958, abs=1e-4)
    # Same rate, more evidence: a higher lower bound.
    assert wilson_lower_bound(90, 100) > wilson_lower_bound(9, 10)
    assert wilson_lower_bound(1, 1) < wilson_lower_bound(45, 50)
