"""Hour blocks (observability.blocks.HOURS): the home card, the dashboards and the analysis pages
read closed hours from them and give the figures of the hourly rollups; any change to a closed
hour's rollups removes the blocks holding it, so a block is exact or absent."""

import datetime as dt
import random
import threading

import pytest
from django.test import RequestFactory

from observability import selectors, services
from observability.deletion import executions_delete
from observability.models import Execution, HourBlockRollup
from observability.selectors.block_reads import block_rows
from observability.selectors.home import home_card
from observability.selectors.rollup_reads import rollup_rows

from .test_analysis import runs
from .test_day_blocks import _whole_ms
from .test_rollups import random_events

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)


def _seed(team, other_team, ingest, now):
    rng = random.Random(5)
    ingest(team, _whole_ms(random_events(rng, now, 1500, hours=3 * 24)))
    ingest(other_team, _whole_ms(random_events(rng, now, 200, prefix="o", hours=3 * 24)))


def _pages(team, keys=("24h", "7d"), now=None, **filters):
    """What the pages show, per period (``keys`` as of ``now``): dashboards (with ``filters``), and
    unfiltered the home card and the analysis pages."""
    periods = {key: selectors.time_range(key, now=now) for key in keys}
    out = {key: selectors.dashboard(team=team, period=period, **filters) for key, period in periods.items()}
    if not filters:
        out["home"] = home_card(team=team, request=RequestFactory().get("/"))
        for key, period in periods.items():
            out[key, "bottlenecks"] = selectors.bottlenecks(team=team, period=period)
            out[key, "regressions"] = selectors.regressions(team=team, period=period)
            out[key, "recommendations"] = selectors.recommendations(team=team, period=period)
            out[key, "choices"] = selectors.filter_choices(team=team, period=period)
            out[key, "agent"] = selectors.agent_detail(team=team, name="coder", period=period)
    return out


FILTERS = ((), (("agent", "coder"),), (("model", "gpt-4o"),))


