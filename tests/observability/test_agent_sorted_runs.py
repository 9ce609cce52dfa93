"""One agent's runs sorted by duration or cost, pages and API (issue 16). The per-agent index holds
the duration, the cost and the id beside its keys, so the page's ids are read from it alone and
then the page's rows by primary key (``crucible.querysets.DeferredRowsQuerySet``): on 10 million
executions the agent's 49,000 runs were fetched from the table and sorted for each page (0.4-1.5
s). The lists must give exactly the rows and order of a plain sort: each page, its ties, the
unpriced runs last, the other filters, and never another team's runs of an agent of that name."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crucible.querysets import DeferredRowsQuerySet
from observability.filters import ExecutionFilterSet
from observability.models import Execution
from observability.rollups import rollups_rebuild
from observability.views import ExecutionListView

pytestmark = pytest.mark.django_db
API = "/api/v1/observability/executions/"
PAGE = "/observability/executions/"

_INSERT = (
    "INSERT INTO observability_execution (team_id, client_id, agent_name, version, model, operation, source,"
    " trace_id, span_id, started_at, duration_ms, status, error_type, error_message, input_tokens,"
    " output_tokens, cached_input_tokens, reasoning_tokens, cost, cost_source, received_at)"
    " SELECT %(team)s, %(prefix)s || g, %(agent)s, '', 'gpt', '', 'api', '', '', now() - g * %(step)s::interval,"
    # durations with ties (17 values), a cost with ties and a seventh of the runs unpriced
    " (g %% 17) * 10, CASE WHEN g %% 4 = 0 THEN 'error' ELSE 'success' END,"
    " CASE WHEN g %% 4 = 0 THEN 'Timeout' ELSE '' END, '', 0, 0, 0, 0,"
    " CASE WHEN g %% 7 = 0 THEN NULL ELSE (g %% 5) * 0.01 END, 'none', now()"
    " FROM generate_series(1, %(runs)s) AS g"
)


@pytest.fixture
def runs(team, other_team):
    """70 runs of agent "coder" over 70 days (several monthly partitions), 30 of "writer", and 40
    of another team's "coder"."""
    with connection.cursor() as cursor:
        for owner, agent, count in ((team, "coder", 70), (team, "writer", 30), (other_team, "coder", 40)):
            cursor.execute(
                _INSERT,
                {"team": owner.pk, "prefix": f"{owner.pk}-{agent}-", "agent": agent, "runs": count, "step": "1 day"},
            )
    return team


def _expected(team, *, key, **filters) -> list[int]:
    """The ids of the team's runs matching ``filters`` in the order ``key`` gives, sorted here."""
    rows = Execution.objects.filter(team=team, **filters).values("pk", "duration_ms", "cost", "started_at")
    return [row["pk"] for row in sorted(rows, key=key)]


def slowest(row):
    return (-row["duration_ms"], -row["pk"])


def quickest(row):
    return (row["duration_ms"], row["pk"])


def costliest(row):
    # an unpriced run sorts below every price: last when descending (crucible.lists.ordering_terms)
    return (row["cost"] is None, -(row["cost"] or 0), -row["pk"])


def _api_walk(client, url: str) -> list[int]:
    ids, seen = [], 0
    while url:
        body = client.get(url).json()
        ids += [row["id"] for row in body["results"]]
        url, seen = body["next"], seen + 1
        assert seen < 50
    return ids


@pytest.mark.parametrize(
    ("ordering", "key"), [("-duration_ms", slowest), ("duration_ms", quickest)], ids=["slowest", "quickest"]
)
def test_the_api_walks_an_agents_runs_by_duration_page_by_page(runs, member_client, ordering, key):
    ids = _api_walk(member_client, f"{API}?agent=coder&ordering={ordering}&page_size=8")
    assert ids == _expected(runs, key=key, agent_name="coder")
    assert len(ids) == 70


@pytest.mark.parametrize(("ordering", "key"), [("-duration", slowest), ("duration", quickest), ("-cost", costliest)])
def test_the_page_shows_an_agents_runs_by_duration_or_cost(runs, member_client, ordering, key):
    expected = _expected(runs, key=key, agent_name="coder")
    first = member_client.get(PAGE, {"agent": "coder", "ordering": ordering})
    second = member_client.get(PAGE, {"agent": "coder", "ordering": ordering, "page": 2})
    shown = [e.pk for e in first.context["listing"].items] + [e.pk for e in second.context["listing"].items]
    assert shown == expected
    assert first.context["listing"].next_url and not second.context["listing"].next_url


