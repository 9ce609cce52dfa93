"""Traces written straight to the tables (the ingest side is tested apart): spans, payloads and the
trace summary, for the read side's tests and the browser test."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from observability.models import Execution, SpanPayload, Trace


def span_hex(n: int, width: int = 16) -> str:
    return f"{n:0{width}x}"


def make_trace(
    team,
    *,
    trace_id: str = "a" * 32,
    spans: int = 5,
    started_at: dt.datetime | None = None,
    session_id: str = "",
    end_user_id: str = "",
    agent_name: str = "support-bot",
    tags=(),
    payload_text: str = "",
    messages=None,
    answer: str = "Done.",
    error_at: int | None = None,
    missing_parents: int = 0,
    with_root: bool = True,
):
    """A trace of ``spans`` spans: an agent root, then LLM and tool spans in a chain of depth
    up to 3 (span i's parent is i // 3). ``missing_parents`` spans point at parents that never
    arrived; ``with_root=False`` leaves the root out."""
    start = started_at or timezone.now() - dt.timedelta(minutes=10)
    rows = []
    for i in range(spans):
        kind = "agent" if i == 0 else ("llm" if i % 2 else "tool")
        parent = "" if i == 0 else span_hex(i // 3 if i >= 3 else 0)
        if i > 0 and i > spans - 1 - missing_parents:
            parent = span_hex(10**9 + i)
        error = error_at == i
        rows.append(
            Execution(
                team=team,
                client_id=f"{trace_id}-{i}",
                agent_name=agent_name,
                trace_id=trace_id,
                span_id=span_hex(i),
                parent_span_id=parent,
                kind=kind,
                name=f"{kind} step {i}",
                model="gpt-4o" if kind == "llm" else "",
                started_at=start + dt.timedelta(milliseconds=10 * i),
                duration_ms=1000.0 if i == 0 else 50.0,
                status="error" if error else "success",
                error_type="ToolError" if error else "",
                error_message="Traceback (most recent call last):\n  boom" if error else "",
                input_tokens=100 if kind == "llm" else 0,
                output_tokens=20 if kind == "llm" else 0,
                cost=Decimal("0.00100000") if kind == "llm" else None,
                cost_source="client" if kind == "llm" else "none",
                counts_execution=i == 0,
                counts_usage=kind == "llm",
                session_id=session_id,
                end_user_id=end_user_id,
                tags=list(tags),
                attributes={"step": i},
            )
        )
    if not with_root:
        rows = rows[1:]
    Execution.objects.bulk_create(rows)
    payloads = []
    for span in rows:
        if span.kind == "agent":
            payloads.append(
                SpanPayload(
                    execution=span,
                    team=team,
                    started_at=span.started_at,
                    input=messages if messages is not None else [{"role": "user", "content": payload_text or "Hi"}],
                    output=answer,
                )
            )
        elif span.kind == "llm":
            payloads.append(
                SpanPayload(
                    execution=span,
                    team=team,
                    started_at=span.started_at,
                    input=[{"role": "user", "content": f"{payload_text} call {span.span_id}"}],
                    output={"finish_reason": "stop", "text": "ok " + "x" * 50},
                )
            )
    SpanPayload.objects.bulk_create(payloads)
    llm = [r for r in rows if r.kind == "llm"]
    return Trace.objects.create(
        team=team,
        trace_id=trace_id,
        root_span_id=span_hex(0) if with_root else "",
        name=rows[0].name,
        agent_name=agent_name,
        started_at=start,
        ended_at=start + dt.timedelta(milliseconds=1000),
        duration_ms=1000.0,
        status="error" if error_at is not None else "success",
        span_count=len(rows),
        error_count=1 if error_at is not None else 0,
        input_tokens=100 * len(llm),
        output_tokens=20 * len(llm),
        cost=Decimal("0.001") * len(llm),
        session_id=session_id,
        end_user_id=end_user_id,
        tags=list(tags),
    )
