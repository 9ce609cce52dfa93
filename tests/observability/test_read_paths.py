"""The faster read paths of the analysis pages give the figures the slower ones gave (issue 16).

Versions are compared from daily rows for whole days, with the hour a version was first seen read
from the hourly rows of that one day: the released hour and which version is newer must stay
exact to the hour, also when two versions first appear on the same whole day.
"""

import datetime as dt

import pytest

from observability import selectors
from observability.selectors.rollup_reads import rollup_rows

from .test_analysis import runs

pytestmark = pytest.mark.django_db


def _day(now, days_ago):
    return now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=days_ago)


def _compact(blocks, now):
    """Build the day and hour blocks (when ``blocks``): versions are then read from them."""
    if blocks:
        from observability import services

        assert services.day_blocks_compact(now=now) and services.hour_blocks_compact(now=now)


@pytest.mark.parametrize("blocks", [False, True])
def test_version_regression_names_the_hour_a_version_appeared_on_a_whole_day(team, ingest, now, blocks):
    period = selectors.time_range("7d", now=now)
    day = _day(now, 3)  # a whole day of the period: its versions come from daily rows
    # Both versions appear on the same day, 1.0 at 03:xx, 1.1 at 15:xx: only the hour orders them.
    ingest(team, runs("v10", agent="coder", n=40, when=day + dt.timedelta(hours=3, minutes=50), version="1.0"))
    ingest(
        team,
        runs("v11", agent="coder", n=40, when=day + dt.timedelta(hours=15, minutes=50), version="1.1", duration=3000),
    )
    _compact(blocks, now)
    regs = [r for r in selectors.regressions(team=team, period=period) if r["kind"] == "version"]
    assert len(regs) == 1
    assert (regs[0]["version_before"], regs[0]["version_after"]) == ("1.0", "1.1")
    assert regs[0]["released_at"] == day + dt.timedelta(hours=15)


@pytest.mark.parametrize("blocks", [False, True])
def test_the_older_of_two_versions_seen_the_same_earlier_day_is_ordered_by_hour(team, ingest, now, blocks):
    period = selectors.time_range("7d", now=now)
    before = period.start - dt.timedelta(days=2)  # a whole day of the previous period
    day = before.replace(hour=0, minute=0, second=0, microsecond=0)
    # 2.0 (seen at 20:xx) is newer than 1.9 (06:xx) on that day; 2.1 appears in the period.
    ingest(team, runs("a", agent="coder", n=30, when=day + dt.timedelta(hours=20, minutes=50), version="2.0"))
    ingest(team, runs("b", agent="coder", n=30, when=day + dt.timedelta(hours=6, minutes=50), version="1.9"))
    ingest(
        team,
        runs(
            "c",
            agent="coder",
            n=30,
            when=_day(now, 2) + dt.timedelta(hours=9, minutes=50),
            version="2.1",
            duration=5000,
        ),
    )
    # Another agent ran one version in both periods: its histograms of the previous period are
    # not read by the recommendations (nothing to compare), yet their figures are the same.
    ingest(team, runs("d", agent="reviewer", n=30, when=day + dt.timedelta(hours=5, minutes=50), version="1.0"))
    ingest(team, runs("e", agent="reviewer", n=30, when=_day(now, 1) + dt.timedelta(hours=5), version="1.0"))
    _compact(blocks, now)
    regs = [r for r in selectors.regressions(team=team, period=period) if r["kind"] == "version"]
    assert [(r["version_before"], r["version_after"]) for r in regs] == [("2.0", "2.1")]
    assert regs[0]["released_at"] == _day(now, 2) + dt.timedelta(hours=9)
    recs = selectors.recommendations(team=team, period=period)
    assert [(r["agent"], r["kind"]) for r in recs if r["kind"] == "version_regression"] == [
        ("coder", "version_regression")
    ]
    assert recs == selectors.recommendations(team=team, period=period, compared=selectors.compared(team, period))


def test_agent_page_versions_are_first_seen_to_the_hour(team, ingest, now):
    period = selectors.time_range("30d", now=now)
    day = _day(now, 5)
    ingest(team, runs("x", agent="coder", n=10, when=day + dt.timedelta(hours=7, minutes=30), version="1.0"))
    ingest(team, runs("y", agent="coder", n=10, when=day + dt.timedelta(hours=22, minutes=30), version="1.1"))
    versions = selectors.agent_detail(team=team, name="coder", period=period)["versions"]
    hourly = rollup_rows(
        team=team, start=period.start, end=period.end, agent="coder", group_by=("version",), hourly=True
    )
    assert [(v["version"], v["first_seen"]) for v in versions] == [
        ("1.0", day + dt.timedelta(hours=7)),
        ("1.1", day + dt.timedelta(hours=22)),
    ]
    # The figures are those of the hourly rows, as before.
    by_version = {r["version"]: selectors.metrics(r) for r in hourly}
    for v in versions:
        assert {key: v[key] for key in by_version[v["version"]]} == by_version[v["version"]]


def _analyses(team):
    out = {}
    for key in ("30d", "90d", "7d", "24h"):
        period = selectors.time_range(key)
        out[key] = {
            "bottlenecks": selectors.bottlenecks(team=team, period=period),
            "regressions": selectors.regressions(team=team, period=period),
            "recommendations": selectors.recommendations(team=team, period=period),
            "choices": selectors.filter_choices(team=team, period=period),
            "per_agent": {
                name: selectors.metrics(row)
                for name, row in selectors.per_agent(team, period.start, period.end).items()
            },
        }
        # The pages' one-statement read gives the same figures per agent as per_agent.
        compared = selectors.compared(team, period)
        assert {name: selectors.metrics(row) for name, row in compared["current"].items()} == out[key]["per_agent"]
        before = period.previous()
        assert {name: selectors.metrics(row) for name, row in compared["previous"].items()} == {
            name: selectors.metrics(row) for name, row in selectors.per_agent(team, before.start, before.end).items()
        }
    return out


def test_analysis_pages_read_closed_days_from_day_blocks_with_the_same_figures(team, other_team, ingest, now):
    from observability import services
    from observability.models import DayBlockRollup

    from .test_day_blocks import _seed

    _seed(team, other_team, ingest, now)
    before = _analyses(team)
    assert before["30d"]["per_agent"] and before["30d"]["choices"]["agents"]
    assert services.day_blocks_compact(now=now) >= 2 * 9
    assert DayBlockRollup.objects.filter(team=team, days__gt=1).exists()
    assert _analyses(team) == before


def test_unfiltered_dashboard_names_the_same_filter_choices(team, other_team, ingest, now, event_factory):
    from observability import services

    from .test_day_blocks import _seed

    _seed(team, other_team, ingest, now)
    ingest(team, [event_factory(model="")])  # an agent run without a model is no model choice
    for compacted in (False, True):
        if compacted:
            services.day_blocks_compact(now=now)
        for key in ("30d", "7d", "24h", "1h"):
            period = selectors.time_range(key)
            data = selectors.dashboard(team=team, period=period)
            assert selectors.filter_choices_of(data) == selectors.filter_choices(team=team, period=period), key
