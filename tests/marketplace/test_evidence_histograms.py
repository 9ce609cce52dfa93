"""The period histograms the worker merges ahead of the version pages: the figures read with them
are exactly those read from the daily rows, a late write makes the read merge the daily rows
again, and the K-team and opt-in rules hold on both paths."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from marketplace import evidence, services
from marketplace.evidence import version_evidence
from marketplace.evidence_stats import DURATION_HISTOGRAM
from marketplace.models import VersionEvidenceHistogram
from marketplace.services.evidence_histograms import PERIODS, evidence_histograms_refresh
from tests.marketplace.evidence_helpers import share

# Committed writes, as in production: the worker's merge runs in its own transaction after the
# executions' transactions committed. Inside one test transaction the merge's snapshot would not
# count the test's own uncommitted daily rows as written before it (pg_visible_in_snapshot), so
# whether a merged row looked current depended on other sessions' commits on the server.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def published(make_agent, team, member):
    return make_agent(team, "Summariser", created_by=member)


@pytest.fixture
def users(make_team):
    return [make_team(f"User {i}", slug=f"user-{i}") for i in range(4)]


@pytest.fixture(autouse=True)
def three_k(monkeypatch):
    from marketplace import conf

    monkeypatch.setattr(conf, "EVIDENCE_MIN_TEAMS", 3)


def record(team, version, *, days_ago: int, runs: int, duration_ms: float, failures: int = 0):
    """``runs`` executions of ``duration_ms`` on the UTC day ``days_ago`` days before today."""
    hist = DURATION_HISTOGRAM.empty()
    hist[DURATION_HISTOGRAM.bucket_of(duration_ms)] = runs
    services.version_evidence_record(
        team_id=team.pk,
        rows=[
            {
                "version_id": version.pk,
                "day": timezone.now().date() - dt.timedelta(days=days_ago),
                "executions": runs,
                "successes": runs - failures,
                "duration_sum_ms": runs * duration_ms,
                "hist": hist,
                "tokens": runs * 100,
                "tokens_sq": runs * 100.0**2,
                "cost": "0",
                "cost_sq": 0.0,
                "priced": 0,
                "quality_sum": 0.0,
                "quality_sq": 0.0,
                "quality_count": 0,
            }
        ],
    )


def figures(version, team):
    return {period: version_evidence(version=version, team=team, days=period).as_dict() for period in PERIODS}


@pytest.fixture
def measured(published, users):
    """Four teams (three sharing) that ran the version on days spread over 90 days, today included."""
    version = published.latest_version
    for i, team in enumerate(users):
        for days_ago, duration in ((0, 50 + i), (1, 120 * (i + 1)), (5, 900 + 10 * i), (20, 3000), (60, 40 * (i + 2))):
            record(team, version, days_ago=days_ago, runs=10 + i, duration_ms=duration, failures=i)
        if i < 3:
            share(team)
    return version


def test_the_periods_are_the_pages_periods():
    assert tuple(sorted(evidence.PERIODS)) == PERIODS


def test_merged_histograms_give_exactly_the_daily_rows_figures(measured, users):
    viewer = users[3]  # does not share: sees its own figures and the three sharing teams' spread
    from_daily_rows = figures(measured, viewer)
    assert from_daily_rows[90]["others"]["p95_ms"]["teams"] == 3
    assert evidence_histograms_refresh() == 1
    assert VersionEvidenceHistogram.objects.filter(version=measured).count() == 4 * len(PERIODS)
    assert figures(measured, viewer) == from_daily_rows
    assert evidence_histograms_refresh() == 0  # nothing stale: nothing merged again


def test_the_read_uses_the_merged_rows_while_they_are_current(measured, users):
    evidence_histograms_refresh()
    before = version_evidence(version=measured, team=users[0], days=90).as_dict()["own"]["p95_ms"]
    # Tamper with the merged row (never done outside this test): the read shows it, so it reads it.
    VersionEvidenceHistogram.objects.filter(version=measured, team=users[0], days=90).update(
        hist_buckets=[DURATION_HISTOGRAM.bucket_of(100_000.0)], hist_counts=[1000]
    )
    after = version_evidence(version=measured, team=users[0], days=90).as_dict()["own"]["p95_ms"]
    assert after["value"] > before["value"]


# Committed transactions, as in production: a snapshot never hides its own transaction's writes.
@pytest.mark.django_db(transaction=True)
def test_a_late_write_to_a_closed_day_is_counted_at_once(measured, users):
    evidence_histograms_refresh()
    record(users[0], measured, days_ago=3, runs=500, duration_ms=60_000.0)  # yesterday's traffic, late
    shown = figures(measured, users[3])
    VersionEvidenceHistogram.objects.all().delete()
    assert shown == figures(measured, users[3])  # the same as merging the daily rows now
    assert shown[7]["others"]["p95_ms"]["max"] >= 30_000
    assert evidence_histograms_refresh() == 1  # the stale merge is redone
    assert figures(measured, users[3]) == shown


# Committed transactions, as in production: a snapshot never hides its own transaction's writes.
@pytest.mark.django_db(transaction=True)
def test_a_rollup_rebuild_makes_the_merge_stale(measured, users):
    evidence_histograms_refresh()
    today = timezone.now().date()
    services.version_evidence_rebuild(
        start_day=today - dt.timedelta(days=10), end_day=today, rows_by_team={}, team_id=users[1].pk
    )
    shown = figures(measured, users[1])
    VersionEvidenceHistogram.objects.all().delete()
    assert shown == figures(measured, users[1])


def test_opting_out_after_the_merge_removes_the_team_from_the_spread(measured, users):
    evidence_histograms_refresh()
    assert version_evidence(version=measured, team=users[3], days=90).as_dict()["others"]["p95_ms"]["teams"] == 3
    share(users[2], on=False)
    assert version_evidence(version=measured, team=users[3], days=90).as_dict()["others"]["p95_ms"] is None


def test_the_worker_merges_every_ten_minutes(measured):
    from procrastinate.contrib.django import app

    from marketplace.tasks import evidence_histograms_refresh as task

    scheduled = {p.task.name: p.cron for p in app.periodic_registry.periodic_tasks.values()}
    assert scheduled["marketplace.evidence_histograms_refresh"] == "*/10 * * * *"
    assert task(0) == 1
    assert VersionEvidenceHistogram.objects.filter(version=measured).exists()
