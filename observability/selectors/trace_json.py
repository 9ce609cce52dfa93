"""The trace tree API's document, written by PostgreSQL: each span's JSON object is built in the
query that reads it (``json_build_object``), and Python only orders the spans (``span_tree`` on
ids and parent ids) and joins the texts. Same shape and values as
``trace_serializers.trace_document`` (a test compares them); no datetime, Decimal or JSON value is
converted to a Python object and back, which was most of a 1,000-span trace's time.
"""

from __future__ import annotations

import datetime as dt
import json

from django.db import connections

from crucible.db_router import read_alias
from observability import conf
from observability.models import Trace
from observability.selectors.traces import span_tree


def _iso(column: str) -> str:
    """SQL for the API's text of a time (``_iso``: ISO 8601 in UTC, ``Z``, microseconds unless 0)."""
    return (
        f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN extract(microseconds"
        f" FROM {column}) %% 1000000 = 0 THEN '' ELSE to_char({column} AT TIME ZONE 'UTC', '.US') END || 'Z'"
    )


_ENDED = "(e.started_at + e.duration_ms * interval '1 millisecond')"
_PAYLOAD = (
    "CASE WHEN p.execution_id IS NULL THEN NULL ELSE json_build_object('input', p.input, 'output', p.output,"
    " 'input_truncated', p.input_truncated, 'output_truncated', p.output_truncated, 'redacted', p.redacted) END"
)
# By the payload key's prefix (execution, team), as the serializer's path reads it.
_PAYLOAD_JOIN = "LEFT JOIN observability_spanpayload p ON p.execution_id = e.id AND p.team_id = e.team_id"

SPANS_JSON_SQL = f"""
SELECT e.id, e.span_id, e.parent_span_id, (extract(epoch FROM e.started_at) * 1000000)::bigint AS started_us,
       (extract(epoch FROM {_ENDED}) * 1000000)::bigint AS ended_us,
       json_build_object(
           'id', e.id, 'span_id', e.span_id, 'parent_span_id', e.parent_span_id, 'kind', e.kind, 'name', e.name,
           'agent_name', e.agent_name, 'model', e.model, 'status', e.status, 'error_type', e.error_type,
           'error_message', e.error_message, 'started_at', {_iso("e.started_at")}, 'ended_at', {_iso(_ENDED)},
           'duration_ms', e.duration_ms, 'input_tokens', e.input_tokens, 'output_tokens', e.output_tokens,
           'cached_input_tokens', e.cached_input_tokens, 'reasoning_tokens', e.reasoning_tokens,
           'cost', e.cost::text, 'counts_usage', e.counts_usage, 'time_to_first_token_ms', e.time_to_first_token_ms,
           'attributes', e.attributes, 'request_params', e.request_params, 'agent_id', e.agent_id,
           'agent_version_id', e.agent_version_id, 'variant_id', e.variant_id, 'build_id', e.build_id,
           'session_id', e.session_id, 'end_user_id', e.end_user_id, 'tags', e.tags,
           'payload', {{payload}})::text AS doc
FROM observability_execution e {{payload_join}}
WHERE e.team_id = %(team)s AND e.trace_id = %(trace)s
ORDER BY e.started_at, e.id
LIMIT %(limit)s
"""


def trace_tree_json(*, trace: Trace, trace_json: str, payloads: bool = False) -> bytes:
    """The tree API's JSON document of ``trace`` (``trace_json``: the trace summary's JSON text)."""
    query = SPANS_JSON_SQL.format(
        payload=_PAYLOAD if payloads else "NULL::json", payload_join=_PAYLOAD_JOIN if payloads else ""
    )
    params = {"team": trace.team_id, "trace": trace.trace_id, "limit": conf.TRACE_MAX_SPANS + 1}
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(query, params)
        records = cursor.fetchall()
    truncated = len(records) > conf.TRACE_MAX_SPANS
    records = records[: conf.TRACE_MAX_SPANS]
    spans = [
        {"id": pk, "span_id": span_id, "parent_span_id": parent, "started_at": started, "doc": doc}
        for pk, span_id, parent, started, _ended, doc in records
    ]
    ordered, orphans = span_tree(spans, trace.root_span_id)
    total_ms = 0.0
    parts = []
    if records:
        start = records[0][3]
        end = max(record[4] for record in records)
        total_ms = dt.timedelta(microseconds=end - start).total_seconds() * 1000
        for span in ordered:
            # The same float as the tree's ``(started - first).total_seconds() * 1000``.
            offset = dt.timedelta(microseconds=span["started_at"] - start).total_seconds() * 1000
            head = (
                f'{{"depth":{span["depth"]},"orphan":{"true" if span["orphan"] else "false"},'
                f'"children":{span["children"]},"offset_ms":{json.dumps(offset)},'
            )
            parts.append(head + span["doc"][1:])
    return (
        f'{{"trace":{trace_json},"spans":[{",".join(parts)}],"orphans":{orphans},'
        f'"truncated":{"true" if truncated else "false"},"total_ms":{json.dumps(total_ms)}}}'
    ).encode()
