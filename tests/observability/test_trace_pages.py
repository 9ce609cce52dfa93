"""Trace pages: list with search, the trace page (tree, waterfall, selected span), sessions and end users."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from observability.models import Execution, SpanPayload
from tests.observability.trace_factory import make_trace, span_hex

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged_in(client, member):
    client.force_login(member)
    return client


def test_nav_links_to_traces_sessions_and_users(logged_in):
    html = logged_in.get("/observability/").content.decode()
    for url in ("/observability/traces/", "/observability/sessions/", "/observability/users/"):
        assert f'href="{url}"' in html


def test_traces_list_page_filters_and_searches(team, logged_in):
    make_trace(team, trace_id="1" * 32, payload_text="refund kettle", session_id="s-1")
    make_trace(team, trace_id="2" * 32, payload_text="weather", end_user_id="bo")
    html = logged_in.get("/observability/traces/?q=kettle").content.decode()
    assert "/observability/traces/" + "1" * 32 + "/" in html and "2" * 32 not in html
    html = logged_in.get("/observability/traces/?user=bo").content.decode()
    assert "2" * 32 in html and "1" * 32 not in html
    html = logged_in.get("/observability/traces/?min_cost=lots").content.decode()
    assert "correct the filter" in html


def test_trace_page_shows_tree_waterfall_and_root_span(team, logged_in):
    make_trace(team, spans=7, error_at=3, missing_parents=1, messages=[{"role": "user", "content": "Where is it?"}])
    response = logged_in.get(f"/observability/traces/{'a' * 32}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="span-row') == 7
    assert "ToolError" in html and "orphan" in html
    assert re.search(r'<rect x="0\.0" y="1" width="1000\.0"', html)  # the root spans the whole trace
    assert 'id="span-detail"' in html and "Where is it?" in html and "message role-user" in html
    assert " style=" not in html and "<script>" not in html  # CSP: no inline styles or scripts


def test_selecting_a_span_shows_its_input_output_and_attributes(team, logged_in):
    make_trace(team, spans=3)
    span = Execution.objects.get(team=team, span_id=span_hex(1))
    SpanPayload.objects.filter(execution=span).update(
        output={"answer": "x" * 2000}, output_truncated=True, input=[{"role": "user", "content": "short question"}]
    )
    html = logged_in.get(f"/observability/traces/{'a' * 32}/?span={span.pk}").content.decode()
    assert f'id="span-{span.pk}" class="span-row span-selected"' in html
    assert "short question" in html and "truncated" in html
    assert '<details class="folded">' in html  # long JSON folded
    assert "Attributes" in html and "&quot;step&quot;: 1" in html


def test_a_span_of_another_trace_is_not_selected(team, logged_in):
    make_trace(team, spans=2)
    other = make_trace(team, spans=2, trace_id="b" * 32)
    foreign = Execution.objects.get(team=team, trace_id=other.trace_id, span_id=span_hex(1))
    html = logged_in.get(f"/observability/traces/{'a' * 32}/?span={foreign.pk}").content.decode()
    assert "span-selected" in html and f'id="span-{foreign.pk}"' not in html


def test_trace_page_query_count_does_not_grow_with_spans(team, logged_in):
    make_trace(team, spans=3, trace_id="b" * 32)
    make_trace(team, spans=400, trace_id="c" * 32)
    logged_in.get(f"/observability/traces/{'b' * 32}/")
    with CaptureQueriesContext(connection) as small:
        logged_in.get(f"/observability/traces/{'b' * 32}/")
    with CaptureQueriesContext(connection) as large:
        assert logged_in.get(f"/observability/traces/{'c' * 32}/").status_code == 200
    assert len(large) == len(small)


def test_another_teams_trace_and_session_are_404(other_team, logged_in):
    make_trace(other_team, session_id="theirs")
    assert logged_in.get(f"/observability/traces/{'a' * 32}/").status_code == 404
    assert logged_in.get("/observability/sessions/theirs/").status_code == 404
    assert "theirs" not in logged_in.get("/observability/sessions/").content.decode()


def test_session_page_is_a_conversation(team, logged_in):
    make_trace(team, session_id="chat-1", messages=[{"role": "user", "content": "Hello <b>there</b>"}], answer="Hi!")
    html = logged_in.get("/observability/sessions/chat-1/").content.decode()
    assert "Hello &lt;b&gt;there&lt;/b&gt;" in html and "Hi!" in html and "role-assistant" in html
    listing = logged_in.get("/observability/sessions/").content.decode()
    assert "/observability/sessions/chat-1/" in listing


def test_end_users_page(team, logged_in):
    make_trace(team, trace_id="1" * 32, end_user_id="ana", session_id="x", error_at=1)
    make_trace(team, trace_id="2" * 32, end_user_id="ana")
    html = logged_in.get("/observability/users/").content.decode()
    assert "/observability/traces/?user=ana" in html and "/observability/sessions/?user=ana" in html
    assert 'badge badge-bad">1<' in html


def test_trace_summaries_are_listed_read_only_in_the_admin(client, team):
    from crucible import services as core_services

    make_trace(team, session_id="in-admin")
    client.force_login(core_services.user_create(username="operator", password="pw-operator-1", is_superuser=True))
    listing = client.get("/admin/observability/trace/?q=in-admin")
    assert listing.status_code == 200 and "a" * 32 in listing.content.decode()
    assert client.get("/admin/observability/trace/add/").status_code == 403
