"""Demo traces (called by ``observability.demo.seed``): what the trace pages show.

For Acme, through the real ingest (``executions_ingest``: redaction, caps, counting once):
``support-concierge`` conversations, sessions of two to five turns by a dozen end users, each
turn a trace invoke_agent -> chat -> execute_tool -> chat (sometimes a retrieval and a second tool
call), with the messages and tool arguments and results; some turns fail with a Python stack
trace in their status message; and one ``catalog-indexer`` run of 1,000 spans.
"""

from __future__ import annotations

import datetime as dt

from observability.ingest import executions_ingest

AGENT = "support-concierge"
MODEL = "gpt-4o-mini"
QUESTIONS = [
    ("Where is my order {n}?", "lookup_order", {"order": "{n}"}, {"status": "shipped", "carrier": "DHL"}),
    ("Can I return the shoes from order {n}?", "return_policy", {"order": "{n}"}, {"returnable": True, "days": 30}),
    ("Change the delivery address of order {n}", "update_address", {"order": "{n}"}, {"updated": True}),
    ("Do you ship to Norway?", "search_kb", {"query": "shipping Norway"}, {"hits": ["Shipping to the EEA"]}),
    ("My invoice for order {n} is wrong", "lookup_invoice", {"order": "{n}"}, {"total": "129.90 EUR"}),
]
ANSWERS = [
    "Your order {n} has shipped with DHL; it should arrive in two days.",
    "Yes: you can return it within 30 days; I have sent you a return label.",
    "Done: order {n} will go to the new address.",
    "Yes, we ship to Norway; delivery takes three to five working days.",
    "I have asked billing to correct the invoice of order {n}.",
]
STACK = (
    "Traceback (most recent call last):\n"
    '  File "/srv/concierge/tools.py", line 88, in {tool}\n'
    "    response = client.get(url, timeout=5)\n"
    '  File "/srv/concierge/http.py", line 41, in get\n'
    "    raise TimeoutError(f'{{url}} did not answer in {{timeout}} s')\n"
    "TimeoutError: https://orders.internal/api did not answer in 5 s"
)
SYSTEM = "You are Acme's support concierge. Answer briefly; use the tools for order data."


def _ids(rng):
    return f"{rng.getrandbits(128):032x}", lambda: f"{rng.getrandbits(64):016x}"


def _span(trace_id, span_id, parent, kind, name, started, duration_ms, **extra):
    event = {
        "trace_id": trace_id,
        "span_id": span_id,
        "kind": kind,
        "name": name,
        "started_at": started.isoformat(),
        "duration_ms": round(duration_ms, 3),
        **extra,
    }
    if parent:
        event["parent_span_id"] = parent
    else:
        event["agent"] = AGENT
    return event