def test_pages_from_hour_blocks_equal_the_hourly_rollups(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    assert not HourBlockRollup.objects.exists()  # ingest never builds blocks
    before = {f: _pages(team, **dict(f)) for f in FILTERS}
    assert before[()]["24h"]["totals"]["executions"] > 300

    assert services.hour_blocks_compact(now=now) >= 60
    blocks = HourBlockRollup.objects.filter(team=team, total=True)
    assert {b.hours for b in blocks} == {1, 2, 4, 8, 16}
    assert all(b.hour.timestamp() % (3600 * b.hours) == 0 for b in blocks)  # aligned on their length
    assert not blocks.filter(hour__gte=now - dt.timedelta(minutes=15) - HOUR).exists()  # open or settling hours
    assert {f: _pages(team, **dict(f)) for f in FILTERS} == before
    assert services.hour_blocks_compact(now=now) == 0  # idempotent


def test_a_window_edge_halfway_through_a_block_reads_the_rest_from_the_rollups(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    base = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=60)
    windows = [
        (base + k * HOUR, base + (k + n) * HOUR) for k, n in ((0, 24), (3, 5), (5, 30), (7, 41), (11, 1), (45, 16))
    ]
    groupings = ((), ("agent",), ("agent", "model"), ("agent", "version"), ("model",))

    def reads():
        return {
            (lo, hi, group_by): rollup_rows(team=team, start=lo, end=hi, group_by=group_by)
            for lo, hi in windows
            for group_by in groupings
        }

    expected = reads()
    services.hour_blocks_compact(now=now)
    # Each window starts or ends inside a block of 16 (or 8, 4 ...) hours: those blocks are not read.
    assert any(
        b.hour < lo < b.hour + b.hours * HOUR or b.hour < hi < b.hour + b.hours * HOUR
        for b in HourBlockRollup.objects.filter(team=team, total=True, hours=16)
        for lo, hi in windows
    )
    for (lo, hi, group_by), rows in expected.items():
        served = block_rows(team=team, start=lo, end=hi, group_by=group_by)
        assert sorted(served, key=lambda r: [r[k] for k in group_by]) == sorted(
            rows, key=lambda r: [r[k] for k in group_by]
        )


def test_late_events_remove_the_blocks_of_their_hours_until_compacted_again(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    services.hour_blocks_compact(now=now)
    this_hour = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
    late_hours = [this_hour - 5 * HOUR, this_hour - 30 * HOUR]
    holding = {
        b.pk
        for b in HourBlockRollup.objects.filter(team=team)
        if any(b.hour <= hour < b.hour + b.hours * HOUR for hour in late_hours)
    }
    assert {b.hours for b in HourBlockRollup.objects.filter(pk__in=holding)} == {1, 2, 4, 8, 16}
    untouched = set(HourBlockRollup.objects.values_list("pk", flat=True)) - holding
    period = selectors.time_range("7d")
    executions = selectors.dashboard(team=team, period=period)["totals"]["executions"]

    late = {"agent": "latecomer", "model": "gpt-4o", "duration_ms": 5000.0}
    ingest(
        team, [late | {"id": f"late-{h:%H}", "started_at": f"{h + 30 * MINUTE:%Y-%m-%dT%H:%M:%SZ}"} for h in late_hours]
    )

    # Every block holding one of those hours is gone; the others (and the other team's) stay.
    assert set(HourBlockRollup.objects.values_list("pk", flat=True)) == untouched
    late_figures = selectors.dashboard(team=team, period=period)
    assert late_figures["totals"]["executions"] == executions + 2
    assert "latecomer" in [a["agent"] for a in late_figures["agents"]]
    assert services.hour_blocks_compact(now=now) == len(late_hours)
    assert late_figures == selectors.dashboard(team=team, period=period)


def test_deleting_executions_and_rebuilding_keep_hour_blocks_exact(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    services.hour_blocks_compact(now=now)
    period = selectors.time_range("24h")
    total = selectors.dashboard(team=team, period=period)["totals"]["executions"]
    victims = Execution.objects.filter(
        team=team, agent_name="coder", started_at__gte=period.start, started_at__lt=now - dt.timedelta(hours=3)
    )
    removed = victims.count()
    assert removed > 0
    executions_delete(executions=victims)
    data = selectors.dashboard(team=team, period=period)
    assert data["totals"]["executions"] == total - removed
    HourBlockRollup.objects.all().delete()
    assert selectors.dashboard(team=team, period=period) == data  # the rollups alone agree

    services.rollups_rebuild(start=now - dt.timedelta(days=4), end=now, team=team)
    assert HourBlockRollup.objects.filter(team=team, total=True, hours=16).exists()  # the rebuild compacts
    assert selectors.dashboard(team=team, period=period) == data


def test_version_regressions_keep_the_hour_a_version_appeared_inside_a_block(team, ingest, now):
    period = selectors.time_range("7d", now=now)
    # Both versions appear in the last day, inside the same 16-hour block, 1.1 five hours later.
    when = now.astimezone(dt.UTC).replace(minute=40, second=0, microsecond=0) - dt.timedelta(hours=14)
    ingest(team, runs("v10", agent="coder", n=60, when=when, version="1.0", duration=1000))
    ingest(
        team,
        runs("v11", agent="coder", n=60, when=when + 5 * HOUR, version="1.1", duration=2500, error_rate=0.2),
    )
    before = selectors.regressions(team=team, period=period)
    assert [(r["version_after"], r["released_at"]) for r in before if r["kind"] == "version"] == [
        ("1.1", when.replace(minute=0) + 5 * HOUR)
    ]
    services.hour_blocks_compact(now=now)
    assert HourBlockRollup.objects.filter(team=team, hours__gt=2, version="1.1").exists()
    assert selectors.regressions(team=team, period=period) == before


@pytest.mark.django_db(transaction=True)
def test_a_late_write_racing_a_compaction_never_leaves_a_stale_block(team, ingest, now, event_factory):
    from django.db import connection, transaction

    from observability.blocks import HOURS, _compact

    hour = now.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0) - 3 * HOUR
    ingest(team, [event_factory(id="on-time", started_at=(hour + 10 * MINUTE).isoformat())])
    late = [event_factory(id="late", started_at=(hour + 20 * MINUTE).isoformat())]
    done = threading.Event()

    def write_late():
        try:
            ingest(team, late)  # its trigger waits for the compaction's lock on that hour
        finally:
            done.set()
            connection.close()

    # The compaction reads the hour first: the late write waits for it to commit, then deletes the block.
    with transaction.atomic():
        assert _compact(HOURS, [(team.pk, hour)]) == 1
        writer = threading.Thread(target=write_late)
        writer.start()
        assert not done.wait(1.0)
    writer.join(10)
    assert done.is_set()
    assert not HourBlockRollup.objects.filter(team=team, hour=hour).exists()

    # The late write holds the hour first: the compaction leaves it for the next run.
    services.hour_blocks_compact(now=now)
    holder = threading.Event()
    release = threading.Event()

    def hold_the_hour():
        try:
            with transaction.atomic():
                ingest(team, [event_factory(id="later", started_at=(hour + 30 * MINUTE).isoformat())])
                holder.set()
                release.wait(10)
        finally:
            connection.close()

    writer = threading.Thread(target=hold_the_hour)
    writer.start()
    assert holder.wait(10)
    assert _compact(HOURS, [(team.pk, hour)]) == 0
    release.set()
    writer.join(10)
    period = selectors.time_range("24h")
    assert selectors.dashboard(team=team, period=period)["totals"]["executions"] == 3
    services.hour_blocks_compact(now=now)
    assert HourBlockRollup.objects.filter(team=team, hour=hour, total=True, hours=1).get().executions == 3
