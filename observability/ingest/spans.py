"""Ingest, step 2b: spans in their traces (runs inside the batch's transaction).

1. ``traces_lock``: one ``pg_advisory_xact_lock`` per trace the batch names (a 64-bit hash of
   team and trace id), taken in ascending order, so two batches with spans of the same trace run
   one after the other and concurrent batches cannot deadlock;
2. ``spans_check``: what is stored of those traces is read once; a span sent again (same id or
   same trace and span id) is a duplicate when its content is the same and an error when not;
   a span that would be its own ancestor (stored and batch spans), or whose parent is a span of
   another trace of the batch, is an error of that span; a child span without an agent name is
   the agent of its nearest ancestor (or of the trace's agent span);
3. ``counting_once``: ``counts_execution`` (kind agent or a root span) and ``counts_usage``
   (LLM and embedding spans own tokens and cost; another span's usage counts only while its
   trace has no LLM/embedding span reporting usage). When the first such span of a trace
   arrives, the stored spans whose usage counted stop counting: ``UPDATE ... RETURNING`` gives
   them to the rollups and the trace summary as negative deltas, in the same transaction;
4. ``traces_upsert``: one ``INSERT ... ON CONFLICT DO UPDATE`` of the per-trace summaries
   (LEAST/GREATEST of the bounds, sums of counts, tokens and cost), exact in any arrival order.

Events without a trace id are spans of kind agent alone in a trace of their own; their ids are
derived from the client id (``derived_ids``, the same rule as migration 0007), so they need no lock.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from decimal import Decimal
from typing import NamedTuple

from crucible import validation as v
from observability.models import USAGE_KINDS
from observability.sql import execute, fetch_rows, pg_array

USAGE_KIND_VALUES = frozenset(str(kind) for kind in USAGE_KINDS)
UNKNOWN_AGENT = "unknown"  # a span with no agent of its own and none in its trace yet


def derived_ids(client_id: str) -> tuple[str, str]:
    """(trace id, span id) of an event sent without them (md5 as in migration 0007)."""
    trace = hashlib.md5(f"crucible-trace:{client_id}".encode(), usedforsecurity=False).hexdigest()
    span = hashlib.md5(f"crucible-span:{client_id}".encode(), usedforsecurity=False).hexdigest()[:16]
    return trace, span


def lock_key(team_id: int, trace_id: str) -> int:
    digest = hashlib.blake2b(f"{team_id}:{trace_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def traces_lock(team_id: int, trace_ids) -> None:
    keys = sorted({lock_key(team_id, trace_id) for trace_id in trace_ids})
    if keys:  # unnest yields the sorted keys in order: every writer locks in the same order
        fetch_rows(
            "SELECT pg_advisory_xact_lock(k) AS locked FROM unnest(%(keys)s::bigint[]) WITH ORDINALITY AS t(k, n)",
            {"keys": keys},
        )


class StoredSpan(NamedTuple):
    id: int
    client_id: str
    trace_id: str
    span_id: str
    parent_span_id: str
    kind: str
    agent_name: str
    version: str
    content_hash: str
    counts_usage: bool
    reports_usage: bool


# "trace_id <> ''" is the trace index's predicate: PostgreSQL proves it from an array of at most
# 100 ids only, and a batch may name more traces (without it: a scan of the team's spans).
STORED_SQL = """
SELECT id, client_id, trace_id, span_id, parent_span_id, kind, agent_name, version, content_hash, counts_usage,
       (input_tokens + output_tokens > 0 OR coalesce(cost, 0) > 0) AS reports_usage
FROM observability_execution
WHERE team_id = %(team_id)s
  AND ((trace_id = ANY(%(traces)s::text[]) AND trace_id <> '') OR client_id = ANY(%(ids)s::text[]))
