"""Block sums kept per process (observability.selectors.block_sums): the analysis pages take the
sums of the blocks they cover from the process's cache, keyed by the blocks' instances, and show
the same figures as a read of everything in one statement; a late event shows at once, before and
after its blocks are built again; a block gone between the two statements is never summed."""

import datetime as dt
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from observability import selectors, services
from observability.selectors import block_sums, version_reads
from observability.selectors.block_reads import with_blocks
from observability.windows import window_blocks_build

from .test_window_blocks import _seed

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)


@pytest.fixture(autouse=True)
def cold_cache():
    block_sums.CACHE.clear()
    yield
    block_sums.CACHE.clear()


def _compared(team, period):
    return version_reads.periods_compared(team=team, period=period, previous=period.previous())


def _in_one_statement(team, period):
    with mock.patch.object(version_reads, "_groups_with_kept_blocks", return_value=None):
        return _compared(team, period)


def _same(found, expected) -> bool:
    """``periods_compared`` results alike: the same rows, versions in any order, and the same
    ``models`` as far as it is defined (an agent's one model, or at least two names of several)."""

    def models(m):
        return {agent: min(names) if len(names) == 1 else 2 for agent, names in m.items()}

    def versions(v):
        return sorted(v, key=lambda r: (r["agent"], r["version"]))

    return (
        found["current"] == expected["current"]
        and found["previous"] == expected["previous"]
        and versions(found["versions"]) == versions(expected["versions"])
        and models(found["models"]) == models(expected["models"])
    )


def _built(team, other_team, ingest, now):
    _seed(team, other_team, ingest, now)
    assert window_blocks_build(now=now) >= 2


def _late(ingest, team, when, ident="late-1"):
    ingest(team, [{"id": ident, "agent": "latecomer", "model": "gpt-4o", "duration_ms": 5000.0,
                   "started_at": f"{when:%Y-%m-%dT%H:%M:%SZ}"}])  # fmt: skip


@pytest.mark.parametrize("key", ["24h", "7d", "30d"])
def test_kept_block_sums_give_the_figures_of_one_statement(team, other_team, ingest, now, key):
    _built(team, other_team, ingest, now)
    period = selectors.time_range(key, now=now)
    with CaptureQueriesContext(connection) as cold:
        first = _compared(team, period)
    with CaptureQueriesContext(connection) as warm:
        second = _compared(team, period)
    assert len(block_sums.CACHE._entries) == 1
    assert len(warm) == len(cold) - 1  # the blocks' sums from the cache: one statement fewer
    expected = _in_one_statement(team, period)
    assert _same(first, expected) and _same(second, expected)
    assert all(type(row["hist"]) is list for row in [*second["current"].values(), *second["versions"]])
    assert expected["current"]["coder"]["executions"] > 0
    # The pages built on it, as a whole.
    assert selectors.bottlenecks(team=team, period=period) == selectors.bottlenecks(team=team, period=period)
    with mock.patch.object(version_reads, "_groups_with_kept_blocks", return_value=None):
        assert selectors.regressions(team=team, period=period) == selectors.regressions(team=team, period=period)


def test_a_late_event_shows_at_once_and_after_its_blocks_are_built_again(team, other_team, ingest, now):
    _built(team, other_team, ingest, now)
    period = selectors.time_range("7d", now=now)
    before = _compared(team, period)
    assert "latecomer" not in before["current"]

    _late(ingest, team, period.start + 3 * HOUR + dt.timedelta(minutes=10))  # inside the head window
    late = _compared(team, period)
    assert late["current"]["latecomer"]["executions"] == 1
    assert _same(late, _in_one_statement(team, period))

    # Its hour compacted and the windows built again: the same windows (start and length) as
    # before, other instances, so the cache cannot answer with the sums it kept.
    services.hour_blocks_compact(now=now)
    assert window_blocks_build(now=now) >= 1
    rebuilt = _compared(team, period)
    assert rebuilt["current"]["latecomer"]["executions"] == 1
    assert _same(rebuilt, _in_one_statement(team, period))


def test_instances_not_places_key_the_cache(team, other_team, ingest, now):
    """A window deleted and built again at the same start and length is a miss, not a hit: the
    cover names the same blocks by place but not by instance."""
    _built(team, other_team, ingest, now)
    period = selectors.time_range("7d", now=now)
    read = with_blocks(team, period.start, period.end, name="c")
    cover_sql = f"WITH {', '.join(read.ctes)} {read.cover('true')}"
    from crucible.sql import fetch_rows

    cover = fetch_rows(cover_sql, read.params)
    _late(ingest, team, period.start + 3 * HOUR + dt.timedelta(minutes=10))
    services.hour_blocks_compact(now=now)
    window_blocks_build(now=now)
    again = fetch_rows(cover_sql, read.params)
    place = [(c["tbl"], c["start"], c["length"], c["windowed"]) for c in cover]
    assert place == [(c["tbl"], c["start"], c["length"], c["windowed"]) for c in again]
    assert block_sums.signature(team, cover) != block_sums.signature(team, again)


def test_a_block_gone_between_the_two_statements_is_never_summed(team, other_team, ingest, now):
    _built(team, other_team, ingest, now)
    period = selectors.time_range("7d", now=now)
    real = block_sums.block_sums

    def meanwhile(*args, **kwargs):
        # A late event lands after the first statement named the blocks: the trigger deletes the
        # windows holding its hour before their sums are read.
        _late(ingest, team, period.start + 3 * HOUR + dt.timedelta(minutes=10), ident="meanwhile")
        found = real(*args, **kwargs)
        assert found is None
        return found

    with mock.patch.object(version_reads, "block_sums", side_effect=meanwhile):
        raced = _compared(team, period)
    assert not block_sums.CACHE._entries  # nothing kept of a read that failed its check
    # Read again in one statement: the late event is in it, as in a fresh read.
    assert raced["current"]["latecomer"]["executions"] == 1
    assert _same(raced, _in_one_statement(team, period))


def test_the_cache_keeps_the_most_recently_used_entries():
    cache = block_sums.InstanceCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)
