"""Trace read API: the tree (orphans, cycles, query count), spans with payloads, the traces list
with its filters and text search, sessions and end users."""

import datetime as dt
import json
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from observability import conf
from observability.models import Execution
from tests.observability.trace_factory import make_trace, span_hex

pytestmark = pytest.mark.django_db

API = "/api/v1/observability"


def test_tree_lists_spans_depth_first_with_parents(team, team_key_client):
    make_trace(team, spans=7)
    body = team_key_client.get(f"{API}/traces/{'a' * 32}/").json()
    assert body["trace"]["span_count"] == 7 and body["orphans"] == 0
    spans = body["spans"]
    assert [s["span_id"] for s in spans][:4] == [span_hex(0), span_hex(1), span_hex(3), span_hex(4)]
    depth = {s["span_id"]: s["depth"] for s in spans}
    assert depth[span_hex(0)] == 0 and depth[span_hex(1)] == 1 and depth[span_hex(3)] == 2
    root = spans[0]
    assert root["children"] == 2 and root["parent_span_id"] == "" and root["payload"] is None
    llm = next(s for s in spans if s["kind"] == "llm")
    assert llm["cost"] == "0.00100000" and llm["counts_usage"] is True
    assert spans[1]["offset_ms"] == 10.0


def test_spans_whose_parent_has_not_arrived_are_orphans_under_the_root(team, team_key_client):
    make_trace(team, spans=6, missing_parents=2)
    body = team_key_client.get(f"{API}/traces/{'a' * 32}/").json()
    assert body["orphans"] == 2
    orphans = [s for s in body["spans"] if s["orphan"]]
    assert [s["depth"] for s in orphans] == [1, 1]
    assert body["spans"][0]["children"] == 2 + 2  # its own two children and the two orphans


def test_without_the_root_every_top_span_is_listed(team, team_key_client):
    make_trace(team, spans=4, with_root=False)
    spans = team_key_client.get(f"{API}/traces/{'a' * 32}/").json()["spans"]
    assert len(spans) == 3 and all(s["orphan"] for s in spans if s["depth"] == 0)


def test_a_parent_cycle_hides_no_span(team, team_key_client):
    make_trace(team, spans=3)
    Execution.objects.filter(team=team, span_id=span_hex(1)).update(parent_span_id=span_hex(2))
    Execution.objects.filter(team=team, span_id=span_hex(2)).update(parent_span_id=span_hex(1))
    spans = team_key_client.get(f"{API}/traces/{'a' * 32}/").json()["spans"]
    assert sorted(s["span_id"] for s in spans) == [span_hex(0), span_hex(1), span_hex(2)]


def test_payloads_come_in_one_query_whatever_the_size(team, team_key_client):
    make_trace(team, spans=5, trace_id="b" * 32)
    make_trace(team, spans=300, trace_id="c" * 32)
    team_key_client.get(f"{API}/traces/{'b' * 32}/")  # the key's first use writes its last_used_at
    with CaptureQueriesContext(connection) as small:
        team_key_client.get(f"{API}/traces/{'b' * 32}/?payloads=true")
    with CaptureQueriesContext(connection) as large:
        body = team_key_client.get(f"{API}/traces/{'c' * 32}/?payloads=true").json()
    assert len(large) == len(small)
    root = body["spans"][0]
    assert root["payload"]["input"] == [{"role": "user", "content": "Hi"}] and root["payload"]["output"] == "Done."


def test_a_trace_larger_than_the_cap_says_so(team, team_key_client, monkeypatch):
    monkeypatch.setattr(conf, "TRACE_MAX_SPANS", 4)
    make_trace(team, spans=6)
    body = team_key_client.get(f"{API}/traces/{'a' * 32}/").json()
    assert body["truncated"] is True and len(body["spans"]) == 4


def test_another_teams_trace_and_span_answer_404(team, other_team, key_client):
    make_trace(team, spans=2)
    span = Execution.objects.get(team=team, span_id=span_hex(0))
    client = key_client(other_team)
    assert client.get(f"{API}/traces/{'a' * 32}/").status_code == 404
    assert client.get(f"{API}/spans/{span.pk}/").status_code == 404
    assert client.get(f"{API}/traces/").json()["results"] == []


def test_span_detail_has_payload_and_links(team, team_key_client):
    make_trace(team, spans=2)
    span = Execution.objects.get(team=team, span_id=span_hex(1))
    body = team_key_client.get(f"{API}/spans/{span.pk}/").json()
    assert body["payload"]["input"][0]["role"] == "user" and body["payload"]["input_truncated"] is False
    assert body["links"] == {
        "agent_id": None,
        "agent_version_id": None,
        "variant_id": None,
        "experiment_id": None,
        "build_id": None,
    }
    assert body["attributes"] == {"step": 1}


