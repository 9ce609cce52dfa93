"""Ingest, step 3: store the clean rows of a batch (COPY, or INSERT ... ON CONFLICT when a
concurrent batch raced us to one of the same ids), then their payloads (COPY)."""

from __future__ import annotations

import json
from operator import itemgetter
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from observability.sql import fetch_rows, pg_array


class _Stored(NamedTuple):
    client_id: str


# Column -> the PostgreSQL array type its values travel as (JSON as text, tags as array literals).
COLUMN_TYPES = {
    "id": "bigint",
    "client_id": "text",
    "agent_name": "text",
    "agent_id": "bigint",
    "agent_version_id": "bigint",
    "version": "text",
    "model": "text",
    "operation": "text",
    "variant_id": "bigint",
    "trace_id": "text",
    "span_id": "text",
    "parent_span_id": "text",
    "kind": "text",
    "name": "text",
    "attributes": "text",
    "request_params": "text",
    "time_to_first_token_ms": "float8",
    "session_id": "text",
    "end_user_id": "text",
    "tags": "text",
    "counts_execution": "boolean",
    "counts_usage": "boolean",
    "content_hash": "text",
    "started_at": "timestamptz",
    "duration_ms": "float8",
    "status": "text",
    "error_type": "text",
    "error_message": "text",
    "input_tokens": "bigint",
    "output_tokens": "bigint",
    "cached_input_tokens": "bigint",
    "reasoning_tokens": "bigint",
    "cost": "numeric",
    "cost_source": "text",
    "quality": "float8",
}
INSERT_COLUMNS = list(COLUMN_TYPES)
_CASTS = {"attributes": "::jsonb", "request_params": "::jsonb", "tags": "::varchar[]"}

INSERT_SQL = f"""
INSERT INTO observability_execution (team_id, build_id, api_key_id, source, received_at, {", ".join(INSERT_COLUMNS)})
SELECT %(team_id)s, %(build_id)s, %(api_key_id)s, %(source)s, now(),
       {", ".join(f"t.{name}{_CASTS.get(name, '')}" for name in INSERT_COLUMNS)}
FROM unnest({", ".join(f"%({name})s::{kind}[]" for name, kind in COLUMN_TYPES.items())})
     AS t({", ".join(INSERT_COLUMNS)})
ON CONFLICT (team_id, client_id, started_at) DO NOTHING
RETURNING client_id
"""

EXISTING_SQL = (
    "SELECT client_id FROM observability_execution WHERE team_id = %(team_id)s AND client_id = ANY(%(ids)s::text[])"
)
# The COPY's columns: the batch's own, then each row's plain values, then the three it encodes.
HEAD_COLUMNS = ["team_id", "build_id", "api_key_id", "source", "received_at"]
_ENCODED = ("attributes", "request_params", "tags")
PLAIN_COLUMNS = [name for name in INSERT_COLUMNS if name != "id" and name not in _ENCODED]
# started_at travels as ISO text: psycopg's datetime dumper costs more than ``isoformat``.
_STARTED = PLAIN_COLUMNS.index("started_at")
_values_before_start = itemgetter(*PLAIN_COLUMNS[:_STARTED])
_values_after_start = itemgetter(*PLAIN_COLUMNS[_STARTED + 1 :])
IDS_SQL = "SELECT nextval(pg_get_serial_sequence('observability_execution', 'id')) AS id FROM generate_series(1, %(n)s)"
# The one list of the executions COPY (the batch's, the rows' plain values, the encoded ones):
# seeding and benchmarks import it with ``execution_copy_row``.
COPY_COLUMNS = (*HEAD_COLUMNS, *PLAIN_COLUMNS, *_ENCODED)
# What a column holds when a script's row leaves it out (the model's defaults; JSON and tags as text).
COPY_EMPTY = {
    "build_id": None,
    "api_key_id": None,
    "source": "api",
    "agent_id": None,
    "agent_version_id": None,
    "version": "",
    "model": "",
    "operation": "",
    "variant_id": None,
    "trace_id": "",
    "span_id": "",
    "parent_span_id": "",
    "kind": "agent",
    "name": "",
    "time_to_first_token_ms": None,
    "session_id": "",
    "end_user_id": "",
    "counts_execution": True,
    "counts_usage": True,
    "content_hash": "",
    "error_type": "",
    "error_message": "",
    "input_tokens": 0,
    "output_tokens": 0,
    "cached_input_tokens": 0,
    "reasoning_tokens": 0,
    "cost": None,
    "quality": None,
    "attributes": "{}",
    "request_params": "{}",
    "tags": "{}",
}
PAYLOAD_COLUMNS = ["execution_id", "team_id", "started_at", "input", "output", "input_truncated", "output_truncated"]