def _turn(rng, started, *, session, user, history):
    """The spans of one conversation turn (a trace), and the turn's messages for the next one."""
    trace_id, new_span = _ids(rng)
    root = new_span()
    question, tool, arguments, result = QUESTIONS[rng.randrange(len(QUESTIONS))]
    n = rng.randrange(10000, 99999)
    asked = [*history, {"role": "user", "content": question.format(n=n)}]
    messages = [{"role": "system", "content": SYSTEM}, *asked]
    failed = rng.random() < 0.06
    t = started
    spans = []
    first_ms = rng.lognormvariate(6.6, 0.3)
    call = {"role": "assistant", "tool_calls": [{"id": f"call_{n}", "name": tool, "arguments": arguments}]}
    spans.append(
        _span(
            trace_id,
            new_span(),
            root,
            "llm",
            f"chat {MODEL}",
            t + dt.timedelta(milliseconds=15),
            first_ms,
            model=MODEL,
            input_tokens=180 + 40 * len(history),
            output_tokens=rng.randrange(18, 40),
            input=messages,
            output=[call],
            request_params={"temperature": 0.2},
            time_to_first_token_ms=round(first_ms * 0.4, 1),
        )
    )
    t += dt.timedelta(milliseconds=20 + first_ms)
    if tool == "search_kb":
        spans.append(
            _span(
                trace_id,
                new_span(),
                root,
                "retrieval",
                "retrieve knowledge_base",
                t,
                rng.uniform(40, 140),
                input={"query": arguments["query"]},
                output=result["hits"],
            )
        )
        t += dt.timedelta(milliseconds=150)
    tool_ms = rng.lognormvariate(5.3, 0.5) if not failed else 5000.0
    tool_args = {k: str(v).format(n=n) for k, v in arguments.items()}
    tool_span = _span(
        trace_id,
        new_span(),
        root,
        "tool",
        f"execute_tool {tool}",
        t,
        tool_ms,
        input=tool_args,
        output=None if failed else result,
        attributes={"gen_ai.tool.call.id": f"call_{n}"},
    )
    if failed:
        tool_span.update(status="error", error_type="TimeoutError", error_message=STACK.format(tool=tool))
    spans.append(tool_span)
    t += dt.timedelta(milliseconds=tool_ms + 5)
    answer = ANSWERS[QUESTIONS.index((question, tool, arguments, result))].format(n=n)
    if failed:
        answer = "Sorry, I cannot reach the order system right now. Please try again in a few minutes."
    final_ms = rng.lognormvariate(6.9, 0.3)
    spans.append(
        _span(
            trace_id,
            new_span(),
            root,
            "llm",
            f"chat {MODEL}",
            t,
            final_ms,
            model=MODEL,
            input_tokens=260 + 40 * len(history),
            output_tokens=rng.randrange(25, 70),
            input=[*messages, call, {"role": "tool", "content": result if not failed else "TimeoutError"}],
            output=[{"role": "assistant", "content": answer}],
            request_params={"temperature": 0.2},
        )
    )
    t += dt.timedelta(milliseconds=final_ms + 10)
    agent = _span(
        trace_id,
        root,
        "",
        "agent",
        f"invoke_agent {AGENT}",
        started,
        (t - started).total_seconds() * 1000,
        model=MODEL,
        session_id=session,
        user_id=user,
        tags=["support", "web"],
        input=asked[-1]["content"],
        output=answer,
    )
    if failed:
        agent.update(status="error", error_type="TimeoutError", error_message=STACK.format(tool=tool))
    return [agent, *spans], [*asked, {"role": "assistant", "content": answer}]


def _large_trace(rng, started):
    """One indexing run of 1,000 spans: an agent, 333 documents, each chunked, embedded and stored."""
    trace_id, new_span = _ids(rng)
    root = new_span()
    spans, t = [], started
    for doc in range(333):
        chain = new_span()
        spans.append(
            _span(
                trace_id,
                chain,
                root,
                "chain",
                f"index doc-{doc:03d}",
                t,
                60.0,
                input={"document": f"catalog/{doc:03d}.md"},
            )
        )
        spans.append(
            _span(
                trace_id,
                new_span(),
                chain,
                "embedding",
                "embeddings text-embedding-3-small",
                t + dt.timedelta(milliseconds=5),
                35.0,
                model="text-embedding-3-small",
                input_tokens=rng.randrange(300, 900),
            )
        )
        spans.append(
            _span(
                trace_id,
                new_span(),
                chain,
                "tool",
                "execute_tool upsert_vectors",
                t + dt.timedelta(milliseconds=42),
                15.0,
                input={"vectors": 1},
                output={"ok": True},
            )
        )
        t += dt.timedelta(milliseconds=62)
    agent = _span(
        trace_id,
        root,
        "",
        "agent",
        "invoke_agent catalog-indexer",
        started,
        (t - started).total_seconds() * 1000 + 5,
        tags=["batch"],
    )
    agent["agent"] = "catalog-indexer"
    return [agent, *spans]


def seed(ctx, team, now) -> int:
    """Seed Acme's traces; returns the number of spans stored."""
    rng = ctx.rng
    events = []
    users = [f"customer-{n:04d}" for n in rng.sample(range(1000, 9999), 12)]
    for s in range(60):
        started = now - dt.timedelta(days=rng.uniform(0.05, 7))
        session, user, history = f"sess-{rng.getrandbits(48):012x}", users[s % len(users)], []
        for _ in range(rng.randrange(2, 6)):
            spans, history = _turn(rng, started, session=session, user=user, history=history)
            events += spans
            started += dt.timedelta(seconds=rng.uniform(20, 240))
    events = [e for e in events if e["started_at"] < now.isoformat()]
    events += _large_trace(rng, now - dt.timedelta(hours=3))
    stored = 0
    for start in range(0, len(events), 1000):
        results = executions_ingest(team=team, events=events[start : start + 1000])
        stored += sum(1 for r in results if r["status"] == "stored")
    return stored