def test_traces_list_filters(team, team_key_client):
    make_trace(team, trace_id="1" * 32, session_id="s1", end_user_id="u1", tags=["prod"], error_at=1)
    make_trace(team, trace_id="2" * 32, session_id="s2", end_user_id="u2", agent_name="other", spans=2)

    def ids(query):
        response = team_key_client.get(f"{API}/traces/?{query}")
        assert response.status_code == 200, response.json()
        return [t["trace_id"][0] for t in response.json()["results"]]

    assert ids("session=s1") == ["1"]
    assert ids("user=u2") == ["2"]
    assert ids("tag=prod") == ["1"]
    assert ids("status=error") == ["1"]
    assert ids("agent=other") == ["2"]
    assert ids("min_cost=0.002") == ["1"]
    assert ids("max_cost=0.0015") == ["2"]
    assert sorted(ids("min_duration_ms=500")) == ["1", "2"]
    assert ids("ordering=cost") == ["2", "1"]


def test_bad_filter_is_a_400_naming_the_field(team_key_client):
    response = team_key_client.get(f"{API}/traces/?min_cost=lots")
    assert response.status_code == 400 and "min_cost" in response.json()["fields"]


def test_text_search_in_inputs_and_outputs_within_the_window(team, other_team, team_key_client):
    now = timezone.now()
    make_trace(team, trace_id="1" * 32, payload_text="refund my broken kettle")
    make_trace(team, trace_id="2" * 32, payload_text="weather in Lisbon")
    make_trace(team, trace_id="3" * 32, payload_text="refund again", started_at=now - dt.timedelta(days=20))
    make_trace(other_team, trace_id="4" * 32, payload_text="refund elsewhere")

    def ids(query):
        response = team_key_client.get(f"{API}/traces/?{query}")
        assert response.status_code == 200, response.json()
        return sorted(t["trace_id"][0] for t in response.json()["results"])

    assert ids("q=refund") == ["1"]  # the default window is the last 7 days; other teams never show
    assert ids("q=kettle") == ["1"] and ids("q=lisbon") == ["2"]
    assert ids("q=%22broken+kettle%22") == ["1"]
    start = (now - dt.timedelta(days=25)).isoformat()
    assert ids(f"q=refund&started_after={start.replace('+', '%2B')}") == ["1", "3"]


def test_text_search_window_is_bounded(team_key_client):
    start = (timezone.now() - dt.timedelta(days=conf.SEARCH_MAX_DAYS + 2)).isoformat().replace("+", "%2B")
    response = team_key_client.get(f"{API}/traces/?q=refund&started_after={start}")
    assert response.status_code == 400 and "q" in response.json()["fields"]


def test_text_search_uses_its_index():
    from observability.selectors.traces import SEARCH_DOCUMENT

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"EXPLAIN SELECT 1 FROM observability_spanpayload WHERE {SEARCH_DOCUMENT} @@ "
            "websearch_to_tsquery('simple'::regconfig, 'refund')"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        # The table is partitioned by month: each partition scans its own copy of the index.
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'spanpayload_text_search'::regclass"
        )
        partition_indexes = {row[0] for row in cursor.fetchall()}
    used = set(re.findall(r"Index Scan on (\S+)", plan))
    assert used and used <= partition_indexes, plan


def test_sessions_list_and_detail_as_a_conversation(team, team_key_client):
    start = timezone.now() - dt.timedelta(hours=1)
    first = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Where is my order?"}]
    make_trace(
        team,
        trace_id="1" * 32,
        session_id="chat-9",
        end_user_id="ana",
        messages=first,
        answer="On its way.",
        started_at=start,
    )
    second = [*first, {"role": "assistant", "content": "On its way."}, {"role": "user", "content": "When?"}]
    make_trace(
        team,
        trace_id="2" * 32,
        session_id="chat-9",
        end_user_id="ana",
        messages=second,
        answer="Tomorrow.",
        started_at=start + dt.timedelta(minutes=30),
        error_at=2,
    )
    make_trace(team, trace_id="3" * 32, session_id="chat-10", end_user_id="bo")
    sessions = team_key_client.get(f"{API}/sessions/").json()
    assert sessions["count"] == 2
    row = next(r for r in sessions["results"] if r["session_id"] == "chat-9")
    assert row["traces"] == 2 and row["errors"] == 1 and row["end_user_id"] == "ana" and row["cost"] == "0.00400000"
    assert team_key_client.get(f"{API}/sessions/?user=bo").json()["count"] == 1

    detail = team_key_client.get(f"{API}/sessions/chat-9/").json()
    assert detail["session"]["traces"] == 2
    turns = detail["turns"]
    assert [t["trace"]["trace_id"][0] for t in turns] == ["1", "2"]
    assert [m["content"] for m in turns[0]["messages"]] == ["Be kind.", "Where is my order?", "On its way."]
    assert [m["content"] for m in turns[1]["messages"]] == ["When?", "Tomorrow."]  # the history is not repeated
    assert team_key_client.get(f"{API}/sessions/nope/").status_code == 404


