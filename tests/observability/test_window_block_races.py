"""Late events racing the window blocks' build (observability.windows), each side in its own
thread and connection: whichever commits first, the pages read the same figures as from the
rollups alone."""

import datetime as dt

import pytest
from django.db import transaction

from observability import selectors, services
from observability.models import DayBlockRollup, HourBlockRollup
from observability.windows import window_blocks_build
from tests.races import held_open, in_thread, wait_for_a_lock_wait

from .test_window_blocks import _pages, _seed

pytestmark = pytest.mark.django_db(transaction=True)
HOUR = dt.timedelta(hours=1)


def _late(now):
    """A late event in a closed hour of the last 24 hours, and that hour."""
    hour = selectors.time_range("24h", now=now).start + 6 * HOUR
    event = {"id": "late-1", "agent": "latecomer", "model": "gpt-4o", "duration_ms": 5000.0}
    return hour, [event | {"started_at": f"{hour + 20 * dt.timedelta(minutes=1):%Y-%m-%dT%H:%M:%SZ}"}]


def _holding(team, hour):
    return [
        b for b in HourBlockRollup.objects.filter(team=team, windowed=True) if b.hour <= hour < b.hour + b.hours * HOUR
    ]


def _exact(team, now):
    """The pages from the blocks and windows equal those from the rollups alone."""
    with_blocks = _pages(team, now)
    with transaction.atomic():
        HourBlockRollup.objects.all().delete()
        DayBlockRollup.objects.all().delete()
        assert _pages(team, now) == with_blocks
        transaction.set_rollback(True)
    return with_blocks


def test_a_window_over_an_hour_being_written_late_waits_for_the_next_run(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    hour, events = _late(now)
    with held_open(lambda: ingest(team, events)):  # the trigger holds (team, hour) until it commits
        window_blocks_build(now=now)  # never waits for the writer
        assert not _holding(team, hour)
        assert HourBlockRollup.objects.filter(team=team, windowed=True).exists()  # the previous day's window
    services.hour_blocks_compact(now=now)
    assert window_blocks_build(now=now) >= 1
    assert _holding(team, hour)
    assert "latecomer" in [a["agent"] for a in _exact(team, now)["24h"]["agents"]]


def test_a_late_event_during_the_build_waits_then_removes_the_windows_over_its_hour(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    hour, events = _late(now)
    with held_open(lambda: window_blocks_build(now=now)):  # windows written, not committed
        writer, write_outcome = in_thread(lambda: ingest(team, events))
        wait_for_a_lock_wait()
        assert writer.is_alive()  # the late event waits for the windows over its hour
    writer.join(20)
    assert "error" not in write_outcome, write_outcome
    assert HourBlockRollup.objects.filter(team=team, windowed=True).exists()
    assert not _holding(team, hour)
    assert "latecomer" in [a["agent"] for a in _exact(team, now)["24h"]["agents"]]
