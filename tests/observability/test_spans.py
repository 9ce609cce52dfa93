"""Spans through the batch API: trees from out-of-order spans, counting once, idempotence per
span, bad input per span, and the trace summary."""

import datetime as dt
import json
import threading
from decimal import Decimal

import pytest
from django.db import connections

from observability import selectors, services
from observability.ingest.spans import derived_ids
from observability.models import Execution, HourlyRollup, SpanPayload, Trace

from .conftest import INGEST_URL

SPANS_URL = "/api/v1/observability/spans/"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def span(now, span_id, *, parent="", kind="llm", offset_ms=0, duration_ms=100.0, trace=TRACE, **extra):
    event = {
        "trace_id": trace,
        "span_id": span_id,
        "kind": kind,
        "name": f"{kind} {span_id}",
        "started_at": (now - dt.timedelta(minutes=5) + dt.timedelta(milliseconds=offset_ms)).isoformat(),
        "duration_ms": duration_ms,
    }
    if parent:
        event["parent_span_id"] = parent
    else:
        event["agent"] = "support-bot"
    event.update(extra)
    return event


def agent_trace(now, trace=TRACE):
    """invoke_agent -> chat -> execute_tool -> chat; the agent span also reports the usage total
    (as some SDKs do), which must not count twice."""
    return [
        span(now, "a000000000000001", kind="agent", duration_ms=900, input_tokens=450, output_tokens=90, trace=trace),
        span(
            now,
            "c000000000000001",
            parent="a000000000000001",
            offset_ms=10,
            model="gpt-4o",
            input_tokens=200,
            output_tokens=40,
            input=[{"role": "user", "content": "Where is my order?"}],
            trace=trace,
        ),
        span(
            now,
            "t000000000000001".replace("t", "d"),
            parent="a000000000000001",
            kind="tool",
            offset_ms=300,
            input={"order": 7},
            output={"status": "shipped"},
            trace=trace,
        ),
        span(
            now,
            "c000000000000002",
            parent="a000000000000001",
            offset_ms=400,
            model="gpt-4o",
            input_tokens=250,
            output_tokens=50,
            output=[{"role": "assistant", "content": "It shipped."}],
            trace=trace,
        ),
    ]


def rollup_totals(team):
    rows = HourlyRollup.objects.filter(team=team)
    return {
        "executions": sum(r.executions for r in rows),
        "input_tokens": sum(r.input_tokens for r in rows),
        "output_tokens": sum(r.output_tokens for r in rows),
    }


def verify(team, now):
    report = selectors.rollups_verify(start=now - dt.timedelta(days=1), end=now + dt.timedelta(days=1), team=team)
    assert report["ok"], report


@pytest.mark.django_db
def test_children_before_their_parent_across_requests_make_one_tree(team_key_client, team, now):
    spans = agent_trace(now)
    first = team_key_client.post(SPANS_URL, {"events": spans[1:]}, format="json")
    assert first.status_code == 200, first.content
    trace = Trace.objects.get(team=team, trace_id=TRACE)
    assert trace.root_span_id == "" and trace.span_count == 3
    second = team_key_client.post(SPANS_URL, {"events": spans[:1]}, format="json")
    assert second.json()["stored"] == 1
    trace.refresh_from_db()
    assert trace.root_span_id == "a000000000000001" and trace.name == "agent a000000000000001"
    assert trace.agent_name == "support-bot" and trace.span_count == 4
    assert trace.started_at == min(e.started_at for e in Execution.objects.filter(team=team))
    assert trace.duration_ms == pytest.approx(900.0)
    parents = dict(Execution.objects.filter(team=team).values_list("span_id", "parent_span_id"))
    assert parents == {
        "a000000000000001": "",
        "c000000000000001": "a000000000000001",
        "d000000000000001": "a000000000000001",
        "c000000000000002": "a000000000000001",
    }
    # children sent without an agent name before any agent span of their trace: "unknown"
    # (docs/observability.md: send `agent` on spans that may arrive before their agent span)
    assert set(Execution.objects.filter(team=team).values_list("agent_name", flat=True)) == {"support-bot", "unknown"}
    later = span(now, "c000000000000003", parent="c000000000000001", offset_ms=20)
    team_key_client.post(SPANS_URL, {"events": [later]}, format="json")
    assert Execution.objects.get(span_id="c000000000000003").agent_name == "support-bot"  # its trace's agent span


