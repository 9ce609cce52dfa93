"""Traces: span rows link to their execution pages and back; a trace downloads as JSON; the
traces list exports as streamed CSV or JSON Lines with the list's filters; session ids made of any
text ("/", "%", "?", "#", spaces, Unicode) open their pages."""

import csv
import datetime as dt
import io
import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from observability.models import Execution
from tests.observability.trace_factory import make_trace, span_hex

pytestmark = pytest.mark.django_db

TRACE = "a" * 32
API = "/api/v1/observability"


def body(response) -> bytes:
    assert response.streaming
    return b"".join(response.streaming_content)


def test_every_span_row_links_to_its_execution_page(team, member_client):
    make_trace(team, spans=4)
    html = member_client.get(f"/observability/traces/{TRACE}/").content.decode()
    for span in Execution.objects.filter(team=team, trace_id=TRACE):
        assert f'href="/observability/executions/{span.pk}/" class="span-execution"' in html
    root = Execution.objects.get(team=team, trace_id=TRACE, span_id=span_hex(0))
    assert f'<a href="/observability/executions/{root.pk}/" id="link-execution">' in html  # the selected span


def test_the_execution_page_links_back_to_its_span_in_the_trace(team, member_client):
    make_trace(team, spans=3)
    span = Execution.objects.get(team=team, trace_id=TRACE, span_id=span_hex(2))
    html = member_client.get(f"/observability/executions/{span.pk}/").content.decode()
    back = f"/observability/traces/{TRACE}/?span={span.pk}#span-detail"
    assert f'href="{back}" id="link-trace"' in html
    page = member_client.get(back.split("#")[0]).content.decode()
    assert f'id="span-{span.pk}" class="span-row span-selected"' in page


def test_a_trace_downloads_as_json_with_its_payloads(team, member_client):
    make_trace(team, spans=3, payload_text="where is my kettle")
    response = member_client.get(f"/observability/traces/{TRACE}/?download=json")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="trace-{TRACE}.json"'
    document = json.loads(response.content)
    assert document["trace"]["trace_id"] == TRACE and len(document["spans"]) == 3
    assert document["spans"][0]["depth"] == 0 and document["spans"][0]["payload"]["output"] == "Done."
    assert any("kettle" in json.dumps(s["payload"]) for s in document["spans"])
    api = member_client.get(f"{API}/traces/{TRACE}/", {"payloads": "true"}).json()
    assert api == document  # one document, the tree API's


def test_another_teams_trace_does_not_download(other_team, member_client):
    make_trace(other_team)
    assert member_client.get(f"/observability/traces/{TRACE}/?download=json").status_code == 404


@pytest.fixture
def traces_of_two_teams(team, other_team):
    now = timezone.now()
    make_trace(team, trace_id="1" * 32, session_id="s-1", tags=["prod"], started_at=now - dt.timedelta(minutes=5))
    make_trace(team, trace_id="2" * 32, session_id="s-2", error_at=1, started_at=now - dt.timedelta(minutes=3))
    make_trace(
        team, trace_id="3" * 32, tags=["prod"], payload_text="=SUM(A1)", started_at=now - dt.timedelta(minutes=1)
    )
    make_trace(other_team, trace_id="4" * 32, tags=["prod"])


def test_traces_page_export_csv_with_the_lists_filters(member_client, traces_of_two_teams):
    html = member_client.get("/observability/traces/", {"tag": "prod"}).content.decode()
    assert re.search(r'href="/observability/traces/export/\?tag=prod&amp;[^"]*export_format=csv"', html)
    response = member_client.get("/observability/traces/export/", {"tag": "prod", "export_format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="traces-')
    rows = list(csv.DictReader(io.StringIO(body(response).decode())))
    assert [r["trace_id"] for r in rows] == ["3" * 32, "1" * 32]  # newest first; another team's is not there
    assert rows[1]["session_id"] == "s-1" and rows[1]["tags"] == '["prod"]' and rows[1]["cost"] == "0.00200000"


def test_traces_page_export_jsonl_sorted_and_searched(member_client, traces_of_two_teams):
    response = member_client.get(
        "/observability/traces/export/", {"export_format": "jsonl", "ordering": "-errors", "q": "SUM"}
    )
    lines = [json.loads(line) for line in body(response).decode().splitlines()]
    assert [line["trace_id"] for line in lines] == ["3" * 32]
    everything = member_client.get("/observability/traces/export/", {"export_format": "jsonl", "ordering": "-errors"})
    first = json.loads(body(everything).decode().splitlines()[0])
    assert first["trace_id"] == "2" * 32 and first["status"] == "error" and first["started_at"].endswith("Z")


def test_traces_page_export_refuses_a_bad_filter_or_format(member_client, traces_of_two_teams):
    bad = member_client.get("/observability/traces/export/", {"min_cost": "lots"})
    assert bad.status_code == 400 and "min_cost" in bad.content.decode()
    assert member_client.get("/observability/traces/export/", {"export_format": "xlsx"}).status_code == 400


def test_traces_api_export(team_key_client, traces_of_two_teams):
    response = team_key_client.get(f"{API}/traces/export/", {"export_format": "jsonl", "session": "s-2"})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/x-ndjson")
    [line] = [json.loads(x) for x in body(response).decode().splitlines()]
    assert line["trace_id"] == "2" * 32 and line["error_count"] == 1
    bad = team_key_client.get(f"{API}/traces/export/", {"export_format": "pdf"})
    assert bad.status_code == 400 and "export_format" in bad.json()["fields"]


ODD_IDS = ["chat/2024/07", "100% sure", "what?", "#general", "a b  c", "ünïcödé-会话", "..", "a%2Fb", "/lead/"]


@pytest.mark.parametrize("session_id", ODD_IDS)
def test_a_session_id_of_any_text_opens_its_page(team, member_client, session_id):
    make_trace(team, session_id=session_id, end_user_id=session_id, messages=[{"role": "user", "content": "Hi odd"}])
    listing = member_client.get("/observability/sessions/").content.decode()
    url = reverse("observability:session", args=[session_id])
    assert f'href="{url}"' in listing
    response = member_client.get(url)
    assert response.status_code == 200 and response.context["session"]["session_id"] == session_id
    trace_page = member_client.get(f"/observability/traces/{TRACE}/").content.decode()
    assert f'href="{url}"' in trace_page
    # The end user's traces are a query parameter: any text goes.
    users = member_client.get("/observability/traces/", {"user": session_id}).content.decode()
    assert f"/observability/traces/{TRACE}/" in users


def test_a_session_id_with_a_slash_typed_plainly_opens_too(team, member_client):
    make_trace(team, session_id="team/chat-1")
    assert member_client.get("/observability/sessions/team/chat-1/").status_code == 200
    assert member_client.get("/observability/sessions/team/other/").status_code == 404


@pytest.mark.parametrize("session_id", ["chat/2024/07", "100% sure", "what?", "#general", "ünï cödé"])
def test_the_sessions_api_reads_a_session_id_of_any_text(team, team_key_client, session_id):
    from urllib.parse import quote

    make_trace(team, session_id=session_id)
    response = team_key_client.get(f"{API}/sessions/{quote(session_id, safe='')}/")
    assert response.status_code == 200 and response.json()["session"]["session_id"] == session_id