"""


def reports_usage(row: dict) -> bool:
    return row["input_tokens"] + row["output_tokens"] > 0 or (row["cost"] is not None and row["cost"] > 0)


def _fail(errors, index, field, message, rows):
    errors.setdefault(index, v.Errors()).add(field, message)
    rows.pop(index, None)


def spans_check(*, team_id: int, rows: dict[int, dict], errors: dict, duplicates: dict[int, str]) -> dict:
    """Lock the batch's traces, read what is stored of them and settle each span (see the module
    docstring). Returns the stored spans by trace id (for ``counting_once``)."""
    for row in rows.values():
        if not row["trace_named"]:
            row["trace_id"], derived_span = derived_ids(row["client_id"])
            row["span_id"] = row["span_id"] or derived_span
        elif not row["span_id"]:
            row["span_id"] = derived_ids(row["client_id"])[1]
    named = sorted({row["trace_id"] for row in rows.values() if row["trace_named"]})
    traces_lock(team_id, named)
    stored = fetch_rows(
        STORED_SQL, {"team_id": team_id, "traces": named, "ids": [r["client_id"] for r in rows.values()]}, StoredSpan
    )
    by_client = {s.client_id: s for s in stored}
    by_span = {(s.trace_id, s.span_id): s for s in stored}
    stored_by_trace: dict[str, list[StoredSpan]] = defaultdict(list)
    for span in stored:
        stored_by_trace[span.trace_id].append(span)

    # Sent before: the same content is a duplicate; other content under the same id an error.
    for index, row in list(rows.items()):
        before = by_client.get(row["client_id"]) or by_span.get((row["trace_id"], row["span_id"]))
        if before is None:
            continue
        if row["span_named"] and before.content_hash and before.content_hash != row["content_hash"]:
            _fail(errors, index, "span_id", "A span with this id was stored before with different content.", rows)
        else:
            duplicates[index] = "An event with this id was stored before."
            del rows[index]
    # The same span twice in this batch (under different ids).
    first: dict[tuple, int] = {}
    for index, row in list(rows.items()):
        key = (row["trace_id"], row["span_id"])
        if key not in first:
            first[key] = index
        elif rows[first[key]]["content_hash"] == row["content_hash"]:
            duplicates[index] = f"Same span as event {first[key]} of this batch."
            del rows[index]
        else:
            _fail(errors, index, "span_id", f"Same span id as event {first[key]} of this batch, other content.", rows)

    _tree_check(rows, stored_by_trace, errors)
    _agents_inherit(rows, stored_by_trace)
    return stored_by_trace


def _tree_check(rows: dict[int, dict], stored_by_trace, errors) -> None:
    parents: dict[str, dict[str, str]] = defaultdict(dict)  # trace -> span -> parent
    for trace_id, spans in stored_by_trace.items():
        for span in spans:
            parents[trace_id][span.span_id] = span.parent_span_id
    trace_of_span: dict[str, set] = defaultdict(set)
    for row in rows.values():
        parents[row["trace_id"]][row["span_id"]] = row["parent_span_id"]
        trace_of_span[row["span_id"]].add(row["trace_id"])
    for index, row in list(rows.items()):
        parent = row["parent_span_id"]
        if not parent:
            continue
        tree = parents[row["trace_id"]]
        others = trace_of_span.get(parent, set()) - {row["trace_id"]}
        if parent not in tree and others:
            _fail(errors, index, "parent_span_id", f"Span {parent} belongs to another trace ({min(others)}).", rows)
            continue
        seen, current = set(), parent
        while current and current not in seen:
            if current == row["span_id"]:
                _fail(errors, index, "parent_span_id", "This span would be its own ancestor (a cycle).", rows)
                break
            seen.add(current)
            current = tree.get(current, "")


def _agents_inherit(rows: dict[int, dict], stored_by_trace) -> None:
    """A span sent without an agent name is the agent of its nearest ancestor, else of its
    trace's agent span, else 'unknown' (rollups need an agent)."""
    orphans = [row for row in rows.values() if not row["agent_name"]]
    if not orphans:
        return
    spans: dict[str, dict[str, tuple]] = defaultdict(dict)  # trace -> span -> (parent, agent, version, kind)
    for trace_id, stored in stored_by_trace.items():
        for s in stored:
            spans[trace_id][s.span_id] = (s.parent_span_id, s.agent_name, s.version, s.kind)
    for row in rows.values():
        spans[row["trace_id"]][row["span_id"]] = (row["parent_span_id"], row["agent_name"], row["version"], row["kind"])
    for row in orphans:
        tree = spans[row["trace_id"]]
        found, seen, current = None, set(), row["parent_span_id"]
        while current and current not in seen and current in tree:
            seen.add(current)
            parent, agent, version, _ = tree[current]
            if agent and agent != UNKNOWN_AGENT:
                found = (agent, version)
                break
            current = parent
        if found is None:
            found = next(((a, ver) for _, a, ver, kind in tree.values() if a and kind == "agent"), (UNKNOWN_AGENT, ""))
        row["agent_name"] = found[0]
        row["version"] = row["version"] or found[1]