def execution_copy_row(values: dict) -> tuple:
    """A row of ``COPY observability_execution (COPY_COLUMNS)`` from the values a script has (demo
    seeding, benchmarks): the others are empty (``COPY_EMPTY``); team_id, client_id, agent_name,
    started_at, duration_ms, status, cost_source and received_at must be given."""
    return tuple(values[name] if name in values else COPY_EMPTY[name] for name in COPY_COLUMNS)


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_json = _COMPACT.encode


def _value(row: dict, name: str):
    value = row[name]
    if name in ("attributes", "request_params"):
        return _json(value) if value else "{}"
    if name == "tags":  # an array literal: psycopg's list dumper costs more than the COPY itself
        return pg_array(value) if value else "{}"
    return value


def executions_insert(rows, *, team_id, build_id, api_key_id, source, existing: set[str] | None = None) -> set[str]:
    """Store the rows whose client id the team does not have yet; return the ids stored. When
    any row has a payload, each row gets its ``id`` (taken from the table's sequence first, so
    the payloads can follow).

    Fast path: look the ids up (one index probe per id; skipped when the caller did), then COPY
    the new rows straight into the table. If a concurrent batch stored one of the same ids in
    between, the COPY hits the unique constraint; the savepoint is rolled back and the slow path,
    INSERT ... ON CONFLICT DO NOTHING RETURNING, decides row by row."""
    import psycopg

    if existing is None:
        ids = [row["client_id"] for row in rows]
        existing = {row.client_id for row in fetch_rows(EXISTING_SQL, {"team_id": team_id, "ids": ids}, _Stored)}
    fresh = [row for row in rows if row["client_id"] not in existing]
    if not fresh:
        return set()
    # Ids are taken first only when payloads will follow (they name their span by id); else the
    # column's default numbers the rows.
    with_ids = any(row["input"] is not None or row["output"] is not None for row in fresh)
    if with_ids:
        for row, new in zip(fresh, fetch_rows(IDS_SQL, {"n": len(fresh)}), strict=True):
            row["id"] = new["id"]
    columns = ("id",) * with_ids + COPY_COLUMNS
    head = (team_id, build_id, api_key_id, source, timezone.now().isoformat())
    try:
        with transaction.atomic():
            with psycopg.Cursor(connection.connection) as cursor:
                with cursor.copy(f"COPY observability_execution ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in fresh:
                        encoded = (
                            _json(row["attributes"]) if row["attributes"] else "{}",
                            _json(row["request_params"]) if row["request_params"] else "{}",
                            pg_array(row["tags"]) if row["tags"] else "{}",
                        )
                        started = row["started_at"].isoformat()
                        values = (*head, *_values_before_start(row), started, *_values_after_start(row), *encoded)
                        copy.write_row((row["id"], *values) if with_ids else values)
        return {row["client_id"] for row in fresh}
    except psycopg.errors.UniqueViolation:
        if not with_ids:
            for row, new in zip(fresh, fetch_rows(IDS_SQL, {"n": len(fresh)}), strict=True):
                row["id"] = new["id"]
        params = {"team_id": team_id, "build_id": build_id, "api_key_id": api_key_id, "source": source}
        params |= {name: [_value(row, name) for row in fresh] for name in INSERT_COLUMNS}
        return {row.client_id for row in fetch_rows(INSERT_SQL, params, _Stored)}


def payloads_insert(rows, *, team_id) -> int:
    """COPY the inputs and outputs of stored spans (rows with an ``id``) into SpanPayload."""
    import psycopg

    with_payload = [row for row in rows if row["input"] is not None or row["output"] is not None]
    if not with_payload:
        return 0
    with psycopg.Cursor(connection.connection) as cursor:
        with cursor.copy(f"COPY observability_spanpayload ({', '.join(PAYLOAD_COLUMNS)}, redacted) FROM STDIN") as copy:
            for row in with_payload:
                copy.write_row(
                    (
                        row["id"],
                        team_id,
                        row["started_at"],
                        row["input_json"],
                        row["output_json"],
                        row["input_truncated"],
                        row["output_truncated"],
                        row["redacted"],
                    )
                )
    return len(with_payload)