@pytest.mark.parametrize(
    ("filters", "narrowed"),
    [
        ({"min_duration_ms": "80"}, {"duration_ms__gte": 80}),
        ({"unpriced": "false"}, {"cost__isnull": False}),
        ({"status": "error"}, {"status": "error"}),
    ],
    ids=["least duration", "priced", "status"],
)
def test_the_other_filters_narrow_the_agents_sorted_runs(runs, member_client, filters, narrowed):
    response = member_client.get(PAGE, {"agent": "coder", "ordering": "-duration", **filters})
    shown = [e.pk for e in response.context["listing"].items]
    assert shown == _expected(runs, key=slowest, agent_name="coder", **narrowed)[:50]
    assert shown


def test_another_teams_runs_of_an_agent_of_that_name_never_show(runs, member_client, other_team):
    theirs = set(Execution.objects.filter(team=other_team).values_list("pk", flat=True))
    ids = _api_walk(member_client, f"{API}?agent=coder&ordering=-duration_ms&page_size=100")
    assert ids and not theirs & set(ids)


def _page_query(client, url: str) -> str:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    reads = [q["sql"] for q in queries.captured_queries if 'FROM "observability_execution"' in q["sql"]]
    assert len(reads) == 1, reads
    return reads[0]


@pytest.mark.parametrize("query", ["ordering=-duration", "ordering=cost", "status=error&ordering=-duration"])
def test_the_agents_sorted_page_reads_its_ids_then_its_rows(runs, member_client, query):
    """The page's ids come from the per-agent index, cut at the page (51 rows: one more than shown
    tells whether there is a next page), and only those rows are read from the table. The index
    holds the status (migration 0026): an agent's failed runs, slowest first, read every run of
    the agent before (0.4-0.5 s at 49,700 runs, a 503 on a cold cache)."""
    sql = _page_query(member_client, f"{PAGE}?agent=coder&{query}")
    assert re.search(r'"observability_execution"\."id" IN \(SELECT .* LIMIT 51\)', sql), sql
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef('execution_team_agent_started'::regclass)")
        definition = cursor.fetchone()[0]
    assert "(team_id, agent_name, started_at) INCLUDE (duration_ms, cost, id, agent_id, status)" in definition


def test_the_agent_page_reads_the_days_slowest_runs_in_two_steps(runs, member_client):
    """The agent page's ten slowest runs of the last day: their ids from the per-agent index, then
    ten rows; the same runs as a plain sort."""
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT, {"team": runs.pk, "prefix": "today-", "agent": "coder", "runs": 30, "step": "10 minutes"}
        )
    rollups_rebuild(start=timezone.now() - dt.timedelta(days=80), end=timezone.now(), team=runs)
    with CaptureQueriesContext(connection) as queries:
        response = member_client.get("/observability/agents/coder/", {"range": "24h"})
    assert response.status_code == 200
    reads = [
        q["sql"]
        for q in queries.captured_queries
        if 'duration_ms" DESC' in q["sql"] and "observability_execution" in q["sql"]
    ]
    assert len(reads) == 1 and re.search(r'"id" IN \(SELECT .* LIMIT 10\)', reads[0]), reads
    data = response.context["data"]
    recent = Execution.objects.filter(team=runs, agent_name="coder", started_at__gte=data["slowest_since"])
    slowest = sorted(recent, key=lambda e: -e.duration_ms)[:10]
    shown = data["slowest_recent"]
    assert [row["duration_ms"] for row in shown] == [e.duration_ms for e in slowest]
    assert {row["id"] for row in shown} <= {e.pk for e in recent}


@pytest.mark.parametrize(
    "url",
    [
        f"{PAGE}?agent=coder&ordering=-started",  # the index's own order: read in it
        f"{PAGE}?agent=coder&model=m&ordering=-duration",  # needs each row to check
        f"{PAGE}?ordering=-duration",  # the team-wide sort index
    ],
)
def test_other_lists_read_in_one_step(runs, member_client, url):
    sql = _page_query(member_client, url)
    assert not re.search(r'"id" IN \(SELECT', sql), sql


def test_only_a_slice_is_read_in_two_steps(runs):
    """An export reads the whole sorted list in one statement; one row by position as before."""
    queryset = ExecutionFilterSet({"agent": "coder"}, queryset=Execution.objects.filter(team=runs)).qs
    ordered = ExecutionListView().order(queryset, "-duration")
    assert isinstance(ordered, DeferredRowsQuerySet)
    expected = _expected(runs, key=slowest, agent_name="coder")
    assert "IN (SELECT" not in str(ordered.query) and "IN (SELECT" in str(ordered[10:20].query)
    assert [e.pk for e in ordered.all()] == expected
    assert ordered.all()[3].pk == expected[3]
    assert [e.pk for e in ordered.all()[10:20]] == expected[10:20]
