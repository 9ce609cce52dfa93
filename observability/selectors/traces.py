"""Trace reads: one trace as a tree of spans, a span with its payload and links, the traces list
and full-text search in span inputs and outputs.

A trace is read in two queries whatever its size: its spans (one scan of the hash index
``execution_trace_hash``) and, when asked, their payloads (one join on the same index). The tree
is built in Python from the flat rows (``span_tree``); nothing is read per span.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL

from crucible.money import money_text
from observability import conf
from observability.models import Execution, SpanPayload, Trace

# What the tree shows of each span (one row each; payloads are read apart, only when asked).
SPAN_FIELDS = (
    "id",
    "span_id",
    "parent_span_id",
    "kind",
    "name",
    "agent_name",
    "model",
    "status",
    "error_type",
    "error_message",
    "started_at",
    "duration_ms",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "reasoning_tokens",
    "cost",
    "counts_usage",
    "time_to_first_token_ms",
)
# Read for the API and for the selected span of the page, not for every row of the page.
SPAN_DETAIL_FIELDS = (
    "attributes",
    "request_params",
    "agent_id",
    "agent_version_id",
    "variant_id",
    "build_id",
    "session_id",
    "end_user_id",
    "tags",
)

# The text that full-text search reads: every string value in a payload's input and output. The
# same expression is indexed (GIN, migration 0008 ``spanpayload_text_search``): keep them equal.
SEARCH_DOCUMENT = (
    "(jsonb_to_tsvector('simple'::regconfig, COALESCE(input, 'null'::jsonb), '[\"string\"]'::jsonb)"
    " || jsonb_to_tsvector('simple'::regconfig, COALESCE(output, 'null'::jsonb), '[\"string\"]'::jsonb))"
)


# The columns of a traces export, in order (CSV header and JSON Lines keys).
TRACE_EXPORT_FIELDS = (
    "trace_id",
    "name",
    "agent_name",
    "agent_id",
    "root_span_id",
    "started_at",
    "ended_at",
    "duration_ms",
    "status",
    "span_count",
    "error_count",
    "input_tokens",
    "output_tokens",
    "cost",
    "session_id",
    "end_user_id",
    "tags",
)
EXPORT_CHUNK_ROWS = 1000  # rows fetched per round trip of the server-side cursor


@dataclass
class TraceTree:
    """A trace's summary, its spans in depth-first order (each with ``depth``, ``orphan``,
    ``children`` and ``offset_ms`` from the trace's first start) and the waterfall's scale."""

    trace: Trace
    spans: list[dict]
    started_at: dt.datetime | None = None
    total_ms: float = 0.0
    truncated: bool = False
    orphans: int = 0
    by_id: dict[int, dict] = field(default_factory=dict)


def trace_list(*, team_ids) -> QuerySet[Trace]:
    """Trace summaries of these teams (the FilterSet narrows them; newest first by default)."""
    return Trace.objects.filter(team_id__in=list(team_ids))


def trace_get(*, team_ids, trace_id: str) -> Trace | None:
    return Trace.objects.filter(team_id__in=list(team_ids), trace_id=trace_id).first()


def _ended(span: dict) -> dt.datetime:
    return span["started_at"] + dt.timedelta(milliseconds=span["duration_ms"])


def span_tree(spans: list[dict], root_span_id: str = "") -> tuple[list[dict], int]:
    """The spans (sorted by start) in depth-first order with ``depth``, ``orphan`` and ``children``.

    A span whose parent has not arrived is an orphan: shown under the root (at the top when the
    root has not arrived either), flagged. A span caught in a parent cycle (ingest refuses them;
    this keeps a bad row from hiding spans) is shown the same way. Returns (ordered, orphans)."""
    by_span_id = {s["span_id"]: s for s in spans if s["span_id"]}
    children: dict[str, list[dict]] = defaultdict(list)
    roots, orphans = [], []
    for span in spans:
        parent = span["parent_span_id"]
        span["orphan"] = False
        if not parent:
            roots.append(span)
        elif parent in by_span_id and parent != span["span_id"]:
            children[parent].append(span)
        else:
            span["orphan"] = True
            orphans.append(span)
    root = by_span_id.get(root_span_id) if root_span_id else None
    root = root or (roots[0] if roots else None)

    ordered: list[dict] = []
    seen: set[int] = set()

    def walk(start: dict, depth: int) -> None:
        stack = [(start, depth)]
        while stack:
            span, level = stack.pop()
            if span["id"] in seen:
                continue
            seen.add(span["id"])
            span["depth"] = level
            kids = children.get(span["span_id"], []) if span["span_id"] else []
            if root is not None and span is root and orphans:
                kids = sorted(kids + orphans, key=lambda s: (s["started_at"], s["id"]))
            span["children"] = len(kids)
            stack.extend((kid, level + 1) for kid in reversed(kids))
            ordered.append(span)

    for top in roots if root is not None else roots + orphans:
        walk(top, 0)
    for span in spans:  # cycles: never reached from a root
        if span["id"] not in seen:
            span["orphan"] = True
            walk(span, 1 if root is not None else 0)
    return ordered, sum(1 for s in spans if s["orphan"])


def trace_tree(*, trace: Trace, detail: bool = True, payloads: bool = False) -> TraceTree:
    """The spans of ``trace`` as a tree. ``detail`` adds attributes, request parameters and link
    ids to every span; ``payloads`` adds ``payload`` (input, output, flags) with one more query."""
    fields = SPAN_FIELDS + (SPAN_DETAIL_FIELDS if detail else ())
    rows = list(
        Execution.objects.filter(team_id=trace.team_id, trace_id=trace.trace_id)
        .order_by("started_at", "id")
        .values(*fields)[: conf.TRACE_MAX_SPANS + 1]
    )
    truncated = len(rows) > conf.TRACE_MAX_SPANS
    rows = rows[: conf.TRACE_MAX_SPANS]
    ordered, orphans = span_tree(rows, trace.root_span_id)
    tree = TraceTree(trace=trace, spans=ordered, truncated=truncated, orphans=orphans)
    if rows:
        start = rows[0]["started_at"]
        end = max(_ended(s) for s in rows)
        tree.started_at, tree.total_ms = start, (end - start).total_seconds() * 1000
        for span in rows:
            span["offset_ms"] = (span["started_at"] - start).total_seconds() * 1000
    tree.by_id = {s["id"]: s for s in rows}
    if payloads and rows:
        for payload in SpanPayload.objects.filter(
            team_id=trace.team_id, execution__team_id=trace.team_id, execution__trace_id=trace.trace_id
        ).values("execution_id", "input", "output", "input_truncated", "output_truncated", "redacted"):
            span = tree.by_id.get(payload.pop("execution_id"))
            if span is not None:
                span["payload"] = payload
    return tree


def _iso(moment: dt.datetime) -> str:
    """DRF's text of a UTC time (``...Z``), made here: the encoder's per-object hook is slow."""
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def span_as_json(span: dict) -> dict:
    """A span of the tree as the API gives it (money as text, ``payload`` null when absent)."""
    out = dict(span)
    out["cost"] = money_text(span["cost"])
    out["ended_at"] = _iso(_ended(span))
    out["started_at"] = _iso(span["started_at"])
    if "payload" in span or "attributes" in span:
        out.setdefault("payload", None)
    return out


def span_get(*, team_ids, span_pk: int, started_at: dt.datetime | None = None) -> Execution | None:
    """One span with its payload, the agent, version, variant and trace it belongs to.
    ``started_at`` (when the caller knows it, as the trace page does) reads one monthly partition."""
    queryset = Execution.objects.filter(started_at=started_at) if started_at is not None else Execution.objects
    return (
        queryset.filter(team_id__in=list(team_ids), pk=span_pk)
        .select_related("payload", "agent", "agent_version", "variant")
        .first()
    )


def span_links(*, span: dict | Execution) -> dict:
    """Ids the span links to: marketplace agent and version, the variant's experiment, the build."""
    get = span.get if isinstance(span, dict) else lambda name: getattr(span, name, None)
    experiment_id = None
    if get("variant_id"):
        experiment_id = Execution.objects.filter(pk=get("id")).values_list("variant__experiment_id", flat=True).first()
    return {
        "agent_id": get("agent_id"),
        "agent_version_id": get("agent_version_id"),
        "variant_id": get("variant_id"),
        "experiment_id": experiment_id,
        "build_id": get("build_id"),
    }


