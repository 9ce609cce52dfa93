"""Block sums kept per process (observability.selectors.block_sums): the analysis pages take the
sums of the blocks they cover from the process's cache when their statement finds the instances
kept, and show the same figures as a read of every row in one statement; a late event shows at
once, before and after its blocks are built again at the same places; sums kept for other
instances are never read."""

import datetime as dt
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from observability import selectors, services
from observability.selectors import analysis, block_sums, version_reads
from observability.selectors.rollup_reads import metrics
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


def _every_row(team, previous, before_read, read):
    return version_reads._groups_in_one_statement(before_read, read, previous_agents=True), None


def _in_one_statement(team, period):
    with mock.patch.object(version_reads, "_groups_with_kept_blocks", _every_row):
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
    assert len(block_sums.CACHE) == 1
    assert first["previous_memo"] is None and second["previous_memo"] is not None  # a miss, then a hit
    assert len(warm) == len(cold)  # one statement either way: the comparison is made in it
    expected = _in_one_statement(team, period)
    assert _same(first, expected) and _same(second, expected)
    assert all(type(row["hist"]) is list for row in [*second["current"].values(), *second["versions"]])
    assert expected["current"]["coder"]["executions"] > 0 and expected["previous"]["coder"]["executions"] > 0
    # The pages built on it, as a whole, from kept sums and from one statement over every row.
    pages = (selectors.bottlenecks(team=team, period=period), selectors.regressions(team=team, period=period))
    with mock.patch.object(version_reads, "_groups_with_kept_blocks", _every_row):
        assert pages == (
            selectors.bottlenecks(team=team, period=period),
            selectors.regressions(team=team, period=period),
        )


@pytest.mark.parametrize("key", ["24h", "7d"])
def test_a_late_event_shows_at_once_and_after_its_blocks_are_built_again(team, other_team, ingest, now, key):
    """A late event in the previous period, whose blocks' sums are kept: it deletes the windows
    holding its hour, so the next read is a miss; built again, they are the same windows (start
    and length) but other instances, so a miss again, never the sums kept before."""
    _built(team, other_team, ingest, now)
    period = selectors.time_range(key, now=now)
    previous = period.previous()
    before = _compared(team, period)
    assert "latecomer" not in before["previous"] and block_sums.CACHE.get(_key(team, period))
    kept_before = block_sums.CACHE.get(_key(team, period))

    _late(ingest, team, previous.start + 3 * HOUR + dt.timedelta(minutes=10))
    late = _compared(team, period)
    assert late["previous"]["latecomer"]["executions"] == 1
    assert _same(late, _in_one_statement(team, period))
    # A hit on the blocks left, the late hour read from its rollup rows: nothing computed from the
    # kept sums alone is reused (``previous_memo``).
    again = _compared(team, period)
    assert again["previous_memo"] is None and again["previous"]["latecomer"]["executions"] == 1
    assert analysis.compared(team, period)["previous_figures"]["latecomer"]["executions"] == 1

    services.hour_blocks_compact(now=now)
    services.day_blocks_compact(now=now)
    assert window_blocks_build(now=now) >= 1
    rebuilt = _compared(team, period)
    assert rebuilt["previous"]["latecomer"]["executions"] == 1
    assert _same(rebuilt, _in_one_statement(team, period))
    kept = block_sums.CACHE.get(_key(team, period))
    assert len(kept.instances) == len(kept_before.instances) and kept.instances != kept_before.instances  # rebuilt


def instance(table, id_, xmin):
    return f"{table}:{id_}:{xmin}"  # as block_sums.known_ctes names a block


def _key(team, period):
    previous = period.previous()
    return ("periods_compared", team.pk, previous.start, previous.end)


