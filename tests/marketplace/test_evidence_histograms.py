"""The period histograms the worker merges ahead of the version pages: the figures read with them
are exactly those read from the daily rows, a late write removes the merged rows it touches (the
read merges that team's daily rows again), and the K-team and opt-in rules hold on both paths.
Races of late writes with the merge: test_evidence_histogram_races.py."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from crucible import merge_guard
from marketplace import evidence, services
from marketplace.evidence import version_evidence
from marketplace.evidence_stats import DURATION_HISTOGRAM
from marketplace.models import VersionEvidenceHistogram
from marketplace.services.evidence_histograms import PERIODS, evidence_histograms_refresh
from tests.marketplace.evidence_helpers import record_day, share, stale_merged_rows

# Committed writes, as in production: the worker's merge runs in its own transaction after the
# executions' transactions committed.
pytestmark = pytest.mark.django_db(transaction=True)


def refresh() -> int:
    """The worker's merge once yesterday has settled (every write here has committed), whatever
    the time of day the test runs at."""
    return evidence_histograms_refresh(now=timezone.now() + merge_guard.SETTLE)


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


def figures(version, team):
    return {period: version_evidence(version=version, team=team, days=period).as_dict() for period in PERIODS}


@pytest.fixture
def measured(published, users):
    """Four teams (three sharing) that ran the version on days spread over 90 days, today included."""
    version = published.latest_version
    for i, team in enumerate(users):
        for days_ago, duration in ((0, 50 + i), (1, 120 * (i + 1)), (5, 900 + 10 * i), (20, 3000), (60, 40 * (i + 2))):
            record_day(team, version, days_ago=days_ago, runs=10 + i, duration_ms=duration, failures=i)
        if i < 3:
            share(team)
    return version


def test_the_periods_are_the_pages_periods():
    assert tuple(sorted(evidence.PERIODS)) == PERIODS


def test_merged_histograms_give_exactly_the_daily_rows_figures(measured, users):
    viewer = users[3]  # does not share: sees its own figures and the three sharing teams' spread
    from_daily_rows = figures(measured, viewer)
    assert from_daily_rows[90]["others"]["p95_ms"]["teams"] == 3
    assert refresh() == 1
    assert VersionEvidenceHistogram.objects.filter(version=measured).count() == 4 * len(PERIODS)
    assert figures(measured, viewer) == from_daily_rows
    assert stale_merged_rows() == []
    assert refresh() == 0  # nothing missing: nothing merged again


def test_the_read_uses_the_merged_rows_while_they_are_current(measured, users):
    refresh()
    before = version_evidence(version=measured, team=users[0], days=90).as_dict()["own"]["p95_ms"]
    # Tamper with the merged row (never done outside this test): the read shows it, so it reads it.
    VersionEvidenceHistogram.objects.filter(version=measured, team=users[0], days=90).update(
        hist_buckets=[DURATION_HISTOGRAM.bucket_of(100_000.0)], hist_counts=[1000]
    )
    assert len(stale_merged_rows()) == 1  # the tests' staleness check sees it
    after = version_evidence(version=measured, team=users[0], days=90).as_dict()["own"]["p95_ms"]
    assert after["value"] > before["value"]


# Committed transactions, as in production: a snapshot never hides its own transaction's writes.
@pytest.mark.django_db(transaction=True)
def test_a_late_write_to_a_closed_day_is_counted_at_once(measured, users):
    refresh()
    record_day(users[0], measured, days_ago=3, runs=500, duration_ms=60_000.0)  # yesterday's traffic, late
    # The team's merged rows holding that day are gone (its 90-, 30- and 7-day rows); the others stay.
    assert not VersionEvidenceHistogram.objects.filter(team=users[0]).exists()
    assert VersionEvidenceHistogram.objects.filter(team=users[1]).count() == len(PERIODS)
    shown = figures(measured, users[3])
    VersionEvidenceHistogram.objects.all().delete()
    assert shown == figures(measured, users[3])  # the same as merging the daily rows now
    assert shown[7]["others"]["p95_ms"]["max"] >= 30_000
    assert refresh() == 1  # the stale merge is redone
    assert figures(measured, users[3]) == shown


def test_a_late_write_to_an_old_day_removes_only_the_periods_holding_it(measured, users):
    refresh()
    record_day(users[2], measured, days_ago=60, runs=5, duration_ms=20_000.0)
    assert set(VersionEvidenceHistogram.objects.filter(team=users[2]).values_list("days", flat=True)) == {7, 30}
    assert stale_merged_rows() == []
    assert refresh() == 1
    assert VersionEvidenceHistogram.objects.filter(team=users[2]).count() == len(PERIODS)
    assert stale_merged_rows() == []


# Committed transactions, as in production: a snapshot never hides its own transaction's writes.
@pytest.mark.django_db(transaction=True)
def test_a_rollup_rebuild_makes_the_merge_stale(measured, users):
    refresh()
    today = timezone.now().date()
    services.version_evidence_rebuild(
        start_day=today - dt.timedelta(days=10), end_day=today, rows_by_team={}, team_id=users[1].pk
    )
    # Days 1 and 5 were reset: the 7- and 30-day rows hold them; the 90-day row too.
    assert not VersionEvidenceHistogram.objects.filter(team=users[1]).exists()
    shown = figures(measured, users[1])
    VersionEvidenceHistogram.objects.all().delete()
    assert shown == figures(measured, users[1])


def test_opting_out_after_the_merge_removes_the_team_from_the_spread(measured, users):
    refresh()
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