def test_end_users_with_counts_errors_and_cost(team, other_team, team_key_client):
    make_trace(team, trace_id="1" * 32, session_id="a", end_user_id="ana", error_at=1)
    make_trace(team, trace_id="2" * 32, session_id="b", end_user_id="ana")
    make_trace(team, trace_id="3" * 32, end_user_id="bo", spans=2)
    make_trace(other_team, trace_id="4" * 32, end_user_id="ana")
    rows = {r["end_user_id"]: r for r in team_key_client.get(f"{API}/users/?ordering=end_user_id").json()["results"]}
    assert set(rows) == {"ana", "bo"}
    assert rows["ana"]["traces"] == 2 and rows["ana"]["sessions"] == 2 and rows["ana"]["errors"] == 1
    assert rows["bo"]["sessions"] == 0 and rows["bo"]["cost"] == "0.00100000"


def test_spans_ingested_out_of_order_read_as_one_tree(team, team_key_client, now):
    from observability.services import executions_ingest

    trace = "4bf92f3577b34da6a3ce929d0e0e4737"
    start = now - dt.timedelta(minutes=5)

    def span(span_id, parent="", offset_ms=0, **extra):
        event = {"trace_id": trace, "span_id": span_id, "name": f"step {span_id}", "duration_ms": 100.0}
        event["started_at"] = (start + dt.timedelta(milliseconds=offset_ms)).isoformat()
        if parent:
            event["parent_span_id"] = parent
        else:
            event.update(agent="support-bot", kind="agent")
        return {**event, **extra}

    child = span("c000000000000001", "b000000000000001", 20, kind="llm", input=[{"role": "user", "content": "ship it"}])
    results = executions_ingest(team=team, events=[span("a000000000000001", duration_ms=500), child])
    assert [r["status"] for r in results] == ["stored", "stored"], results
    body = team_key_client.get(f"{API}/traces/{trace}/").json()
    assert body["orphans"] == 1 and body["spans"][1]["orphan"] is True  # its parent has not arrived

    executions_ingest(team=team, events=[span("b000000000000001", "a000000000000001", 10, kind="chain")])
    body = team_key_client.get(f"{API}/traces/{trace}/?payloads=true").json()
    assert body["orphans"] == 0
    assert [(s["span_id"][0], s["depth"]) for s in body["spans"]] == [("a", 0), ("b", 1), ("c", 2)]
    assert body["spans"][2]["payload"]["input"] == [{"role": "user", "content": "ship it"}]
    found = team_key_client.get(f"{API}/traces/?q=ship").json()["results"]
    assert [t["trace_id"] for t in found] == [trace]


def test_the_tree_api_document_equals_the_serializers_document(team, team_key_client):
    """The API writes its span objects in PostgreSQL (selectors.trace_json); the values are those
    of ``trace_document`` (the browsable API's path): times to the microsecond, money, payloads,
    orphans, attributes, tags, null links."""
    from rest_framework.renderers import JSONRenderer

    from observability.api.trace_serializers import trace_document
    from observability.selectors.traces import trace_get, trace_tree

    start = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=10)
    make_trace(team, spans=9, missing_parents=1, error_at=4, tags=("beta",), started_at=start)
    Execution.objects.filter(team=team, span_id=span_hex(2)).update(
        duration_ms=12.3456789, attributes={"gen_ai.system": "openai", "n": [1, 2.5, None]}, cost="0.12345678"
    )
    Execution.objects.filter(team=team, span_id=span_hex(3)).update(
        started_at=start + dt.timedelta(microseconds=7), duration_ms=0.0004, time_to_first_token_ms=1.5
    )
    trace = trace_get(team_ids=[team.pk], trace_id="a" * 32)
    for payloads in (False, True):
        expected = JSONRenderer().render(trace_document(trace_tree(trace=trace, payloads=payloads)))
        query = "?payloads=true" if payloads else ""
        response = team_key_client.get(f"{API}/traces/{'a' * 32}/{query}")
        assert response.status_code == 200 and response["Content-Type"] == "application/json"
        body = response.json()
        assert body == json.loads(expected)
        assert any(s["payload"] for s in body["spans"]) is payloads
    # The browsable API (text/html) still renders the same document through the serializer.
    html = team_key_client.get(f"{API}/traces/{'a' * 32}/", HTTP_ACCEPT="text/html")
    assert html.status_code == 200 and b"span_count" in html.content
