"""The live view: the last 15 or 60 minutes in one-minute buckets, refreshed by a static script
that fetches the page's fragment (no inline script: the CSP stays)."""

import datetime as dt
import json
import re

import pytest

from tests.hardening.htmlcheck import inspect

pytestmark = pytest.mark.django_db


def chart_spec(html, script_id):
    match = re.search(rf'<script id="{script_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, script_id
    return json.loads(match.group(1))


def test_live_page_shows_the_last_15_minutes_and_refreshes_itself(member_client, team, ingest, event_factory, now):
    ingest(
        team,
        [
            event_factory(id="in", started_at=(now - dt.timedelta(minutes=4)).isoformat()),
            event_factory(
                id="err", status="error", error_type="Boom", started_at=(now - dt.timedelta(minutes=4)).isoformat()
            ),
            event_factory(id="out", started_at=(now - dt.timedelta(minutes=25)).isoformat()),
        ],
    )
    response = member_client.get("/observability/live/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Last 15 minutes" in html and "one-minute buckets" in html and " UTC" in html
    assert re.search(r'<div class="value" id="kpi-executions"><a [^>]*>2</a>', html)
    trace = chart_spec(html, "obs-executions")["data"][0]
    assert len(trace["x"]) == 15 and sum(y for y in trace["y"] if y) == 2
    # Refreshed by a static file that fetches the fragment; the page has no inline script.
    assert 'src="/static/crucible/live.js"' in html
    assert 'data-live-url="?fragment=1"' in html and 'data-refresh-seconds="15"' in html
    facts = inspect(html)
    assert facts.inline_scripts == [] and facts.event_handlers == []
    policy = response["Content-Security-Policy"]
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]

    fragment = member_client.get("/observability/live/?fragment=1").content.decode()
    assert "<html" not in fragment and 'id="kpi-executions"' in fragment and "obs-executions" in fragment


def test_live_page_last_60_minutes_with_an_agent(member_client, team, ingest, event_factory, now):
    ingest(
        team,
        [
            event_factory(id="a", agent="planner", started_at=(now - dt.timedelta(minutes=50)).isoformat()),
            event_factory(id="b", agent="coder", started_at=(now - dt.timedelta(minutes=50)).isoformat()),
        ],
    )
    html = member_client.get("/observability/live/?range=1h&agent=planner").content.decode()
    assert "Last hour" in html
    trace = chart_spec(html, "obs-executions")["data"][0]
    assert len(trace["x"]) == 60 and sum(y for y in trace["y"] if y) == 1
    url = next(u for u, y in zip(trace["customdata"], trace["y"], strict=True) if y)
    assert "agent=planner" in url
    assert 'data-live-url="?range=1h&amp;agent=planner&amp;fragment=1"' in html


def test_live_page_ignores_ranges_it_does_not_offer(member_client):
    html = member_client.get("/observability/live/?range=90d").content.decode()
    assert "Last 15 minutes" in html