@pytest.mark.parametrize("wrong", ["id", "xmin", "table", "one fewer"])
def test_kept_sums_of_other_instances_are_never_used(team, other_team, ingest, now, wrong):
    """The statement compares the instances it covers with the kept ones: sums kept for other
    instances (another id, the same id from another transaction, the same id and transaction in
    the other block table, a block fewer) are not read, and the statement's own sums replace
    them."""
    _built(team, other_team, ingest, now)
    period = selectors.time_range("7d", now=now)
    expected = _compared(team, period)
    kept = block_sums.CACHE.get(_key(team, period))
    assert kept is not None and len(kept.instances) >= 2
    bogus = tuple((*g[:-1], {**g[-1], "executions": 10**9}) for g in kept.groups)
    table, id_, xmin = kept.instances[0].split(":")
    other = {
        "id": instance(table, int(id_) + 10**6, int(xmin)),
        "xmin": instance(table, int(id_), int(xmin) + 1),
        "table": instance(
            "observability_hourblockrollup" if "day" in table else "observability_dayblockrollup", int(id_), int(xmin)
        ),
    }
    instances = kept.instances[1:] if wrong == "one fewer" else sorted([other[wrong], *kept.instances[1:]])
    block_sums.CACHE.put(_key(team, period), block_sums.Kept(instances=instances, groups=bogus))

    assert _same(_compared(team, period), expected)
    assert block_sums.CACHE.get(_key(team, period)).instances == kept.instances  # kept again, as read
    # The control: the same bogus sums under the right instances are read (so the test can fail).
    block_sums.CACHE.put(_key(team, period), block_sums.Kept(instances=kept.instances, groups=bogus))
    assert _compared(team, period)["previous"]["coder"]["executions"] >= 10**9


def test_the_previous_period_s_figures_are_kept_with_its_sums(team, other_team, ingest, now):
    _built(team, other_team, ingest, now)
    period = selectors.time_range("7d", now=now)
    first = analysis.compared(team, period)
    assert first["previous_memo"] is None  # a miss: summed by the statement
    second = analysis.compared(team, period)
    assert second["previous_memo"] is not None
    assert second["previous_figures"] is second["previous_memo"]["figures"]
    assert second["previous_figures"] == {name: metrics(row) for name, row in second["previous"].items()}
    assert second["previous_figures"] == first["previous_figures"]
    assert analysis.compared(team, period)["previous_figures"] is second["previous_figures"]


def test_a_read_that_sums_few_previous_histograms_keeps_nothing(team, other_team, ingest, now):
    """The recommendations read the previous period's histograms of the agents whose versions are
    compared only (``previous_agents=False``): one statement, as before, nothing kept."""
    _built(team, other_team, ingest, now)
    period = selectors.time_range("7d", now=now)
    found = version_reads.periods_compared(team=team, period=period, previous=period.previous(), previous_agents=False)
    assert found["current"] and found["previous_memo"] is None and len(block_sums.CACHE) == 0
    assert selectors.recommendations(team=team, period=period) is not None and len(block_sums.CACHE) == 0


def test_a_hit_and_a_miss_run_one_prepared_statement(team, other_team, ingest, now, settings):
    """The kept instances travel as array literals: the same parameter types whatever is kept, so
    hits and misses share one prepared statement and its plans (lists would bind as smallint[],
    integer[] or bigint[] by their values, and nothing kept as NULL: a statement apiece, each
    planned anew for its first runs)."""
    if settings.DB_PREPARE_THRESHOLD is None:
        pytest.skip("statements are not prepared (CRUCIBLE_DB_PREPARE_THRESHOLD=off)")
    _built(team, other_team, ingest, now)
    period = selectors.time_range("7d", now=now)
    for run in range(4 * max(settings.DB_PREPARE_THRESHOLD, 1)):  # a miss, a hit, a miss ...: each past the threshold
        if run % 2 == 0:
            block_sums.CACHE.clear()
        _compared(team, period)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%known AS (%"])
        assert cursor.fetchone()[0] == 1


def test_the_cache_keeps_the_most_recently_used_entries():
    cache = block_sums.InstanceCache(2, weight=100)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)


def test_the_cache_keeps_at_most_its_weight():
    """A team with thousands of agents: entries are bounded by the groups they hold too."""
    cache = block_sums.InstanceCache(10, weight=100)
    cache.put("a", "A", weight=60)
    cache.put("b", "B", weight=30)
    cache.put("c", "C", weight=30)  # 120 > 100: the least recent out
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (None, "B", "C")
    cache.put("huge", "H", weight=101)  # heavier than the whole bound: not kept, nothing evicted
    assert cache.get("huge") is None and len(cache) == 2
    cache.put("b", "B2", weight=80)  # replacing an entry counts its new weight only
    assert (cache.get("b"), cache.get("c")) == ("B2", None) and len(cache) == 1