def search_window(*, start: dt.datetime | None, end: dt.datetime | None, now: dt.datetime) -> tuple:
    """The window a text search reads: the bounds given, else ``SEARCH_DEFAULT_DAYS`` before the
    end (now by default). Raises ValueError when it is longer than ``SEARCH_MAX_DAYS``."""
    end = end or now
    start = start or end - dt.timedelta(days=conf.SEARCH_DEFAULT_DAYS)
    if end - start > dt.timedelta(days=conf.SEARCH_MAX_DAYS):
        raise ValueError(f"A text search reads at most {conf.SEARCH_MAX_DAYS} days: narrow the time range.")
    return start, end


def traces_matching(queryset: QuerySet[Trace], *, team_ids, text: str, start: dt.datetime, end: dt.datetime):
    """The traces of ``queryset`` with a span started in [start, end) whose input or output
    contains ``text`` (web-search syntax: words, "a phrase", -word, or)."""
    matching = RawSQL(
        "SELECT t.id FROM observability_trace t WHERE (t.team_id, t.trace_id) IN ("
        " SELECT e.team_id, e.trace_id FROM observability_spanpayload p"
        " JOIN observability_execution e ON e.id = p.execution_id"
        " WHERE p.team_id = ANY(%s) AND p.started_at >= %s AND p.started_at < %s"
        f" AND {SEARCH_DOCUMENT} @@ websearch_to_tsquery('simple'::regconfig, %s))",
        (list(team_ids), start, end, text),
    )
    return queryset.filter(started_at__lt=end, ended_at__gte=start, id__in=matching)


def traces_export_rows(queryset: QuerySet[Trace]) -> Iterator[dict]:
    """The rows of a filtered traces list as dicts of ``TRACE_EXPORT_FIELDS``, through a
    server-side cursor inside a transaction (see ``executions_export_rows``): memory does not grow
    with the row count."""
    with transaction.atomic():
        yield from queryset.values(*TRACE_EXPORT_FIELDS).iterator(chunk_size=EXPORT_CHUNK_ROWS)
