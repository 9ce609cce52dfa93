"""Late writes racing the merge of the period histograms (crucible.merge_guard), each side in its
own thread and connection: whichever commits first, a reader never sees a merged row that differs
from the daily rows it covers."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import transaction
from django.utils import timezone

from crucible import merge_guard
from marketplace import services
from marketplace.models import VersionEvidenceHistogram
from marketplace.services.evidence_histograms import PERIODS, evidence_histograms_refresh
from tests.marketplace.evidence_helpers import record_day, stale_merged_rows
from tests.races import in_thread, wait_for_a_lock_wait

pytestmark = pytest.mark.django_db(transaction=True)


def refresh() -> int:
    """The worker's merge once yesterday has settled, whatever the time of day."""
    return evidence_histograms_refresh(now=timezone.now() + merge_guard.SETTLE)


@pytest.fixture
def measured(make_agent, make_team):
    """A version three teams ran on closed days of the last 90 (and today), nothing merged yet."""
    version = make_agent(make_team("Publisher"), "Racer").latest_version
    teams = [make_team(f"Runner {i}") for i in range(3)]
    for i, team in enumerate(teams):
        for days_ago in (0, 1, 3, 20, 60):
            record_day(team, version, days_ago=days_ago, runs=5 + i, duration_ms=100.0 * (days_ago + 1))
    return version, teams


def test_a_late_write_during_a_merge_waits_for_it_then_removes_what_it_merged(measured):
    version, teams = measured
    merged, finish = threading.Event(), threading.Event()

    def merge():
        with transaction.atomic():
            count = refresh()
            merged.set()  # merged rows written, not committed
            finish.wait(20)
        return count

    merger, merge_outcome = in_thread(merge)
    assert merged.wait(20)
    writer, write_outcome = in_thread(
        lambda: record_day(teams[0], version, days_ago=1, runs=400, duration_ms=50_000.0)  # yesterday's, late
    )
    wait_for_a_lock_wait()
    assert writer.is_alive()
    assert stale_merged_rows() == []  # nothing of either is visible yet
    finish.set()
    merger.join(20)
    writer.join(20)
    assert merge_outcome == {"value": 1} and write_outcome == {"value": None}
    # The merge committed first; the late write then deleted the team's rows it had merged.
    assert stale_merged_rows() == []
    assert not VersionEvidenceHistogram.objects.filter(team=teams[0]).exists()
    assert VersionEvidenceHistogram.objects.filter(team=teams[1]).count() == len(PERIODS)
    assert refresh() == 1 and stale_merged_rows() == []


def test_a_merge_leaves_a_version_being_written_late_for_the_next_run(measured):
    version, teams = measured
    written, finish = threading.Event(), threading.Event()

    def late_write():
        with transaction.atomic():
            record_day(teams[1], version, days_ago=3, runs=300, duration_ms=40_000.0)
            written.set()  # the trigger holds the version's lock until this commits
            finish.wait(20)

    writer, outcome = in_thread(late_write)
    assert written.wait(20)
    started = time.monotonic()
    assert refresh() == 0  # neither merges without the late rows nor waits for them
    assert time.monotonic() - started < 15
    assert not VersionEvidenceHistogram.objects.exists()
    finish.set()
    writer.join(20)
    assert outcome == {"value": None}
    assert refresh() == 1 and stale_merged_rows() == []


def test_late_writes_rebuilds_and_merges_at_once_never_show_a_stale_merged_row(measured):
    version, teams = measured
    stop = threading.Event()
    seen_stale, checks = [], []
    today = timezone.now().date()

    def late_writes(team, offset):
        for i in range(12):
            record_day(team, version, days_ago=1 + (i + offset) % 4, runs=1 + i, duration_ms=300.0 * (i + 1))

    def rebuilds():
        for i in range(4):  # the rollup rebuild of the last days of one team, as observability runs it
            services.version_evidence_rebuild(
                start_day=today - dt.timedelta(days=5),
                end_day=today,
                rows_by_team={},
                team_id=teams[2].pk,
            )
            record_day(teams[2], version, days_ago=2, runs=7 + i, duration_ms=900.0)

    def merges():
        while not stop.is_set():
            refresh()

    def check():
        while not stop.is_set():
            seen_stale.extend(stale_merged_rows())
            checks.append(1)

    background = [in_thread(merges), in_thread(check)]
    writers = [in_thread(lambda: late_writes(teams[0], 0)), in_thread(lambda: late_writes(teams[1], 2))]
    writers.append(in_thread(rebuilds))
    for thread, outcome in writers:
        thread.join(120)
        assert "error" not in outcome, outcome
    stop.set()
    for thread, outcome in background:
        thread.join(60)
        assert "error" not in outcome, outcome
    assert checks and seen_stale == []
    refresh()
    assert stale_merged_rows() == [] and VersionEvidenceHistogram.objects.count() == 3 * len(PERIODS)