UNCOUNT_SQL = """
UPDATE observability_execution SET counts_usage = false
WHERE team_id = %(team_id)s AND id = ANY(%(ids)s::bigint[]) AND counts_usage
RETURNING trace_id, started_at, agent_name, model, version, status, counts_execution, input_tokens, output_tokens,
          cached_input_tokens, reasoning_tokens, cost
"""


def counting_once(*, team_id: int, rows: list[dict], stored_by_trace) -> list[dict]:
    """Set each new span's counting flags; stop counting the usage of stored spans whose trace
    gets its first LLM/embedding usage now. Returns those spans (their usage as it counted)."""
    batch_usage = {row["trace_id"] for row in rows if row["kind"] in USAGE_KIND_VALUES and reports_usage(row)}
    stored_usage = {
        trace_id
        for trace_id, spans in stored_by_trace.items()
        if any(s.kind in USAGE_KIND_VALUES and s.reports_usage for s in spans)
    }
    for row in rows:
        row["counts_execution"] = row["kind"] == "agent" or not row["parent_span_id"]
        row["counts_usage"] = row["kind"] in USAGE_KIND_VALUES or row["trace_id"] not in (batch_usage | stored_usage)
    newly = batch_usage - stored_usage
    ids = sorted(
        s.id
        for trace_id in newly
        for s in stored_by_trace.get(trace_id, ())
        if s.kind not in USAGE_KIND_VALUES and s.counts_usage
    )
    if not ids:
        return []
    return fetch_rows(UNCOUNT_SQL, {"team_id": team_id, "ids": ids})


