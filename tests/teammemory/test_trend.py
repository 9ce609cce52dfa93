"""The weekly quality trend and its significance on rising, flat and falling series."""

import datetime as dt
import statistics

import pytest

from teammemory import selectors
from teammemory.stats import slope_test
from tests.teammemory.conftest import NOW

pytestmark = pytest.mark.django_db


def _series(make_build, weekly_quality, *, per_week=2, fail_from=None):
    """Builds in consecutive weeks ending this week; each week's two builds average to the given value."""
    weeks = len(weekly_quality)
    for index, quality in enumerate(weekly_quality):
        start = NOW - dt.timedelta(weeks=weeks - 1 - index) + dt.timedelta(hours=1)
        for k in range(per_week):
            status = "failed" if fail_from is not None and index >= fail_from and k == 0 else "succeeded"
            make_build(quality=quality + (1 if k == 0 else -1), status=status, started=start + dt.timedelta(hours=k))


def _trend(team, weeks=12):
    return selectors.quality_trend(team=team, since=NOW - dt.timedelta(weeks=weeks), until=NOW + dt.timedelta(days=7))


def _expected(values):
    fit = statistics.linear_regression(range(len(values)), values)
    r = statistics.correlation(range(len(values)), values)
    return fit.slope, slope_test(slope=fit.slope, r2=r * r, n=len(values))["p_value"]


def test_rising_series_is_significant(make_build, team):
    values = [50, 55, 54, 60, 61, 66, 65, 71]
    _series(make_build, values)
    trend = _trend(team)
    slope, p = _expected(values)
    q = trend["quality"]
    assert [w["avg_quality"] for w in trend["weeks"]] == pytest.approx(values)
    assert q["slope_per_week"] == pytest.approx(slope)
    assert q["p_value"] == pytest.approx(p, rel=1e-6)
    assert q["weeks"] == 8 and q["significant"] is True and q["direction"] == "rising"


def test_falling_series_is_significant(make_build, team):
    values = [88, 85, 86, 80, 78, 79, 72, 70]
    _series(make_build, values, fail_from=5)
    trend = _trend(team)
    slope, p = _expected(values)
    assert trend["quality"]["slope_per_week"] == pytest.approx(slope)
    assert trend["quality"]["direction"] == "falling"
    assert trend["quality"]["p_value"] < 0.05
    # Success rate: 100 % for five weeks, then 50 %: falling too.
    assert [w["success_rate"] for w in trend["weeks"]] == [1, 1, 1, 1, 1, 0.5, 0.5, 0.5]
    assert trend["success_rate"]["slope_per_week"] < 0


def test_flat_noisy_series_is_not_a_finding(make_build, team):
    values = [70, 75, 68, 72, 69, 74, 70, 71]
    _series(make_build, values)
    q = _trend(team)["quality"]
    slope, p = _expected(values)
    assert q["slope_per_week"] == pytest.approx(slope)
    assert q["p_value"] == pytest.approx(p, rel=1e-6) and q["p_value"] > 0.05
    assert q["significant"] is False and q["direction"] == "flat"


def test_few_weeks_are_insufficient(make_build, team):
    _series(make_build, [50, 70, 90])  # a steep line, but only 3 weeks (< TREND_MIN_WEEKS)
    assert _trend(team)["quality"]["direction"] == "insufficient_data"


def test_alpha_is_a_setting(make_build, team, monkeypatch):
    from teammemory import conf

    values = [70, 72, 71, 73, 72, 74, 73, 75]
    _series(make_build, values)
    p = _trend(team)["quality"]["p_value"]
    monkeypatch.setattr(conf, "TREND_ALPHA", p / 2)
    assert _trend(team)["quality"]["direction"] == "flat"
    monkeypatch.setattr(conf, "TREND_ALPHA", min(p * 2, 0.5))
    assert _trend(team)["quality"]["direction"] == "rising"
