"""Quality in the rollups (sum and count of the executions that report one): ingest adds it to the
hourly, daily and minute rows, deletion takes it away, verification checks it, a rebuild repairs
it. The alert rules' average quality reads it (tests/alerts/test_window_figures.py)."""

import datetime as dt
import random

import pytest
from django.db.models import Count, Sum
from django.db.models.functions import TruncDay, TruncHour, TruncMinute

from observability import selectors, services
from observability.deletion import executions_delete
from observability.models import DailyRollup, Execution, HourlyRollup, MinuteRollup

from .test_rollups import random_events

pytestmark = pytest.mark.django_db
KEY = ("bucket", "agent_name", "model", "version", "status")


def with_quality(events, seed):
    rng = random.Random(seed)
    for event in events:
        if rng.random() < 0.6:
            event["quality"] = rng.choice([0, 12.5, 50, 77.25, 100])
    return events


def _stored(model, team):
    rows = model.objects.filter(team=team, quality_count__gt=0).exclude(agent_name="")  # minutes: not the totals
    return {
        tuple(r[k] for k in KEY): (r["quality_sum"], r["quality_count"])
        for r in rows.values(*KEY, "quality_sum", "quality_count")
    }


def _raw(team, trunc, since=None):
    rows = Execution.objects.filter(team=team, quality__isnull=False, counts_execution=True)
    if since is not None:
        rows = rows.filter(started_at__gte=since)
    rows = (
        rows.annotate(bucket=trunc("started_at", tzinfo=dt.UTC))
        .values("bucket", "agent_name", "model", "version", "status")
        .annotate(total=Sum("quality"), n=Count("id"))
    )
    return {tuple(r[k] for k in KEY): (r["total"], r["n"]) for r in rows}


def _assert_same(team, now):
    for model, trunc, since in (
        (HourlyRollup, TruncHour, None),
        (DailyRollup, TruncDay, None),
        (MinuteRollup, TruncMinute, now - dt.timedelta(hours=40)),
    ):
        stored, raw = _stored(model, team), _raw(team, trunc, since)
        assert stored.keys() == raw.keys(), model
        for key, (total, n) in raw.items():
            assert stored[key][1] == n
            assert stored[key][0] == pytest.approx(total)
    # The team's total minute rows (the live view's) hold the same quality as the scoped ones.
    totals = MinuteRollup.objects.filter(team=team, agent_name="").aggregate(n=Sum("quality_count"))
    assert totals["n"] == sum(n for _, n in _raw(team, TruncMinute, now - dt.timedelta(hours=40)).values())


def test_every_rollup_holds_the_quality_of_the_raw_executions(team, other_team, ingest, now):
    ingest(team, with_quality(random_events(random.Random(11), now, 800, hours=30), 1))
    ingest(other_team, with_quality(random_events(random.Random(12), now, 100, prefix="o", hours=30), 2))
    assert Execution.objects.filter(team=team, quality__isnull=False).count() > 300
    _assert_same(team, now)
    assert selectors.rollups_verify(start=now - dt.timedelta(days=3), end=now + dt.timedelta(days=1))["ok"]

    executions_delete(executions=Execution.objects.filter(team=team, agent_name="coder"))
    _assert_same(team, now)


def test_verify_finds_a_wrong_quality_and_rebuild_repairs_it(team, ingest, now):
    ingest(team, with_quality(random_events(random.Random(13), now, 300, hours=20), 3))
    start, end = now - dt.timedelta(days=2), now + dt.timedelta(days=1)
    row = HourlyRollup.objects.filter(team=team, quality_count__gt=0).first()
    HourlyRollup.objects.filter(pk=row.pk).update(quality_count=row.quality_count + 1)
    report = selectors.rollups_verify(start=start, end=end)
    assert report["tables"]["observability_hourlyrollup"]["mismatches"] == 1
    MinuteRollup.objects.filter(team=team).update(quality_sum=0)
    services.rollups_rebuild(start=start, end=end, team=team)
    assert selectors.rollups_verify(start=start, end=end)["ok"]
    _assert_same(team, now)
