"""Day blocks (observability.blocks): the long dashboards read closed days from them and give the
same figures as from the rollups; any change to a closed day's rollups removes its blocks."""

import datetime as dt
import random

import pytest

from observability import selectors, services
from observability.deletion import executions_delete
from observability.models import DayBlockRollup, Execution

from .test_rollups import random_events

pytestmark = pytest.mark.django_db


def _whole_ms(events):
    # Whole milliseconds: float sums are then exact in any order, so figures compare with ==.
    for event in events:
        event["duration_ms"] = float(round(event["duration_ms"]) + 1)
    return events


def _seed(team, other_team, ingest, now):
    rng = random.Random(16)
    ingest(team, _whole_ms(random_events(rng, now, 1200, hours=10 * 24)))
    ingest(other_team, _whole_ms(random_events(rng, now, 200, prefix="o", hours=10 * 24)))


def _dashboards(team, **filters):
    return {
        key: selectors.dashboard(team=team, period=selectors.time_range(key), **filters)
        for key in ("30d", "90d", "7d", "24h")
    }


def test_dashboard_from_day_blocks_equals_the_rollups(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    assert not DayBlockRollup.objects.exists()  # ingest never builds blocks
    filters = ((), (("agent", "coder"),), (("model", "gpt-4o"),))
    before = {f: _dashboards(team, **dict(f)) for f in filters}
    assert before[()]["30d"]["totals"]["executions"] == 1200

    assert services.day_blocks_compact(now=now) >= 2 * 9
    assert DayBlockRollup.objects.filter(team=team, total=True, day__lt=now - dt.timedelta(days=1)).count() >= 9
    assert {f: _dashboards(team, **dict(f)) for f in filters} == before
    assert services.day_blocks_compact(now=now) == 0  # idempotent


def test_a_late_event_removes_the_blocks_of_its_day_until_compacted_again(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    services.day_blocks_compact(now=now)
    late_day = (now - dt.timedelta(days=4)).replace(hour=12, minute=0, second=0, microsecond=0)
    day_start = late_day.replace(hour=0)

    def holds_the_day(block):
        return block.team_id == team.pk and block.day <= day_start < block.day + dt.timedelta(days=block.days)

    others = {b.pk for b in DayBlockRollup.objects.all() if not holds_the_day(b)}
    assert DayBlockRollup.objects.filter(team=team, day=day_start, days=1).exists()
    assert DayBlockRollup.objects.filter(days__gt=1).exists()  # blocks of 2, 4 ... days too

    ingest(
        team,
        [
            {
                "id": "late-1",
                "agent": "latecomer",
                "model": "gpt-4o",
                "duration_ms": 5000.0,
                "started_at": late_day.isoformat(),
                "input_tokens": 10,
                "output_tokens": 5,
            }
        ],
    )

    # Every block holding that day is gone (of one day and longer); the others (and the other
    # team's) stay.
    assert set(DayBlockRollup.objects.values_list("pk", flat=True)) == others
    period = selectors.time_range("30d")
    data = selectors.dashboard(team=team, period=period)
    assert data["totals"]["executions"] == 1201
    assert "latecomer" in {a["agent"] for a in data["agents"]}
    assert services.day_blocks_compact(now=now) == 1
    assert selectors.dashboard(team=team, period=period) == data


def test_deleting_executions_and_rebuilding_keep_blocks_exact(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    services.day_blocks_compact(now=now)
    period = selectors.time_range("30d")
    victims = Execution.objects.filter(team=team, agent_name="coder", started_at__lt=now - dt.timedelta(days=3))
    removed = victims.count()
    assert removed > 0
    executions_delete(executions=victims)
    data = selectors.dashboard(team=team, period=period)
    assert data["totals"]["executions"] == 1200 - removed
    DayBlockRollup.objects.all().delete()
    assert selectors.dashboard(team=team, period=period) == data  # the rollups alone agree

    services.rollups_rebuild(start=now - dt.timedelta(days=12), end=now, team=team)
    assert DayBlockRollup.objects.filter(team=team, total=True).count() >= 9  # the rebuild compacts
    assert selectors.dashboard(team=team, period=period) == data
