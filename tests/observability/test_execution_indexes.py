"""The span table's indexes serve its reads. The trace index (a partial hash index, migration
0014) serves every read by trace id, whatever the number of trace ids asked at once: span ingest's stored-span read names every
trace of its batch, and the planner proves the index's predicate (trace_id <> '') from an array of
at most 100 ids, so the query says it itself (issue 16, docs/observability.md "Index cost"). The
executions list, page and API, sorted by start, duration or cost in either direction, reads an
index in that order and stops at the page: no sort of all the team's executions, which passed the
statement timeout at 10 million (docs/observability.md "Sorting by duration or cost"). The list
narrowed by an error type reads the failed runs' index of that type, the unpriced runs the cost
index."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from observability.filters import ExecutionFilterSet
from observability.ingest.spans import STORED_SQL
from observability.models import Execution
from observability.views import ExecutionListView

pytestmark = pytest.mark.django_db
MANY = 150  # the planner proves a partial index's predicate from an array of at most 100 elements


@pytest.fixture
def spans(team):
    """20,000 spans of 2,000 traces, analysed: enough for the planner to prefer an index probe per
    trace id to reading all the team's spans. ANALYZE writes a partition's size into pg_class in
    place, past the test's rollback: only the partitions holding these rows are analysed, and
    analysed again empty at the end (retention tests read the other partitions' estimates)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO observability_execution (team_id, client_id, agent_name, version, model, operation, source,"
            " trace_id, span_id, started_at, duration_ms, status, error_type, error_message, input_tokens,"
            " output_tokens, cached_input_tokens, reasoning_tokens, cost_source, received_at)"
            " SELECT %s, 'c' || g, 'agent', '', '', '', 'api', lpad(to_hex(g / 10), 32, '0'), lpad(to_hex(g), 16, '0'),"
            " now() - g * interval '10 ms', 1, 'success', '', '', 0, 0, 0, 0, 'none', now()"
            " FROM generate_series(1, 20000) AS g",
            [team.pk],
        )
        cursor.execute(
            "SELECT DISTINCT tableoid::regclass::text FROM observability_execution WHERE team_id = %s", [team.pk]
        )
        holding = [row[0] for row in cursor.fetchall()]
        for partition in holding:
            cursor.execute(f'ANALYZE "{partition}"')
    yield team
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM observability_execution WHERE team_id = %s", [team.pk])
        for partition in holding:
            cursor.execute(f'ANALYZE "{partition}"')


def _plan(sql: str, params=None, *, sorting: bool = True) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"SET LOCAL enable_sort = {'on' if sorting else 'off'}")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _reads(plan: str, index: str) -> bool:
    """Whether ``plan`` scans a partition of the partitioned index ``index``."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [index],
        )
        partitions = {row[0] for row in cursor.fetchall()}
    used = set(re.findall(r"(?:Bitmap Index|Index Only|Index) Scan (?:Backward )?(?:using|on) (\S+)", plan))
    return bool(used & partitions)


def test_the_trace_index_is_a_partial_hash_index():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef('execution_trace_hash'::regclass)")
        definition = cursor.fetchone()[0]
    assert "USING hash (trace_id)" in definition and "WHERE" in definition, definition


@pytest.mark.parametrize("traces", [3, MANY])
def test_span_ingest_reads_the_stored_spans_of_its_traces_by_the_index(spans, traces):
    named = [f"{n:032x}" for n in range(100, 100 + traces)]
    plan = _plan(STORED_SQL, {"team_id": spans.pk, "traces": named, "ids": ["c5", "c6"]})
    assert _reads(plan, "execution_trace_hash") and "Seq Scan" not in plan


def test_the_trace_tree_reads_its_spans_by_the_index(spans):
    queryset = Execution.objects.filter(team_id=spans.pk, trace_id=f"{100:032x}").order_by("started_at", "id")
    assert _reads(_plan(*queryset.query.sql_with_params()), "execution_trace_hash")


def _listing_query(client, url: str) -> str:
    """The SQL of the one query of ``url`` that reads executions in an order."""
    return _ordered_read(client, url, "observability_execution")[0]


def _ordered_read(client, url: str, table: str):
    """The SQL of the one query of ``url`` that reads ``table`` in an order, and the response."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    reads = [
        query["sql"]
        for query in queries.captured_queries
        if f'FROM "{table}"' in query["sql"] and "ORDER BY" in query["sql"]
    ]
    assert len(reads) == 1, reads
    return reads[0], response


