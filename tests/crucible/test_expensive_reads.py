"""Expensive reads (issue 15, item 5): every request's database time is bounded (a statement
timeout answered with a clear error, not a 500), the work a query text can cause is bounded, and
expensive endpoints have a budget of their own per key."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from crucible.middleware import statement_timeout_clear
from crucible.models import Role
from teammemory.selectors import insights as teammemory_insights

SUGGEST = "/api/v1/teammemory/suggestions/"
INSIGHTS = "/api/v1/teammemory/insights/"


@pytest.fixture
def short_statement_timeout(settings):
    settings.DB_STATEMENT_TIMEOUT_MS = 200
    yield
    # The setting stays on the test's connection after a request; the database flush after a
    # transactional test must not run under it.
    statement_timeout_clear(connection)


def _slow_insights(**kwargs):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(2)")
    raise AssertionError("the statement should have been cancelled")


@pytest.mark.django_db(transaction=True)
def test_a_statement_past_the_timeout_is_a_503_query_timeout_and_the_next_request_works(
    key_client, team, short_statement_timeout, monkeypatch
):
    client = key_client(team, role=Role.VIEWER)
    monkeypatch.setattr(teammemory_insights, "team_insights", _slow_insights)
    start = time.monotonic()
    response = client.get(INSIGHTS)
    elapsed = time.monotonic() - start
    assert response.status_code == 503, response.content[:300]
    body = response.json()
    assert body["code"] == "query_timeout" and body["fields"] == {}
    assert "database time" in body["message"]
    assert elapsed < 1.5  # cancelled after 200 ms, not after the 2 s sleep
    monkeypatch.undo()
    assert client.get(INSIGHTS).status_code == 200  # the same connection serves the next request


@pytest.mark.django_db(transaction=True)
def test_a_page_past_the_timeout_says_so_in_a_503(member_client, short_statement_timeout, monkeypatch):
    monkeypatch.setattr(teammemory_insights, "team_insights", _slow_insights)
    response = member_client.get("/teammemory/")
    assert response.status_code == 503
    assert b"more database time than allowed" in response.content


@pytest.mark.django_db
def test_the_timeout_is_set_for_each_request(key_client, team, settings):
    settings.DB_STATEMENT_TIMEOUT_MS = 1234
    key_client(team).get("/api/v1/teams/")
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "1234ms"
    statement_timeout_clear(connection)


@pytest.fixture
def expensive_rate():
    rates = dict(api_settings.DEFAULT_THROTTLE_RATES, expensive="2/min")
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    yield
    SimpleRateThrottle.THROTTLE_RATES = original


@pytest.mark.django_db
def test_expensive_endpoints_share_a_budget_of_their_own_per_key(key_client, team, expensive_rate):
    client = key_client(team, role=Role.VIEWER)
    body = {"requirements": "A REST API for invoices"}
    codes = [
        client.post(SUGGEST, body, format="json").status_code,
        client.get("/api/v1/marketplace/agents/?q=invoice").status_code,
        client.get("/api/v1/observability/dashboard/").status_code,
        client.get(INSIGHTS).status_code,
    ]
    assert codes == [200, 200, 429, 429]
    refused = client.post(SUGGEST, body, format="json")
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert refused.has_header("Retry-After")
    # Cheap reads are not counted against it, and another key has its own budget.
    assert client.get("/api/v1/teams/").status_code == 200
    assert client.get("/api/v1/marketplace/agents/").status_code == 200
    assert key_client(team, role=Role.VIEWER).get(INSIGHTS).status_code == 200
