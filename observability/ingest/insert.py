"""Ingest, step 3: store the clean rows of a batch (COPY, or INSERT ... ON CONFLICT when a
concurrent batch raced us to one of the same ids)."""

from __future__ import annotations

from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from observability.sql import fetch_rows


class _Stored(NamedTuple):
    client_id: str


INSERT_SQL = """
INSERT INTO observability_execution (
    team_id, build_id, api_key_id, source, received_at,
    client_id, agent_name, agent_id, agent_version_id, version, model, operation, variant_id,
    trace_id, span_id, started_at, duration_ms, status, error_type, error_message,
    input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost, cost_source, quality)
SELECT %(team_id)s, %(build_id)s, %(api_key_id)s, %(source)s, now(), t.* FROM unnest(
    %(client_id)s::text[], %(agent_name)s::text[], %(agent_id)s::bigint[], %(agent_version_id)s::bigint[],
    %(version)s::text[], %(model)s::text[], %(operation)s::text[], %(variant_id)s::bigint[],
    %(trace_id)s::text[], %(span_id)s::text[], %(started_at)s::timestamptz[], %(duration_ms)s::float8[],
    %(status)s::text[], %(error_type)s::text[], %(error_message)s::text[],
    %(input_tokens)s::bigint[], %(output_tokens)s::bigint[], %(cached_input_tokens)s::bigint[],
    %(reasoning_tokens)s::bigint[], %(cost)s::numeric[], %(cost_source)s::text[], %(quality)s::float8[]
) AS t
ON CONFLICT (team_id, client_id) DO NOTHING
RETURNING client_id
"""
INSERT_COLUMNS = [
    "client_id",
    "agent_name",
    "agent_id",
    "agent_version_id",
    "version",
    "model",
    "operation",
    "variant_id",
    "trace_id",
    "span_id",
    "started_at",
    "duration_ms",
    "status",
    "error_type",
    "error_message",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "cost",
    "cost_source",
    "quality",
]

EXISTING_SQL = (
    "SELECT client_id FROM observability_execution WHERE team_id = %(team_id)s AND client_id = ANY(%(ids)s::text[])"
)
COPY_COLUMNS = ["team_id", "build_id", "api_key_id", "source", "received_at", *INSERT_COLUMNS]


def executions_insert(rows, *, team_id, build_id, api_key_id, source) -> set[str]:
    """Store the rows whose client id the team does not have yet; return the ids stored.

    Fast path: look the ids up (one index probe per id), then COPY the new rows straight into the
    table. If a concurrent batch stored one of the same ids in between, the COPY hits the unique
    constraint; the savepoint is rolled back and the slow path, INSERT ... ON CONFLICT DO NOTHING
    RETURNING, decides row by row."""
    import psycopg

    ids = [row["client_id"] for row in rows]
    existing = {row.client_id for row in fetch_rows(EXISTING_SQL, {"team_id": team_id, "ids": ids}, _Stored)}
    fresh = [row for row in rows if row["client_id"] not in existing]
    if not fresh:
        return set()
    received_at = timezone.now()
    head = (team_id, build_id, api_key_id, source, received_at)
    try:
        with transaction.atomic():
            with psycopg.Cursor(connection.connection) as cursor:
                with cursor.copy(f"COPY observability_execution ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
                    for row in fresh:
                        copy.write_row((*head, *[row[name] for name in INSERT_COLUMNS]))
        return {row["client_id"] for row in fresh}
    except psycopg.errors.UniqueViolation:
        params = {"team_id": team_id, "build_id": build_id, "api_key_id": api_key_id, "source": source}
        params |= {name: [row[name] for row in fresh] for name in INSERT_COLUMNS}
        return {row.client_id for row in fetch_rows(INSERT_SQL, params, _Stored)}
