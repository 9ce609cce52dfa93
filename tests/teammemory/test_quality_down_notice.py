"""Team memory publishes ``teammemory.quality_down`` once when its quality trend turns down."""

import datetime as dt

import pytest

from crucible.models import Role
from crucible.notifications.models import Event, Notification
from teammemory.models import QualityTrendWatch
from teammemory.notices import quality_trend_watch, quality_trend_watch_all
from teammemory.tasks import quality_trend_watch as quality_trend_watch_job
from tests.teammemory.conftest import NOW

pytestmark = pytest.mark.django_db
KIND = "teammemory.quality_down"


def _weeks(make_build, weekly_quality, *, last_week_start):
    """Two builds a week, the last week starting ``last_week_start``; each week averages the value."""
    weeks = len(weekly_quality)
    for index, quality in enumerate(weekly_quality):
        start = last_week_start - dt.timedelta(weeks=weeks - 1 - index) + dt.timedelta(hours=1)
        for k in range(2):
            make_build(quality=quality + (1 if k == 0 else -1), started=start + dt.timedelta(hours=k))


def _events(team):
    return list(Event.objects.filter(team=team, kind=KIND).order_by("pk"))


def test_a_falling_trend_is_published_once(make_build, team, make_user):
    owner = make_user("owner", team=team, role=Role.OWNER)
    _weeks(make_build, [88, 85, 86, 80, 78, 79, 72, 70], last_week_start=NOW)
    assert quality_trend_watch(team=team, now=NOW + dt.timedelta(days=1)) is True
    assert quality_trend_watch(team=team, now=NOW + dt.timedelta(days=1, hours=1)) is False  # still falling
    [event] = _events(team)
    assert event.title.startswith("Build quality is falling: -") and event.url == "/teammemory/"
    assert event.payload["direction"] == "falling" and event.payload["p_value"] < 0.05
    assert Notification.objects.filter(user=owner, event=event).count() == 1
    assert QualityTrendWatch.objects.get(team=team).direction == "falling"


def test_a_rising_or_flat_trend_publishes_nothing(make_build, team):
    _weeks(make_build, [50, 55, 54, 60, 61, 66, 65, 71], last_week_start=NOW)
    assert quality_trend_watch(team=team, now=NOW + dt.timedelta(days=1)) is False
    assert _events(team) == [] and QualityTrendWatch.objects.get(team=team).direction == "rising"


def test_it_turns_down_again_after_recovering(make_build, team):
    _weeks(make_build, [88, 85, 86, 80, 78, 79, 72, 70], last_week_start=NOW)
    quality_trend_watch(team=team, now=NOW + dt.timedelta(days=1))
    later = NOW + dt.timedelta(weeks=8)
    _weeks(make_build, [70, 75, 74, 80, 82, 86, 88, 92], last_week_start=later)  # recovery
    assert quality_trend_watch(team=team, now=later + dt.timedelta(days=1)) is False
    assert QualityTrendWatch.objects.get(team=team).direction != "falling"
    fall = later + dt.timedelta(weeks=9)
    _weeks(make_build, [95, 92, 90, 85, 80, 78, 70, 66, 60], last_week_start=fall)
    assert quality_trend_watch(team=team, now=fall + dt.timedelta(days=1)) is True
    first, second = _events(team)
    assert first.dedupe_key != second.dedupe_key


def test_the_hourly_job_checks_every_team_with_builds_and_is_idempotent(make_build, team, other_team):
    _weeks(make_build, [88, 85, 86, 80, 78, 79, 72, 70], last_week_start=NOW)
    _weeks(lambda **kw: make_build(team=other_team, **kw), [50, 55, 54, 60, 61, 66, 65, 71], last_week_start=NOW)
    stamp = int((NOW + dt.timedelta(days=1)).timestamp())
    assert quality_trend_watch_job(stamp) == {"teams": 2, "published": 1}
    assert quality_trend_watch_job(stamp) == {"teams": 2, "published": 0}  # a retried job
    assert len(_events(team)) == 1 and _events(other_team) == []
    assert quality_trend_watch_all(now=NOW + dt.timedelta(days=2))["published"] == 0
