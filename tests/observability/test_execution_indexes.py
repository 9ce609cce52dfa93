"""The span table's trace index (a partial hash index, migration 0014) serves every read by trace
id, whatever the number of trace ids asked at once: span ingest's stored-span read names every
trace of its batch, and the planner proves the index's predicate (trace_id <> '') from an array of
at most 100 ids, so the query says it itself (issue 16, docs/observability.md "Index cost")."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from observability.ingest.spans import STORED_SQL
from observability.models import Execution

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


def _plan(sql: str, params=None) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _trace_index_partitions() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'execution_trace_hash'::regclass"
        )
        return {row[0] for row in cursor.fetchall()}


def _uses_trace_index(plan: str) -> bool:
    used = set(re.findall(r"(?:Bitmap Index|Index) Scan (?:Backward )?(?:using|on) (\S+)", plan))
    return bool(used & _trace_index_partitions())


def test_the_trace_index_is_a_partial_hash_index():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_indexdef('execution_trace_hash'::regclass)")
        definition = cursor.fetchone()[0]
    assert "USING hash (trace_id)" in definition and "WHERE" in definition, definition


@pytest.mark.parametrize("traces", [3, MANY])
def test_span_ingest_reads_the_stored_spans_of_its_traces_by_the_index(spans, traces):
    named = [f"{n:032x}" for n in range(100, 100 + traces)]
    plan = _plan(STORED_SQL, {"team_id": spans.pk, "traces": named, "ids": ["c5", "c6"]})
    assert _uses_trace_index(plan) and "Seq Scan" not in plan


def test_the_trace_tree_reads_its_spans_by_the_index(spans):
    queryset = Execution.objects.filter(team_id=spans.pk, trace_id=f"{100:032x}").order_by("started_at", "id")
    assert _uses_trace_index(_plan(*queryset.query.sql_with_params()))