@pytest.mark.django_db
@pytest.mark.parametrize("order", ["agent_first", "llm_first", "one_batch"])
def test_tokens_and_cost_of_a_trace_count_once(team_key_client, team, now, order):
    spans = agent_trace(now)
    batches = {"agent_first": [spans[:1], spans[1:]], "llm_first": [spans[1:], spans[:1]], "one_batch": [spans]}
    for batch in batches[order]:
        assert team_key_client.post(SPANS_URL, {"events": batch}, format="json").status_code == 200
    # one execution (the agent span), the LLM calls' tokens once: 200+250 in, 40+50 out
    assert rollup_totals(team) == {"executions": 1, "input_tokens": 450, "output_tokens": 90}
    trace = Trace.objects.get(team=team, trace_id=TRACE)
    counted = Execution.objects.filter(team=team, counts_usage=True)
    assert trace.input_tokens == sum(e.input_tokens for e in counted) == 450
    assert trace.cost == sum(e.cost for e in counted if e.cost is not None) > 0
    assert not Execution.objects.get(span_id="a000000000000001").counts_usage
    verify(team, now)


@pytest.mark.django_db
def test_an_agent_without_llm_spans_keeps_its_own_usage(team_key_client, team, now):
    agent = span(now, "a000000000000001", kind="agent", input_tokens=100, output_tokens=10)
    tool = span(now, "b000000000000001", parent="a000000000000001", kind="tool")
    team_key_client.post(SPANS_URL, {"events": [agent, tool]}, format="json")
    assert rollup_totals(team) == {"executions": 1, "input_tokens": 100, "output_tokens": 10}
    assert Trace.objects.get(team=team).input_tokens == 100
    verify(team, now)


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_of_the_same_traces_stay_exact(team, now):
    traces = [f"{n:032x}" for n in range(1, 9)]
    batches = []
    for trace in traces:
        spans = agent_trace(now, trace=trace)
        batches += [[s] for s in spans]  # every span in its own request, racing
    errors = []

    def worker(mine):
        try:
            for batch in mine:
                results = services.executions_ingest(team=team, events=batch)
                assert all(r["status"] == "stored" for r in results), results
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(batches[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert rollup_totals(team) == {"executions": 8, "input_tokens": 8 * 450, "output_tokens": 8 * 90}
    for trace in Trace.objects.filter(team=team):
        assert (trace.span_count, trace.input_tokens, trace.output_tokens) == (4, 450, 90)
        assert trace.root_span_id == "a000000000000001"
    verify(team, now)


@pytest.mark.django_db
def test_a_span_sent_again_is_stored_once_and_other_content_is_refused(team_key_client, team, now):
    spans = agent_trace(now)
    team_key_client.post(SPANS_URL, {"events": spans}, format="json")
    again = team_key_client.post(SPANS_URL, {"events": spans}, format="json").json()
    assert [r["status"] for r in again["results"]] == ["duplicate"] * 4
    changed = dict(spans[1], output_tokens=41)
    body = team_key_client.post(SPANS_URL, {"events": [changed]}, format="json")
    assert body.status_code == 207
    result = body.json()["results"][0]
    assert result["status"] == "error" and result["field"] == "span_id"
    assert Trace.objects.get(team=team).span_count == 4
    assert rollup_totals(team)["output_tokens"] == 90


@pytest.mark.django_db
def test_bad_spans_are_refused_one_by_one(team_key_client, team, now):
    stored = span(now, "e000000000000001", parent="e000000000000002", kind="tool", agent="bot")
    team_key_client.post(SPANS_URL, {"events": [stored]}, format="json")
    other_trace = "0" * 31 + "1"
    events = [
        span(now, "e000000000000002", parent="e000000000000001", kind="tool"),  # cycle with the stored span
        span(now, "e000000000000003", parent="e000000000000003", kind="tool"),  # its own parent
        span(now, "e000000000000004", parent="f000000000000001", kind="tool"),  # parent in another trace
        span(now, "f000000000000001", trace=other_trace, kind="agent"),
        dict(
            span(now, "e000000000000005", kind="agent"),
            duration_ms=None,
            ended_at=(now - dt.timedelta(minutes=6)).isoformat(),
        ),  # ends before it starts
        span(now, "e000000000000006", kind="agent", input="\ud800 lone"),  # not UTF-8
        span(now, "e000000000000007", kind="agent"),  # fine
    ]
    # json.dumps escapes the lone surrogate as \ud800, as a client's JSON would carry it
    response = team_key_client.post(SPANS_URL, json.dumps({"events": events}), content_type="application/json")
    assert response.status_code == 207
    results = response.json()["results"]
    assert [(r["status"], r.get("field")) for r in results] == [
        ("error", "parent_span_id"),
        ("error", "parent_span_id"),
        ("error", "parent_span_id"),
        ("stored", None),
        ("error", "ended_at"),
        ("error", "input"),
        ("stored", None),
    ]
    assert "cycle" in results[0]["message"] and "another trace" in results[2]["message"]
    assert Execution.objects.filter(team=team).count() == 3
    assert not SpanPayload.objects.filter(team=team).exists()


@pytest.mark.django_db
def test_lone_surrogate_in_raw_json_is_a_per_span_error(team_key_client, team, now):
    event = '{"id": "x1", "agent": "a", "duration_ms": 1, "name": "\\udc00", "started_at": "' + now.isoformat() + '"}'
    body = '{"events": [' + event + "]}"
    response = team_key_client.post(INGEST_URL, body, content_type="application/json")
    assert response.status_code == 207
    assert response.json()["results"][0]["field"] == "name"


@pytest.mark.django_db
def test_payload_over_the_cap_is_truncated_with_a_flag(team_key_client, team, now, settings, monkeypatch):
    from observability import conf

    monkeypatch.setattr(conf, "TRACE_PAYLOAD_MAX_BYTES", 100)
    event = span(
        now,
        "a000000000000009",
        kind="agent",
        input="é" * 200,
        output={"text": "x" * 500},
        attributes={"small": 1, "big": "y" * 500},
    )
    response = team_key_client.post(SPANS_URL, {"events": [event]}, format="json")
    assert response.status_code == 200
    payload = SpanPayload.objects.get(team=team)
    assert payload.input_truncated and payload.output_truncated
    assert payload.input == "é" * 50  # 100 bytes, cut on a character boundary
    assert isinstance(payload.output, str) and payload.output.startswith('{"text":"xxx') and len(payload.output) <= 100
    execution = Execution.objects.get(team=team)
    assert execution.attributes == {"crucible.truncated": True, "small": 1}


@pytest.mark.django_db
def test_old_executions_without_ids_get_derived_ones(team_key_client, team, now, event_factory):
    team_key_client.post(INGEST_URL, {"events": [event_factory(id="legacy-1")]}, format="json")
    execution = Execution.objects.get(team=team)
    assert (execution.trace_id, execution.span_id) == derived_ids("legacy-1")
    assert execution.kind == "agent" and execution.counts_execution and execution.counts_usage
    trace = Trace.objects.get(team=team)
    assert trace.root_span_id == execution.span_id and trace.span_count == 1
    assert trace.input_tokens == execution.input_tokens and trace.cost == (execution.cost or Decimal(0))


@pytest.mark.django_db
def test_migration_gives_existing_executions_the_same_ids_and_a_trace(team, now):
    from importlib import import_module

    from crucible import sql

    migration = import_module("observability.migrations.0007_span_ingest")
    Execution.objects.create(
        team=team,
        client_id="before-spans",
        agent_name="a",
        started_at=now,
        duration_ms=5,
        status="error",
        cost_source="none",
        input_tokens=7,
    )
    Execution.objects.filter(client_id="before-spans").update(trace_id="", span_id="", name="")
    sql.execute(migration.SPANS_SQL, {})
    sql.execute(migration.TRACES_SQL, {})
    execution = Execution.objects.get(client_id="before-spans")
    assert (execution.trace_id, execution.span_id) == derived_ids("before-spans")
    assert execution.name == "a"
    trace = Trace.objects.get(team=team, trace_id=execution.trace_id)
    assert (trace.status, trace.span_count, trace.error_count, trace.input_tokens) == ("error", 1, 1, 7)


@pytest.mark.django_db
def test_deleting_spans_keeps_rollups_exact(team_key_client, team, now):
    from observability import deletion

    team_key_client.post(SPANS_URL, {"events": agent_trace(now)}, format="json")
    deletion.executions_delete(executions=Execution.objects.filter(team=team, span_id="c000000000000001"))
    assert rollup_totals(team) == {"executions": 1, "input_tokens": 250, "output_tokens": 50}
    verify(team, now)
    deletion.executions_delete(executions=Execution.objects.filter(team=team, kind="agent"))
    assert rollup_totals(team) == {"executions": 0, "input_tokens": 250, "output_tokens": 50}  # the LLM call stays
    verify(team, now)


@pytest.mark.django_db
def test_spans_of_kind_other_below_an_agent_are_not_executions(team_key_client, team, now):
    events = [
        span(now, "a000000000000001", kind="agent"),
        span(now, "b000000000000001", parent="a000000000000001", kind="other", name="GET /orders"),
        span(now, "b000000000000002", parent="a000000000000001", kind="tool", status="error", error_type="Boom"),
    ]
    team_key_client.post(SPANS_URL, {"events": events}, format="json")
    assert rollup_totals(team)["executions"] == 1
    assert Trace.objects.get(team=team).error_count == 1
    verify(team, now)
