"""Window blocks (observability.windows): the closed part of each standard period's segments,
summed ahead. The pages read one window row per agent, model and version where they read a few
aligned blocks before, and show the same figures; a late event removes every window holding its
unit, so a window is exact or absent."""

import datetime as dt
import random

import pytest

from crucible.sql import fetch_rows
from observability import selectors, services
from observability.blocks import HOUR_BLOCKS
from observability.models import DayBlockRollup, HourBlockRollup
from observability.selectors.block_reads import with_blocks
from observability.windows import MAX_UNITS, window_blocks_build, windows_wanted

from .test_day_blocks import _whole_ms
from .test_hour_blocks import FILTERS
from .test_hour_blocks import _pages as hour_block_pages
from .test_rollups import random_events

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)
RANGES = ("24h", "7d", "30d")


def _seed(team, other_team, ingest, now):
    rng = random.Random(31)
    ingest(team, _whole_ms(random_events(rng, now, 1500, hours=40 * 24)))
    ingest(other_team, _whole_ms(random_events(rng, now, 200, prefix="o", hours=40 * 24)))
    services.day_blocks_compact(now=now)
    services.hour_blocks_compact(now=now)


def _pages(team, now, **filters):
    """What the pages of the standard periods show (``test_hour_blocks._pages``)."""
    return hour_block_pages(team, keys=RANGES, now=now, **filters)


def _windows(model, team):
    return set(model.objects.filter(team=team, windowed=True, total=True).values_list(model.UNIT, f"{model.UNIT}s"))


def test_pages_from_window_blocks_equal_the_rollups(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    before = {f: _pages(team, now, **dict(f)) for f in FILTERS}
    assert before[()]["30d"]["totals"]["executions"] > 1000

    assert window_blocks_build(now=now) >= 2 * 4  # both teams, hours and days
    wanted = windows_wanted(now)
    for model in (HourBlockRollup, DayBlockRollup):
        built = _windows(model, team)
        assert built and built <= {w for g, ws in wanted.items() if g.table == model._meta.db_table for w in ws}
        step = dt.timedelta(**{f"{model.UNIT}s": 1})
        for start, length in built:
            assert 2 <= length <= MAX_UNITS
            aligned = length in (2, 4, 8, 16) and start.timestamp() % (length * step.total_seconds()) == 0
            assert not aligned  # an aligned window would be an aligned block
            assert start + length * step <= now  # closed units only
    assert {f: _pages(team, now, **dict(f)) for f in FILTERS} == before
    assert window_blocks_build(now=now) == 0  # idempotent


def _cover(team, period, bucket):
    """The blocks the read of ``period`` chooses for each of its segments."""
    read = with_blocks(team, period.start, period.end, time_bucket=bucket)
    selects = " UNION ALL ".join(f"SELECT '{i}' AS part, start, length, windowed FROM cover_{i}" for _, i in read.parts)
    return fetch_rows(f"WITH {', '.join(read.ctes)} {selects}", read.params)


def test_a_page_of_a_standard_period_reads_one_window_per_segment(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    day = selectors.time_range("24h", now=now)
    aligned = _cover(team, day, "hour")
    assert len(aligned) >= 2 and not any(row["windowed"] for row in aligned)  # 23 hours in several blocks

    window_blocks_build(now=now)
    closed_hours = (HOUR_BLOCKS.closed_until(now) - day.start) / HOUR
    assert _cover(team, day, "hour") == [{"part": "0", "start": day.start, "length": closed_hours, "windowed": True}]
    month = selectors.time_range("30d", now=now)
    [cover] = _cover(team, month, "day")
    assert cover["windowed"] and cover["start"] == month.start
    # The previous period is whole: its window holds all of it.
    previous = day.previous()
    assert _cover(team, previous, None) == [{"part": "0", "start": previous.start, "length": 24, "windowed": True}]


def test_a_late_event_removes_the_windows_holding_its_hour_until_built_again(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    window_blocks_build(now=now)
    period = selectors.time_range("24h", now=now)
    late_hour = period.start + 5 * HOUR
    windows = HourBlockRollup.objects.filter(team=team, windowed=True)
    holding = {b.pk for b in windows if b.hour <= late_hour < b.hour + b.hours * HOUR}
    staying = set(windows.values_list("pk", flat=True)) - holding
    assert holding and staying  # the previous period's windows do not hold that hour
    kept_other = set(HourBlockRollup.objects.exclude(team=team).filter(windowed=True).values_list("pk", flat=True))
    executions = selectors.dashboard(team=team, period=period)["totals"]["executions"]

    ingest(team, [{"id": "late-1", "agent": "latecomer", "model": "gpt-4o", "duration_ms": 5000.0,
                   "started_at": f"{late_hour + dt.timedelta(minutes=30):%Y-%m-%dT%H:%M:%SZ}"}])  # fmt: skip

    assert set(windows.values_list("pk", flat=True)) == staying
    assert set(HourBlockRollup.objects.exclude(team=team).filter(windowed=True).values_list("pk", flat=True)) == (
        kept_other
    )
    late = selectors.dashboard(team=team, period=period)
    assert late["totals"]["executions"] == executions + 1
    assert "latecomer" in [a["agent"] for a in late["agents"]]
    # Its hour has no block until compacted again, so the window waits for it.
    assert window_blocks_build(now=now) == 0
    services.hour_blocks_compact(now=now)
    assert window_blocks_build(now=now) >= 1
    assert selectors.dashboard(team=team, period=period) == late


def test_windows_no_page_reads_any_more_are_deleted(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    window_blocks_build(now=now)
    before = _windows(HourBlockRollup, team)
    later = now + 3 * HOUR
    window_blocks_build(now=later)
    after = _windows(HourBlockRollup, team)
    wanted = windows_wanted(later)
    assert after and after <= {w for g, ws in wanted.items() if g.unit == "hour" for w in ws}
    assert before - after  # the windows of three hours ago are gone
    assert (
        not DayBlockRollup.objects.filter(windowed=True)
        .exclude(day__in=[start for g, ws in windows_wanted(later).items() if g.unit == "day" for start, _ in ws])
        .exists()
    )


def test_one_team_s_build_leaves_the_other_teams_windows(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    window_blocks_build(now=now)
    other = set(HourBlockRollup.objects.filter(team=other_team, windowed=True).values_list("pk", flat=True))
    assert other
    window_blocks_build(team=team, now=now + 3 * HOUR)
    assert set(HourBlockRollup.objects.filter(team=other_team, windowed=True).values_list("pk", flat=True)) == other


def test_a_rollup_rebuild_leaves_the_windows_built(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    window_blocks_build(now=now)
    before = _pages(team, now)
    services.rollups_rebuild(start=now - dt.timedelta(days=3), end=now, team=team)
    # The rebuild rewrote those days' rollups (the triggers deleted their blocks and windows) and
    # built them again.
    assert _windows(HourBlockRollup, team) and _windows(DayBlockRollup, team)
    assert _cover(team, selectors.time_range("24h", now=now), "hour")[0]["windowed"]
    assert _pages(team, now) == before