def _full_sorts(plan: str) -> list[str]:
    """The plan's Sort nodes (an Incremental Sort only orders ties within what an index gave)."""
    return re.findall(r"^\s*(?:->\s*)?Sort\s+\(.*$", plan, flags=re.MULTILINE)


SORTS = ["started", "-started", "duration", "-duration", "cost", "-cost"]


@pytest.mark.parametrize("ordering", SORTS)
def test_the_executions_page_reads_each_sort_from_an_index(spans, client_for, member, ordering):
    sql = _listing_query(client_for(member), f"/observability/executions/?ordering={ordering}")
    plan = _plan(sql, sorting=False)
    assert not _full_sorts(plan), plan


@pytest.mark.parametrize("ordering", ["started_at", "-started_at", "duration_ms", "-duration_ms"])
def test_the_executions_api_reads_each_sort_from_an_index(spans, client_for, member, ordering):
    sql = _listing_query(client_for(member), f"/api/v1/observability/executions/?ordering={ordering}")
    plan = _plan(sql, sorting=False)
    assert not _full_sorts(plan), plan


@pytest.mark.parametrize("ordering", ["-duration", "cost"])
def test_a_list_narrowed_to_an_agent_reads_the_agents_rows_not_the_sort_index(spans, client_for, member, ordering):
    """One agent's slowest runs are not spread evenly over the team's: walking the team-wide sort
    index for them passed most of the team's executions (0.8 s became 3.4-8 s on 10 million)."""
    index = "execution_team_duration" if "duration" in ordering else "execution_team_cost"
    client = client_for(member)
    plan = _plan(_listing_query(client, f"/observability/executions/?ordering={ordering}&agent=agent"))
    assert not _reads(plan, index), plan
    plan = _plan(_listing_query(client, f"/observability/executions/?ordering={ordering}&status=success"))
    assert _reads(plan, index), plan


def test_a_prepared_statements_generic_plan_still_reads_the_sort_index(spans):
    """Parameters are bound server-side and a statement run often is prepared: its generic plan
    knows no parameter value, so the condition that opens the partial index is SQL text."""
    plan = _generic_plan(spans, {}, "-duration")
    assert _reads(plan, "execution_team_duration") and not _full_sorts(plan), plan


def _generic_plan(team, filters: dict, ordering: str, *, sorting: bool = False) -> str:
    """The plan of the executions page's query as a prepared statement's generic plan (no
    parameter value known), with scans (and unless ``sorting``, sorts) discouraged as in ``_plan``."""
    queryset = ExecutionFilterSet(filters, queryset=Execution.objects.filter(team_id=team.pk)).qs
    queryset = ExecutionListView().order(queryset, ordering)[:51]
    sql, params = queryset.query.sql_with_params()
    numbered = iter(range(1, len(params) + 1))
    generic = re.sub(r"%s", lambda _: f"${next(numbered)}", sql)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"SET LOCAL enable_sort = {'on' if sorting else 'off'}")
        cursor.execute("EXPLAIN (GENERIC_PLAN) " + generic)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize(
    ("narrowed", "reads_the_sort_index"), [("model=gpt", True), ("version=1.0", True), ("error_type=Timeout", False)]
)
def test_a_list_narrowed_by_a_model_or_version_can_read_the_sort_index(
    spans, client_for, member, narrowed, reads_the_sort_index
):
    """Neither a model nor a version has an index of its own: without the sort index their list
    read every execution of the team and sorted them (2-3.4 s on 10 million). An error type's runs
    have durations of their own (timeouts), so its list reads its rows and sorts them."""
    sql = _listing_query(client_for(member), f"/observability/executions/?ordering=-duration&{narrowed}")
    plan = _plan(sql, sorting=False)
    assert (_reads(plan, "execution_team_duration") and not _full_sorts(plan)) is reads_the_sort_index, plan


