"""crucible.periods: one bucket rule per preset, bounds always applied, one parsing for pages and API."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict

from crucible import periods
from observability.forms import PeriodForm as ObservabilityPeriodForm
from observability.selectors import PERIOD_RULES as OBSERVABILITY
from teammemory.api.serializers import InsightsRangeQuerySerializer
from teammemory.selectors import PERIOD_RULES as TEAM_MEMORY

NOW = dt.datetime(2026, 11, 26, 19, 59, 59, 999600, tzinfo=dt.UTC)  # a Thursday, just before 20:00


@pytest.mark.parametrize(
    "key,bucket,count,end",
    [
        ("15m", "minute", 15, dt.datetime(2026, 11, 26, 20, 0, tzinfo=dt.UTC)),
        ("1h", "minute", 60, dt.datetime(2026, 11, 26, 20, 0, tzinfo=dt.UTC)),
        ("24h", "hour", 24, dt.datetime(2026, 11, 26, 20, 0, tzinfo=dt.UTC)),
        ("7d", "6h", 28, dt.datetime(2026, 11, 27, 0, 0, tzinfo=dt.UTC)),
        ("30d", "day", 30, dt.datetime(2026, 11, 27, 0, 0, tzinfo=dt.UTC)),
        ("90d", "day", 90, dt.datetime(2026, 11, 27, 0, 0, tzinfo=dt.UTC)),
    ],
)
def test_each_preset_is_a_whole_number_of_one_kind_of_bucket(key, bucket, count, end):
    period = periods.period_resolve(OBSERVABILITY, range=key, now=NOW)
    assert (period.key, period.bucket, period.end) == (key, bucket, end)
    starts = period.bucket_starts()
    assert len(starts) == count and starts[0] == period.start
    assert all(b - a == periods.BUCKETS[bucket] for a, b in zip(starts, starts[1:], strict=False))
    assert period.start <= NOW < period.end


def test_fill_gives_every_bucket_and_keeps_the_data():
    period = periods.period_resolve(OBSERVABILITY, range="24h", now=NOW)
    moment = period.bucket_starts()[5]
    series = period.fill([{"time": moment, "executions": 3, "p95_ms": 12.0}], {"executions": 0, "p95_ms": None})
    assert len(series) == 24 and series[5]["executions"] == 3
    assert series[4] == {"time": moment - dt.timedelta(hours=1), "executions": 0, "p95_ms": None}


def test_bounds_are_applied_whatever_the_range():
    start = dt.datetime(2026, 11, 1, 10, 30, tzinfo=dt.UTC)
    period = periods.period_resolve(OBSERVABILITY, range="7d", start=start, end=start + dt.timedelta(days=1), now=NOW)
    assert period.key == "custom" and period.start == start.replace(minute=0) and period.bucket == "hour"
    alone = periods.period_resolve(OBSERVABILITY, range="7d", end=start, now=NOW)
    assert alone.end == start.replace(minute=0) + dt.timedelta(hours=1) and alone.length == dt.timedelta(
        days=7, hours=1
    )
    to_now = periods.period_resolve(TEAM_MEMORY, start=start, now=NOW)
    assert (to_now.start, to_now.end) == (start, NOW)  # team memory keeps exact bounds


def test_every_problem_at_once_with_its_field():
    with pytest.raises(ValidationError) as caught:
        periods.period_resolve(OBSERVABILITY, range="2y", start=dt.datetime(1900, 1, 1, tzinfo=dt.UTC), now=NOW)
    assert set(caught.value.message_dict) == {"range", "start"}
    with pytest.raises(ValidationError) as caught:
        periods.period_resolve(OBSERVABILITY, range="custom", now=NOW)
    assert "needs a start" in caught.value.message_dict["start"][0]
    with pytest.raises(ValidationError) as caught:
        periods.period_resolve(
            OBSERVABILITY, start=NOW - dt.timedelta(days=400), end=NOW, now=NOW
        )  # longer than 366 days
    assert "366 days" in caught.value.message_dict["end"][0]


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "2026-02-30", "soon"])
def test_unreadable_or_out_of_calendar_moments_are_field_errors(text):
    with pytest.raises(ValidationError):
        periods.parse_moment(text)
    form = ObservabilityPeriodForm(QueryDict(f"start={text.replace('+', '%2B')}"), now=NOW)
    assert not form.is_valid() and "start" in form.errors
    assert form.period == periods.period_resolve(OBSERVABILITY, now=NOW)  # the default while in error
    query = InsightsRangeQuerySerializer(data={"since": text})
    assert not query.is_valid() and "since" in query.errors


def test_naive_moments_are_utc_and_dates_are_midnight():
    assert periods.parse_moment("2026-03-01T12:00") == dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    assert periods.parse_moment("2026-03-01") == dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    assert periods.parse_moment("2026-03-01T12:00:00+02:00") == dt.datetime(2026, 3, 1, 10, tzinfo=dt.UTC)


def test_query_carries_the_exact_period():
    period = periods.period_resolve(TEAM_MEMORY, range="90d", now=NOW)
    assert period.query() == {"since": "2026-08-29T00:00:00Z", "until": "2026-11-27T00:00:00Z"}