TRACE_UPSERT_SQL = """
INSERT INTO observability_trace AS t (
    team_id, trace_id, root_span_id, name, agent_name, agent_id, started_at, ended_at, duration_ms, status,
    span_count, error_count, input_tokens, output_tokens, cost, session_id, end_user_id, tags)
SELECT %(team_id)s, u.trace_id, u.root_span_id, u.name, u.agent_name, u.agent_id, u.started_at, u.ended_at,
       extract(epoch FROM u.ended_at - u.started_at) * 1000,
       CASE WHEN u.error_count > 0 THEN 'error' ELSE 'success' END,
       u.span_count, u.error_count, u.input_tokens, u.output_tokens, u.cost, u.session_id, u.end_user_id,
       u.tags::varchar[]
FROM unnest(%(trace_id)s::text[], %(root_span_id)s::text[], %(name)s::text[], %(agent_name)s::text[],
            %(agent_id)s::bigint[], %(started_at)s::timestamptz[], %(ended_at)s::timestamptz[],
            %(span_count)s::int[], %(error_count)s::int[], %(input_tokens)s::bigint[], %(output_tokens)s::bigint[],
            %(cost)s::numeric[], %(session_id)s::text[], %(end_user_id)s::text[], %(tags)s::text[])
     AS u(trace_id, root_span_id, name, agent_name, agent_id, started_at, ended_at, span_count, error_count,
          input_tokens, output_tokens, cost, session_id, end_user_id, tags)
ON CONFLICT (team_id, trace_id) DO UPDATE SET
    root_span_id = CASE WHEN EXCLUDED.root_span_id <> '' THEN EXCLUDED.root_span_id ELSE t.root_span_id END,
    name = CASE WHEN EXCLUDED.root_span_id <> '' OR t.name = '' THEN EXCLUDED.name ELSE t.name END,
    agent_name = CASE WHEN EXCLUDED.root_span_id <> '' OR t.agent_name = '' THEN EXCLUDED.agent_name
                      ELSE t.agent_name END,
    agent_id = CASE WHEN EXCLUDED.root_span_id <> '' THEN coalesce(EXCLUDED.agent_id, t.agent_id)
                    ELSE coalesce(t.agent_id, EXCLUDED.agent_id) END,
    started_at = least(t.started_at, EXCLUDED.started_at),
    ended_at = greatest(t.ended_at, EXCLUDED.ended_at),
    duration_ms = extract(epoch FROM greatest(t.ended_at, EXCLUDED.ended_at)
                                     - least(t.started_at, EXCLUDED.started_at)) * 1000,
    status = CASE WHEN t.error_count + EXCLUDED.error_count > 0 THEN 'error' ELSE 'success' END,
    span_count = t.span_count + EXCLUDED.span_count,
    error_count = t.error_count + EXCLUDED.error_count,
    input_tokens = t.input_tokens + EXCLUDED.input_tokens,
    output_tokens = t.output_tokens + EXCLUDED.output_tokens,
    cost = t.cost + EXCLUDED.cost,
    session_id = CASE WHEN t.session_id = '' THEN EXCLUDED.session_id ELSE t.session_id END,
    end_user_id = CASE WHEN t.end_user_id = '' THEN EXCLUDED.end_user_id ELSE t.end_user_id END,
    tags = CASE WHEN EXCLUDED.tags = '{}' THEN t.tags
                ELSE ARRAY(SELECT DISTINCT x FROM unnest(t.tags || EXCLUDED.tags) AS x ORDER BY x) END
"""

TRACE_COLUMNS = (
    "trace_id",
    "root_span_id",
    "name",
    "agent_name",
    "agent_id",
    "started_at",
    "ended_at",
    "span_count",
    "error_count",
    "input_tokens",
    "output_tokens",
    "cost",
    "session_id",
    "end_user_id",
    "tags",
)
_ROOT, _STARTED, _ENDED, _SPANS, _ERRORS, _INPUT, _OUTPUT, _COST, _SESSION, _USER, _TAGS = (
    TRACE_COLUMNS.index(name)
    for name in ("root_span_id", "started_at", "ended_at", "span_count", "error_count", "input_tokens",
                 "output_tokens", "cost", "session_id", "end_user_id", "tags")
)  # fmt: skip


def traces_upsert(*, team_id: int, rows: list[dict], uncounted: list[dict], known: set[str] = frozenset()) -> None:
    """Add the stored spans (and take away the usage that stopped counting) to their traces.

    Traces with no stored span before this batch (``known`` lists the others) are new: they are
    written with COPY (their lock is held, or their ids derive from a client id stored once), and
    the rest with the upsert; should a summary exist anyway (its spans purged), the upsert runs
    for all."""
    traces: dict[str, list] = {}  # trace id -> its values in TRACE_COLUMNS order
    for row in rows:
        started = row["started_at"]
        ended = started + dt.timedelta(milliseconds=row["duration_ms"])
        t = traces.get(row["trace_id"])
        if t is None:
            t = traces[row["trace_id"]] = [
                row["trace_id"], "", row["name"], row["agent_name"], row["agent_id"], started, ended,
                0, 0, 0, 0, Decimal(0), "", "", set(),
            ]  # fmt: skip
        if not row["parent_span_id"]:
            t[_ROOT:_STARTED] = [row["span_id"], row["name"], row["agent_name"], row["agent_id"]]
        if started < t[_STARTED]:
            t[_STARTED] = started
        if ended > t[_ENDED]:
            t[_ENDED] = ended
        t[_SPANS] += 1
        if row["status"] == "error":
            t[_ERRORS] += 1
        if row["counts_usage"]:
            t[_INPUT] += row["input_tokens"]
            t[_OUTPUT] += row["output_tokens"]
            t[_COST] += row["cost"] or 0
        t[_SESSION] = t[_SESSION] or row["session_id"]
        t[_USER] = t[_USER] or row["end_user_id"]
        if row["tags"]:
            t[_TAGS].update(row["tags"])
    for span in uncounted:
        t = traces[span["trace_id"]]
        t[_INPUT] -= span["input_tokens"]
        t[_OUTPUT] -= span["output_tokens"]
        t[_COST] -= span["cost"] or 0
    if not traces:
        return
    ordered = [traces[key] for key in sorted(traces)]
    for t in ordered:
        t[_TAGS] = pg_array(sorted(t[_TAGS])) if t[_TAGS] else "{}"
    fresh = [t for t in ordered if t[0] not in known]
    if fresh and _traces_copy(team_id, fresh):
        ordered = [t for t in ordered if t[0] in known]
    if ordered:
        params = {"team_id": team_id} | {name: [t[i] for t in ordered] for i, name in enumerate(TRACE_COLUMNS)}
        execute(TRACE_UPSERT_SQL, params)