@pytest.mark.parametrize("ordering", ["", "&ordering=-duration", "&ordering=started"])
@pytest.mark.parametrize("path", ["/observability/executions/", "/api/v1/observability/executions/"])
def test_a_list_narrowed_by_an_error_type_reads_the_failed_runs_index(spans, client_for, member, path, ordering):
    """Without an index on the type, the newest-first walk checked every run of the team for it: a
    type few runs have answered 503 on 10 million executions, one none has read them all."""
    ordering = (
        ordering.replace("duration", "duration_ms").replace("started", "started_at") if "api" in path else ordering
    )
    plan = _plan(_listing_query(client_for(member), f"{path}?error_type=Timeout{ordering}"))
    assert _reads(plan, "execution_team_error_type"), plan


def test_a_prepared_statements_generic_plan_still_reads_the_failed_runs_index(spans):
    """The type is bound as a parameter: a generic plan proves the partial index's condition only
    from the condition stated as SQL text."""
    plan = _generic_plan(spans, {"error_type": "Timeout"}, "-started")
    assert _reads(plan, "execution_team_error_type"), plan


@pytest.mark.parametrize("ordering", ["", "&ordering=-duration"])
def test_the_unpriced_runs_are_read_from_the_cost_index(spans, client_for, member, ordering):
    """The cost index sorts the unpriced runs first: the list of them reads them there, not every
    run of the team (2 s on 10 million when the team has none)."""
    with connection.cursor() as cursor:
        cursor.execute("UPDATE observability_execution SET cost = 0.01 WHERE team_id = %s", [spans.pk])
        cursor.execute(
            "SELECT DISTINCT tableoid::regclass::text FROM observability_execution WHERE team_id = %s", [spans.pk]
        )
        for (partition,) in cursor.fetchall():
            cursor.execute(f'ANALYZE "{partition}"')
    plan = _plan(_listing_query(client_for(member), f"/observability/executions/?unpriced=true{ordering}"))
    assert _reads(plan, "execution_team_cost"), plan


ABSENT_VALUES = ["model=no-such-model", "version=9.9.9", "source=otlp"]


@pytest.mark.parametrize("ordering", ["", "&ordering=-duration"])
@pytest.mark.parametrize("narrowed", ABSENT_VALUES)
@pytest.mark.parametrize("path", ["/observability/executions/", "/api/v1/observability/executions/"])
def test_a_list_narrowed_by_a_value_no_run_has_reads_the_bloom_index(
    spans, client_for, member, path, narrowed, ordering
):
    """A model, a version or a source has no btree: the list walked the team's runs checking each,
    past every one of them for a value none has (1.1-1.7 s on 10 million). The bloom index tells
    which block ranges may hold the value (migration 0027)."""
    ordering = ordering.replace("duration", "duration_ms") if "api" in path else ordering
    plan = _plan(_listing_query(client_for(member), f"{path}?{narrowed}{ordering}"))
    assert _reads(plan, "execution_values_bloom"), plan


@pytest.mark.parametrize("narrowed", ABSENT_VALUES)
def test_a_prepared_statements_generic_plan_still_reads_the_bloom_index(spans, narrowed):
    """The value is SQL text (observability.models.execution_value): bound as a parameter, the
    generic plan a connection keeps after six runs assumed a common value and walked the team's
    runs whatever the value."""
    field, value = narrowed.split("=")
    plan = _generic_plan(spans, {field: value}, "-started", sorting=True)
    assert _reads(plan, "execution_values_bloom"), plan


@pytest.mark.parametrize("value", ["it's-rare", "100%-model", "a\\b"])
def test_a_value_stated_as_sql_text_finds_exactly_its_runs(spans, client_for, member, value):
    """Quotes, percent signs and backslashes in a model name reach the SQL text quoted."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE observability_execution SET model = %s WHERE team_id = %s AND client_id IN ('c7', 'c8', 'c9')",
            [value, spans.pk],
        )
    response = client_for(member).get("/api/v1/observability/executions/", {"model": value, "page_size": 50})
    assert response.status_code == 200, response.content[:300]
    assert sorted(run["client_id"] for run in response.json()["results"]) == ["c7", "c8", "c9"]
