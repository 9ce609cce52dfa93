"""Minute rollups (observability.minutes): the live view reads the team's minutes from them and
shows the same figures as the raw executions; deletions, rebuilds and the purge keep them exact."""

import datetime as dt
import random

import pytest
from django.utils import timezone

from observability import selectors, services
from observability.deletion import executions_delete
from observability.minutes import minute_rollups_purge, minute_rollups_rebuild
from observability.models import Execution, MinuteRollup

from .test_rollups import random_events

pytestmark = pytest.mark.django_db


def _whole_ms(events):
    for event in events:  # whole milliseconds: float sums are exact in any order
        event["duration_ms"] = float(round(event["duration_ms"]) + 1)
    return events


def _figures(team, key, status=None):
    period = selectors.time_range(key)
    live = selectors.live_dashboard(team=team, period=period, status=status)
    raw = selectors.dashboard(team=team, period=period, status=status)  # raw executions, per minute
    return live, raw


def _same(live, raw):
    assert live["series"] == raw["series"]
    assert live["totals"] == raw["totals"]


def test_the_live_view_reads_minute_rollups_with_the_raw_figures(team, other_team, ingest, now):
    rng = random.Random(3)
    ingest(team, _whole_ms(random_events(rng, now, 600, hours=2)))
    ingest(other_team, _whole_ms(random_events(rng, now, 100, prefix="o", hours=2)))
    # Keyed like the hourly rows, per minute (the alert windows' edges), and the team's total per
    # (minute, status) with agent, model and version empty: what the live view reads.
    totals = MinuteRollup.objects.filter(team=team, agent_name="")
    assert totals.count() <= 2 * 2 * 60 + 2
    assert {(t.bucket, t.status) for t in totals} == {
        (e.started_at.replace(second=0, microsecond=0), e.status)
        for e in Execution.objects.filter(team=team, started_at__gte=now - dt.timedelta(hours=3))
    }
    keys = MinuteRollup.objects.filter(team=team).exclude(agent_name="")
    keys = keys.values("bucket", "agent_name", "model", "version", "status")
    raw_keys = {
        (e.started_at.replace(second=0, microsecond=0), e.agent_name, e.model, e.version, e.status)
        for e in Execution.objects.filter(team=team, started_at__gte=now - dt.timedelta(hours=3))
    }
    assert {tuple(k.values()) for k in keys} == raw_keys
    for key in ("15m", "1h"):
        for status in (None, "error"):
            live, raw = _figures(team, key, status)
            assert live["totals"]["executions"] > 0
            _same(live, raw)


def test_the_live_view_makes_no_raw_read(team, ingest, now, django_assert_num_queries):
    ingest(team, _whole_ms(random_events(random.Random(4), now, 50, hours=1)))
    period = selectors.time_range("1h")
    with django_assert_num_queries(1) as captured:
        selectors.live_dashboard(team=team, period=period)
    assert "observability_execution" not in captured.captured_queries[0]["sql"]


def test_deleting_rebuilding_and_purging_keep_minutes_exact(team, ingest, now):
    ingest(team, _whole_ms(random_events(random.Random(5), now, 400, hours=1)))
    executions_delete(executions=Execution.objects.filter(team=team, agent_name="coder"))
    live, raw = _figures(team, "1h")
    start = selectors.time_range("1h").start
    assert live["totals"]["executions"] == Execution.objects.filter(team=team, started_at__gte=start).count() > 0
    _same(live, raw)

    MinuteRollup.objects.filter(team=team).update(executions=0)  # damage, then rebuild
    services.rollups_rebuild(start=now - dt.timedelta(hours=2), end=now, team=team)
    _same(*_figures(team, "1h"))

    assert minute_rollups_purge(now=timezone.now() + dt.timedelta(days=3)) > 0
    assert not MinuteRollup.objects.exists()


def test_an_agent_filter_reads_the_raw_executions(team, ingest, now):
    ingest(team, _whole_ms(random_events(random.Random(6), now, 200, hours=1)))
    period = selectors.time_range("15m")
    live = selectors.live_dashboard(team=team, period=period, agent="coder")
    assert live == selectors.dashboard(team=team, period=period, agent="coder")


def test_a_rebuild_between_any_two_instants_rebuilds_whole_minutes(team, ingest, now):
    ingest(team, _whole_ms(random_events(random.Random(7), now, 300, hours=1)))
    odd = now - dt.timedelta(minutes=30, seconds=17)  # not on a minute: its minute is rebuilt whole
    assert minute_rollups_rebuild(start=odd, end=now - dt.timedelta(seconds=3), team=team) > 0
    _same(*_figures(team, "1h"))
