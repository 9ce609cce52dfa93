"""Late events racing the day blocks' compaction (crucible.merge_guard), each side in its own
thread and connection: whichever commits first, the dashboard reads the same figures as from the
daily rollups alone."""

import datetime as dt

import pytest
from django.db import transaction

from observability import services
from observability.models import DayBlockRollup
from tests.races import held_open, in_thread, wait_for_a_lock_wait

from .test_day_blocks import _dashboards, _seed

pytestmark = pytest.mark.django_db(transaction=True)


def _late_event(now):
    started = (now - dt.timedelta(days=3)).replace(hour=12, minute=0, second=0, microsecond=0)
    event = {"id": "late-1", "agent": "latecomer", "model": "gpt-4o", "duration_ms": 5000.0}
    return started.replace(hour=0), [event | {"started_at": started.isoformat(), "input_tokens": 3}]


def _exact(team):
    """The dashboards from the blocks equal those from the daily rollups alone."""
    with_blocks = _dashboards(team)
    with transaction.atomic():
        DayBlockRollup.objects.all().delete()
        assert _dashboards(team) == with_blocks
        transaction.set_rollback(True)
    return with_blocks


def test_compaction_leaves_a_day_being_written_late_for_the_next_run(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    day, events = _late_event(now)
    with held_open(lambda: ingest(team, events)):  # the trigger holds (team, day) until it commits
        services.day_blocks_compact(now=now)
        assert not DayBlockRollup.objects.filter(team=team, day=day).exists()  # left, not waited for
        assert DayBlockRollup.objects.filter(team=team, day=day - dt.timedelta(days=1), days=1).exists()
    assert services.day_blocks_compact(now=now) == 1
    assert _exact(team)["30d"]["totals"]["executions"] == 1201


def test_a_late_event_during_compaction_waits_then_removes_the_blocks_of_its_day(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    day, events = _late_event(now)
    with held_open(lambda: services.day_blocks_compact(now=now)):  # blocks written, not committed
        writer, write_outcome = in_thread(lambda: ingest(team, events))
        wait_for_a_lock_wait()
        assert writer.is_alive()
    writer.join(20)
    assert "error" not in write_outcome, write_outcome
    assert DayBlockRollup.objects.filter(team=team, day__lt=day).exists()
    assert not DayBlockRollup.objects.filter(team=team, day=day).exists()
    assert _exact(team)["30d"]["totals"]["executions"] == 1201