def _traces_copy(team_id: int, traces: list[list]) -> bool:
    import psycopg
    from django.db import connection, transaction

    columns = ", ".join(TRACE_COLUMNS)
    try:
        with transaction.atomic(), psycopg.Cursor(connection.connection) as cursor:
            with cursor.copy(f"COPY observability_trace (team_id, {columns}, duration_ms, status) FROM STDIN") as copy:
                for t in traces:  # the times as ISO text: psycopg's datetime dumper costs more
                    started, ended = t[_STARTED], t[_ENDED]
                    duration = (ended - started).total_seconds() * 1000
                    values = (*t[:_STARTED], started.isoformat(), ended.isoformat(), *t[_ENDED + 1 :])
                    copy.write_row((team_id, *values, duration, "error" if t[_ERRORS] else "success"))
    except psycopg.errors.UniqueViolation:
        return False
    return True


TRACES_FROM_SPANS_SQL = """
INSERT INTO observability_trace (
    team_id, trace_id, root_span_id, name, agent_name, agent_id, started_at, ended_at, duration_ms, status,
    span_count, error_count, input_tokens, output_tokens, cost, session_id, end_user_id, tags)
SELECT team_id, trace_id,
       coalesce((array_agg(span_id ORDER BY started_at, id) FILTER (WHERE parent_span_id = ''))[1], ''),
       (array_agg(name ORDER BY (parent_span_id <> ''), started_at, id))[1],
       (array_agg(agent_name ORDER BY (parent_span_id <> ''), started_at, id))[1],
       (array_agg(agent_id ORDER BY (parent_span_id <> ''), started_at, id))[1],
       min(started_at), max(started_at + duration_ms * interval '1 millisecond'),
       extract(epoch FROM max(started_at + duration_ms * interval '1 millisecond') - min(started_at)) * 1000,
       CASE WHEN bool_or(status = 'error') THEN 'error' ELSE 'success' END,
       count(*), count(*) FILTER (WHERE status = 'error'),
       coalesce(sum(input_tokens) FILTER (WHERE counts_usage), 0),
       coalesce(sum(output_tokens) FILTER (WHERE counts_usage), 0),
       coalesce(sum(cost) FILTER (WHERE counts_usage), 0),
       coalesce(min(nullif(session_id, '')), ''), coalesce(min(nullif(end_user_id, '')), ''), '{}'
FROM observability_execution
WHERE team_id = %(team_id)s AND trace_id <> ''
GROUP BY team_id, trace_id
ON CONFLICT (team_id, trace_id) DO NOTHING
"""


def traces_from_spans(*, team_id: int) -> int:
    """Trace summaries for the team's spans that have none (rows written by COPY: demo data)."""
    return execute(TRACES_FROM_SPANS_SQL, {"team_id": team_id})
