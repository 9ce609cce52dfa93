"""Periods of the observability dashboards: one bucket size per range, series without holes or
lines across them, the last hour as sixty minutes, start/end applied whatever the range."""

import datetime as dt
import json
import re

import pytest

pytestmark = pytest.mark.django_db

BASE = "/api/v1/observability"


def chart_spec(html, script_id):
    match = re.search(rf'<script id="{script_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, script_id
    return json.loads(match.group(1))


def parse(text):
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def three_days_ago_afternoon(team, ingest, event_factory, now):
    """Two executions at 13:30 UTC three days ago (a whole day, read from daily rollups before)."""
    moment = (
        now.replace(hour=0, minute=0, second=0, microsecond=0)
        - dt.timedelta(days=3)
        + dt.timedelta(hours=13, minutes=30)
    )
    ingest(team, [event_factory(agent="planner", started_at=moment.isoformat()) for _ in range(2)])
    return moment


def test_last_7_days_api_series_is_6_hourly_from_hourly_rows(member_client, three_days_ago_afternoon):
    data = member_client.get(f"{BASE}/dashboard/?range=7d").json()
    assert data["period"]["bucket"] == "6h"
    times = [parse(p["time"]) for p in data["series"]]
    # Continuous: one point per 6-hour bucket of the 7 days, none missing.
    assert len(times) == 28 and all(b - a == dt.timedelta(hours=6) for a, b in zip(times, times[1:], strict=False))
    counts = {parse(p["time"]): p["executions"] for p in data["series"]}
    noon_slot = three_days_ago_afternoon.replace(hour=12, minute=0)
    assert counts[noon_slot] == 2  # not in the 00:00 slot of that day
    assert counts[noon_slot.replace(hour=0)] == 0
    empty = next(p for p in data["series"] if p["executions"] == 0)
    assert empty["error_rate"] is None and empty["p95_ms"] is None  # a gap, not a zero rate


def test_last_7_days_agent_api_and_pages(member_client, three_days_ago_afternoon):
    noon_slot = three_days_ago_afternoon.replace(hour=12, minute=0)
    data = member_client.get(f"{BASE}/agents/planner/?range=7d").json()
    counts = {parse(p["time"]): p["executions"] for p in data["series"]}
    assert len(counts) == 28 and counts[noon_slot] == 2 and counts[noon_slot.replace(hour=0)] == 0

    for url in ("/observability/?range=7d", "/observability/agents/planner/?range=7d"):
        html = member_client.get(url).content.decode()
        executions = chart_spec(html, "obs-executions")["data"][0]
        x = [parse(t) for t in executions["x"]]
        assert len(x) == 28 and executions["y"][x.index(noon_slot)] == 2
        p95 = chart_spec(html, "obs-p95")["data"][0]
        assert p95["connectgaps"] is False and None in p95["y"]  # no line drawn across empty buckets


def test_last_hour_is_sixty_one_minute_buckets(member_client, team, ingest, event_factory, now):
    ingest(
        team,
        [
            event_factory(agent="planner", started_at=(now - dt.timedelta(minutes=2)).isoformat()),
            event_factory(agent="planner", started_at=(now - dt.timedelta(minutes=2)).isoformat()),
            event_factory(agent="planner", started_at=(now - dt.timedelta(minutes=41)).isoformat()),
            event_factory(agent="planner", started_at=(now - dt.timedelta(minutes=80)).isoformat()),
        ],
    )
    data = member_client.get(f"{BASE}/dashboard/?range=1h").json()
    start, end = parse(data["period"]["start"]), parse(data["period"]["end"])
    assert end - start == dt.timedelta(hours=1) and start <= now - dt.timedelta(minutes=59) and end > now
    assert data["period"]["bucket"] == "minute" and len(data["series"]) == 60
    assert data["totals"]["executions"] == 3  # 80 minutes ago is not in the last hour
    by_minute = {parse(p["time"]): p["executions"] for p in data["series"] if p["executions"]}
    minute = (now - dt.timedelta(minutes=2)).replace(second=0, microsecond=0)
    assert by_minute == {minute: 2, minute - dt.timedelta(minutes=39): 1}

    html = member_client.get("/observability/?range=1h").content.decode()
    spec = chart_spec(html, "obs-executions")
    assert len(spec["data"][0]["x"]) == 60
    low, high = (parse(t) for t in spec["layout"]["xaxis"]["range"])
    assert high - low == dt.timedelta(hours=1)  # the axis spans the hour, not a few milliseconds
    assert "one-minute buckets" in html


def test_last_hour_ending_on_a_whole_hour_keeps_its_minutes(team, ingest, event_factory, now):
    # At 12:59:30 the last hour is 12:00-13:00: whole hours, yet still sixty minutes (not one
    # hourly rollup row drawn as a single bucket).
    from observability import selectors

    moment = (now - dt.timedelta(hours=3)).replace(minute=59, second=30, microsecond=0)
    ingest(
        team,
        [event_factory(agent="planner", started_at=(moment - dt.timedelta(minutes=m)).isoformat()) for m in (1, 1, 30)],
    )
    period = selectors.time_range("1h", now=moment)
    assert period.start == moment.replace(minute=0, second=0) and period.length == dt.timedelta(hours=1)
    series = selectors.dashboard(team=team, period=period)["series"]
    assert len(series) == 60
    counts = {p["time"].minute: p["executions"] for p in series if p["executions"]}
    assert counts == {58: 2, 29: 1}


def test_last_15_minutes(member_client, team, ingest, event_factory, now):
    ingest(
        team,
        [
            event_factory(agent="planner", started_at=(now - dt.timedelta(minutes=5)).isoformat()),
            event_factory(agent="planner", started_at=(now - dt.timedelta(minutes=20)).isoformat()),
        ],
    )
    data = member_client.get(f"{BASE}/dashboard/?range=15m").json()
    assert data["period"]["bucket"] == "minute" and len(data["series"]) == 15
    assert data["totals"]["executions"] == 1


def test_last_hour_errors_and_agent_page(member_client, team, ingest, event_factory, now):
    ingest(
        team,
        [
            event_factory(
                agent="coder",
                status="error",
                error_type="Timeout",
                started_at=(now - dt.timedelta(minutes=3)).isoformat(),
            )
        ],
    )
    data = member_client.get(f"{BASE}/agents/coder/?range=1h").json()
    assert data["totals"]["executions"] == 1
    assert data["errors_by_type"] == [{"error_type": "Timeout", "executions": 1}]


@pytest.mark.parametrize("given_range", ["", "24h", "7d"])
def test_start_and_end_apply_whatever_the_range(member_client, team, ingest, event_factory, now, given_range):
    ingest(team, [event_factory(agent="planner", started_at=(now - dt.timedelta(days=10)).isoformat())])
    start = (now - dt.timedelta(days=11)).replace(minute=0, second=0, microsecond=0)
    end = start + dt.timedelta(days=2)
    query = {"start": start.isoformat(), "end": end.isoformat()}
    if given_range:
        query["range"] = given_range
    data = member_client.get(f"{BASE}/dashboard/", query).json()
    assert data["period"]["range"] == "custom"
    assert parse(data["period"]["start"]) == start and parse(data["period"]["end"]) == end
    assert data["totals"]["executions"] == 1

    html = member_client.get("/observability/", query).content.decode()
    assert f"Custom: {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC" in html
    assert '<option value="custom" selected>' in html  # the form shows the period applied


@pytest.mark.parametrize("path", ["/observability/", "/observability/bottlenecks/", "/observability/recommendations/"])
def test_the_period_select_shows_the_default_period_when_none_is_asked_for(member_client, path):
    def chosen(html):
        select = re.search(r'<select name="range"[^>]*>(.*?)</select>', html, re.S).group(1)
        return re.findall(r'<option value="([^"]*)" selected>', select)

    html = member_client.get(path).content.decode()
    assert "Last 24 hours" in html and chosen(html) == ["24h"]
    assert chosen(member_client.get(path, {"range": "7d"}).content.decode()) == ["7d"]


def test_start_alone_runs_to_now(member_client, team, ingest, event_factory, now):
    ingest(team, [event_factory(agent="planner", started_at=(now - dt.timedelta(days=3)).isoformat())])
    start = (now - dt.timedelta(days=4)).replace(minute=0, second=0, microsecond=0)
    data = member_client.get(f"{BASE}/dashboard/", {"start": start.isoformat()}).json()
    assert parse(data["period"]["start"]) == start and parse(data["period"]["end"]) >= now
    assert data["totals"]["executions"] == 1


@pytest.mark.parametrize(
    "query",
    ["start=0001-01-01T00:00:00%2B23:59", "end=9999-12-31T23:59:59-23:59", "start=2026-02-30T00:00:00Z"],
)
def test_extreme_offsets_and_impossible_dates_are_a_400(member_client, query):
    response = member_client.get(f"{BASE}/dashboard/?{query}")
    assert response.status_code == 400
    assert set(response.json()["fields"]) <= {"start", "end"}
    assert member_client.get(f"/observability/?{query}").status_code == 200
