"""The API's cursor lists (executions, traces, builds, assignments) page by the sort value and the
id of the row a page stops at: walking a list by a column where many rows share a value (a trace's
error count: most are 0) gives every row once, in the order the list promises, and the previous
links walk back through the same pages. DRF's own cursor kept the value alone plus an offset
among equal values, capped at 1,000, in an order PostgreSQL leaves free: walking 177,000 traces by
error count gave 1,000 rows of which 673 were distinct."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from observability.models import Execution, Trace

pytestmark = pytest.mark.django_db
TIES = 1_050  # more rows of one value than DRF's offset cap (1,000)


@pytest.fixture
def many_traces(team, other_team):
    start = timezone.now() - timedelta(hours=1)

    def trace(n, team, errors, spans):
        return Trace(
            team=team,
            trace_id=f"{team.pk:04x}{n:028x}",
            started_at=start + timedelta(milliseconds=n),
            ended_at=start + timedelta(milliseconds=n + 5),
            duration_ms=5,
            span_count=spans,
            error_count=errors,
        )

    rows = [trace(n, team, errors=0, spans=3) for n in range(TIES)]
    rows += [trace(TIES + n, team, errors=n % 3 + 1, spans=n % 5 + 1) for n in range(40)]
    rows += [trace(n, other_team, errors=0, spans=3) for n in range(30)]
    Trace.objects.bulk_create(rows)
    return Trace.objects.filter(team=team)


def _walk(client, url, link="next", key="trace_id"):
    """The pages of a cursor list from ``url``, following ``link`` to the end: each a list of ``key``."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        pages.append([row[key] for row in body["results"]])
        url = body[link]
    return pages


@pytest.mark.parametrize("ordering", ["-error_count", "error_count", "span_count", "-span_count", "-duration_ms"])
def test_walking_a_list_with_many_equal_values_gives_each_row_once_in_order(many_traces, team_key_client, ordering):
    pages = _walk(team_key_client, f"/api/v1/observability/traces/?ordering={ordering}&page_size=200")
    walked = [trace_id for page in pages for trace_id in page]

    field, descending = ordering.lstrip("-"), ordering.startswith("-")
    expected = sorted(many_traces, key=lambda t: (getattr(t, field), t.pk), reverse=descending)
    assert walked == [t.trace_id for t in expected]  # each once, ties by id in the same direction


def test_the_previous_links_walk_back_through_the_same_pages(many_traces, team_key_client):
    forward = _walk(team_key_client, "/api/v1/observability/traces/?ordering=-error_count&page_size=150")
    last_url = "/api/v1/observability/traces/?ordering=-error_count&page_size=150"
    for _ in range(len(forward) - 1):
        last_url = team_key_client.get(last_url).json()["next"]
    backward = _walk(team_key_client, last_url, link="previous")
    assert backward == forward[::-1]
    assert team_key_client.get(last_url).json()["next"] is None


def test_equal_start_times_page_by_id(team, team_key_client):
    """A batch reported with one timestamp: the executions list (newest first) pages through it."""
    started = timezone.now() - timedelta(minutes=5)
    Execution.objects.bulk_create(
        Execution(
            team=team,
            client_id=f"same-{n}",
            agent_name="agent",
            started_at=started,
            received_at=started,
            duration_ms=n % 2,
            status="success",
        )
        for n in range(25)
    )
    pages = _walk(team_key_client, "/api/v1/observability/executions/?page_size=4", key="id")
    walked = [execution_id for page in pages for execution_id in page]
    assert walked == sorted(Execution.objects.filter(team=team).values_list("id", flat=True), reverse=True)


def test_a_cursor_gives_nothing_of_another_team(many_traces, other_team, key_client, team_key_client):
    first = team_key_client.get("/api/v1/observability/traces/?ordering=-error_count&page_size=5").json()
    other = key_client(other_team).get(first["next"])
    assert other.status_code == 200
    shown = {row["trace_id"] for row in other.json()["results"]}
    assert shown and shown <= set(Trace.objects.filter(team=other_team).values_list("trace_id", flat=True))


def test_an_empty_cursor_is_the_first_page_and_a_bare_reverse_one_the_last(many_traces, team_key_client):
    url = "/api/v1/observability/traces/?ordering=-error_count&page_size=500"
    pages = _walk(team_key_client, url)
    first = team_key_client.get(f"{url}&cursor=").json()
    assert [row["trace_id"] for row in first["results"]] == pages[0] and first["previous"] is None
    last = team_key_client.get(f"{url}&cursor={base64.b64encode(b'r=1').decode()}").json()
    assert [row["trace_id"] for row in last["results"]] == [t for page in pages for t in page][-500:]
    assert last["next"] is None and last["previous"] is not None


def test_two_sort_fields_page_by_both_and_the_id(many_traces, team_key_client):
    pages = _walk(team_key_client, "/api/v1/observability/traces/?ordering=-error_count,-span_count&page_size=200")
    expected = sorted(many_traces, key=lambda t: (t.error_count, t.span_count, t.pk), reverse=True)
    assert [trace_id for page in pages for trace_id in page] == [t.trace_id for t in expected]


def test_sort_fields_going_both_ways_are_a_400_naming_ordering(many_traces, team_key_client):
    response = team_key_client.get("/api/v1/observability/traces/?ordering=-error_count,span_count")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["ordering"]
