"""Raw executions one by one: an execution's page, an agent's marketplace link, streamed export."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import transaction
from django.db.models import QuerySet

from crucible.sql import fetch_one
from observability.models import Execution

# The columns of an export, in order (CSV header and JSON Lines keys).
EXPORT_FIELDS = (
    "id",
    "client_id",
    "agent_name",
    "agent_id",
    "agent_version_id",
    "version",
    "model",
    "operation",
    "variant_id",
    "build_id",
    "source",
    "trace_id",
    "span_id",
    "parent_span_id",
    "kind",
    "name",
    "session_id",
    "end_user_id",
    "tags",
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
    "time_to_first_token_ms",
    "request_params",
    "attributes",
    "received_at",
)
EXPORT_CHUNK_ROWS = 1000  # rows fetched per round trip of the server-side cursor


def execution_detail_queryset(*, team) -> QuerySet[Execution]:
    """The executions of ``team`` with what their page links to (agent, version, variant and its
    experiment, build) in the same query."""
    return Execution.objects.filter(team=team).select_related(
        "agent", "agent_version", "variant__experiment", "build", "api_key"
    )


# The marketplace agent of an agent name: the newest linked run among its latest 1,000 (bounded
# cost even for an agent with millions of unlinked runs; read from execution_team_agent_started
# alone, which includes agent_id: 6.1 ms on bench_h4 when it fetched the 1,000 rows).
MARKETPLACE_AGENT_SQL = """
    SELECT agent_id FROM (
        SELECT agent_id FROM observability_execution
        WHERE team_id = %(team)s AND agent_name = %(agent_name)s
        ORDER BY started_at DESC LIMIT 1000
    ) recent
    WHERE agent_id IS NOT NULL LIMIT 1
"""


def marketplace_agent_id(*, team, agent_name: str) -> int | None:
    """The id of the marketplace agent the recent runs of ``agent_name`` were linked to, if any."""
    row = fetch_one(MARKETPLACE_AGENT_SQL, {"team": team.pk, "agent_name": agent_name})
    return row["agent_id"] if row else None


def executions_export_rows(queryset: QuerySet[Execution]) -> Iterator[dict]:
    """The rows of a filtered executions list as dicts of ``EXPORT_FIELDS``, read through a
    server-side cursor ``EXPORT_CHUNK_ROWS`` at a time: memory does not grow with the row count.
    In a transaction: outside one, Django declares the cursor WITH HOLD, which makes PostgreSQL
    materialise the whole result before the first row (closing the generator rolls it back)."""
    with transaction.atomic():
        yield from queryset.values(*EXPORT_FIELDS).iterator(chunk_size=EXPORT_CHUNK_ROWS)
