"""Regressions, bottlenecks and every recommendation rule, on data made to trigger (or not) each."""

import datetime as dt
import random
from decimal import Decimal

import pytest

from observability import conf, selectors

pytestmark = pytest.mark.django_db


def runs(
    prefix,
    *,
    agent,
    n,
    when,
    duration=1000.0,
    spread=0.1,
    error_rate=0.0,
    model="gpt-4o",
    version="",
    input_tokens=1000,
    output_tokens=200,
    error_type="Timeout",
    seed=0,
):
    rng = random.Random(f"{prefix}-{seed}")
    events = []
    for i in range(n):
        failed = i < round(n * error_rate)
        event = {
            "id": f"{prefix}-{i}",
            "agent": agent,
            "model": model,
            "agent_version": version,
            "started_at": (when - dt.timedelta(seconds=i * 7)).isoformat(),
            "duration_ms": duration * rng.uniform(1 - spread, 1 + spread),
            "status": "error" if failed else "success",
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
        }
        if failed:
            event["error_type"] = error_type
        events.append(event)
    return events


@pytest.fixture
def windows(now):
    period = selectors.time_range("24h")
    return period, period.start + dt.timedelta(hours=12), period.start - dt.timedelta(hours=12)


def kinds(recs, agent):
    return {r["kind"] for r in recs if r["agent"] == agent}


def test_period_regression_on_p95_errors_and_tokens(team, ingest, windows):
    period, current, previous = windows
    ingest(team, runs("slow-before", agent="slowing", n=40, when=previous, duration=1000))
    ingest(team, runs("slow-after", agent="slowing", n=40, when=current, duration=2500))
    ingest(team, runs("err-before", agent="erring", n=40, when=previous, error_rate=0.0))
    ingest(team, runs("err-after", agent="erring", n=40, when=current, error_rate=0.25))
    ingest(team, runs("tok-before", agent="bloating", n=40, when=previous, input_tokens=1000))
    ingest(team, runs("tok-after", agent="bloating", n=40, when=current, input_tokens=3000))
    ingest(team, runs("ok-before", agent="steady", n=40, when=previous))
    ingest(team, runs("ok-after", agent="steady", n=40, when=current, seed=1))
    found = {(r["agent"], c["metric"]) for r in selectors.regressions(team=team, period=period) for c in r["changes"]}
    assert ("slowing", "p95_ms") in found
    assert ("erring", "error_rate") in found
    assert ("bloating", "tokens_per_execution") in found
    assert not any(agent == "steady" for agent, _ in found)


def test_no_regression_with_too_little_data(team, ingest, windows):
    period, current, previous = windows
    ingest(team, runs("b", agent="tiny", n=5, when=previous, duration=100))
    ingest(team, runs("a", agent="tiny", n=5, when=current, duration=900))
    assert selectors.regressions(team=team, period=period) == []


def test_version_regression_is_detected_and_recommended(team, ingest, windows):
    period, current, previous = windows
    ingest(team, runs("v1", agent="coder", n=60, when=current - dt.timedelta(hours=4), version="1.0", duration=1000))
    ingest(
        team,
        runs(
            "v2",
            agent="coder",
            n=60,
            when=current + dt.timedelta(hours=4),
            version="1.1",
            duration=2000,
            error_rate=0.2,
        ),
    )
    regs = [r for r in selectors.regressions(team=team, period=period) if r["kind"] == "version"]
    assert len(regs) == 1
    assert regs[0]["version_before"] == "1.0" and regs[0]["version_after"] == "1.1"
    assert {c["metric"] for c in regs[0]["changes"]} >= {"p95_ms", "error_rate"}
    recs = selectors.recommendations(team=team, period=period)
    rec = next(r for r in recs if r["kind"] == "version_regression")
    assert rec["agent"] == "coder" and rec["evidence"]["version_after"] == "1.1"
    assert "roll back" in rec["action"]


def fleet(ingest, team, when, n=30):
    for i in range(5):
        ingest(team, runs(f"fleet{i}", agent=f"normal-{i}", n=n, when=when, duration=1000, input_tokens=1000))


def test_slow_agent_rule(team, ingest, windows, monkeypatch):
    period, current, _ = windows
    monkeypatch.setattr(conf, "SLOW_P95_MIN_MS", 1000)
    fleet(ingest, team, current)
    ingest(team, runs("slow", agent="sloth", n=30, when=current, duration=20000))
    recs = selectors.recommendations(team=team, period=period)
    rec = next(r for r in recs if r["kind"] == "slow_agent")
    assert rec["agent"] == "sloth"
    assert rec["evidence"]["p95_ms"] > rec["evidence"]["fleet_p95_ms"] * conf.SLOW_P95_RATIO
    assert all(kinds(recs, f"normal-{i}") == set() for i in range(5))
    # raising the threshold silences it
    monkeypatch.setattr(conf, "SLOW_P95_MIN_MS", 60000)
    assert "slow_agent" not in kinds(selectors.recommendations(team=team, period=period), "sloth")


def test_failing_agent_rule_names_top_error_types(team, ingest, windows):
    period, current, _ = windows
    fleet(ingest, team, current)
    events = runs("fail-a", agent="flaky", n=30, when=current, error_rate=0.3, error_type="RateLimitError")
    events += runs(
        "fail-b", agent="flaky", n=10, when=current - dt.timedelta(minutes=30), error_rate=0.2, error_type="ToolTimeout"
    )
    ingest(team, events)
    rec = next(r for r in selectors.recommendations(team=team, period=period) if r["kind"] == "failing_agent")
    assert rec["agent"] == "flaky"
    assert rec["evidence"]["top_error_types"][0] == {"error_type": "RateLimitError", "executions": 9}
    assert {"error_type": "ToolTimeout", "executions": 2} in rec["evidence"]["top_error_types"]
    assert "RateLimitError" in rec["action"]


def test_token_heavy_prompt_rule(team, ingest, windows):
    period, current, _ = windows
    fleet(ingest, team, current)
    ingest(team, runs("heavy", agent="hoarder", n=30, when=current, input_tokens=20000))
    recs = selectors.recommendations(team=team, period=period)
    rec = next(r for r in recs if r["kind"] == "token_heavy_prompt")
    assert rec["agent"] == "hoarder"
    assert rec["evidence"]["input_tokens_per_execution"] == 20000
    assert rec["evidence"]["fleet_median"] == 1000


def test_expensive_model_rule(team, ingest, windows):
    period, current, _ = windows
    ingest(
        team, runs("big", agent="writer", n=40, when=current, model="gpt-4o", input_tokens=10000, output_tokens=2000)
    )
    ingest(
        team,
        runs(
            "small",
            agent="writer",
            n=40,
            when=current,
            model="gpt-4o-mini",
            input_tokens=10000,
            output_tokens=2000,
            error_rate=0.025,
        ),
    )
    rec = next(r for r in selectors.recommendations(team=team, period=period) if r["kind"] == "expensive_model")
    assert rec["evidence"]["model"] == "gpt-4o" and rec["evidence"]["cheaper_model"] == "gpt-4o-mini"
    assert Decimal(rec["evidence"]["estimated_saving"]) > 0  # money: an 8-place decimal string


def test_expensive_model_rule_needs_similar_success(team, ingest, windows):
    period, current, _ = windows
    ingest(team, runs("big", agent="writer", n=40, when=current, model="gpt-4o", input_tokens=10000))
    ingest(
        team, runs("small", agent="writer", n=40, when=current, model="gpt-4o-mini", input_tokens=10000, error_rate=0.3)
    )
    assert "expensive_model" not in kinds(selectors.recommendations(team=team, period=period), "writer")


def test_models_are_read_for_the_agents_that_ran_several_only(team, ingest, windows):
    """The expensive-model rule compares the models of one agent: while every agent runs one
    model, the recommendations skip the read per agent and model; an agent moving to a second
    model, in a new version, brings it back and is found."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    period, current, _ = windows
    ingest(team, runs("big", agent="writer", n=40, when=current, model="gpt-4o", version="1.0", input_tokens=10000))
    ingest(team, runs("solo", agent="solo", n=40, when=current, model="gpt-4o-mini"))

    def read():
        with CaptureQueriesContext(connection) as queries:
            recs = selectors.recommendations(team=team, period=period)
        return len(queries), kinds(recs, "writer")

    one_model, found = read()
    assert "expensive_model" not in found
    ingest(
        team, runs("small", agent="writer", n=40, when=current, model="gpt-4o-mini", version="1.1", input_tokens=10000)
    )
    two_models, found = read()
    assert two_models == one_model + 1 and "expensive_model" in found


def test_bottlenecks_rank_by_time_cost_and_p95(team, ingest, windows):
    period, current, _ = windows
    ingest(team, runs("a", agent="busy", n=100, when=current, duration=1000, model="gpt-4o-mini"))
    ingest(
        team, runs("b", agent="pricey", n=10, when=current, duration=1000, model="claude-opus-4-1", input_tokens=50000)
    )
    ingest(team, runs("c", agent="laggy", n=10, when=current, duration=9000, model="gpt-4o-mini"))
    data = selectors.bottlenecks(team=team, period=period)
    assert data["by_time"][0]["agent"] == "busy"
    assert data["by_cost"][0]["agent"] == "pricey"
    assert data["by_p95"][0]["agent"] == "laggy"
    assert sum(i["time_share"] for i in data["by_time"]) == pytest.approx(1.0, abs=0.001)


def test_healthy_fleet_gets_no_recommendations(team, ingest, windows):
    period, current, _ = windows
    fleet(ingest, team, current)
    assert selectors.recommendations(team=team, period=period) == []


def test_pages_show_evidence_and_regressions_labelled_and_rounded(client, member, team, ingest, now):
    """Evidence and regressions read as labelled, rounded figures, not raw keys and long floats."""
    # A custom period of fixed hours (version 1.0 seen in a daily rollup, 1.1 in an hourly one), so
    # the test does not depend on the time of day it runs at.
    base = now.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=3)
    start, end = base + dt.timedelta(hours=5), base + dt.timedelta(hours=29)
    ingest(team, runs("v1", agent="coder", n=60, when=base + dt.timedelta(hours=3), version="1.0", duration=98193))
    ingest(
        team,
        runs(
            "v2",
            agent="coder",
            n=60,
            when=base + dt.timedelta(hours=26),
            version="1.1",
            duration=138866,
            error_rate=0.2,
        ),
    )
    query = {"range": "custom", "start": f"{start:%Y-%m-%dT%H:%M}", "end": f"{end:%Y-%m-%dT%H:%M}"}
    client.force_login(member)
    html = client.get("/observability/bottlenecks/", query).content.decode()
    regressions = html[html.index('id="regressions"') :]
    assert "p95 duration:" in regressions and " min → " in regressions
    assert "p95_ms:" not in regressions and "error_rate:" not in regressions
    html = client.get("/observability/recommendations/", query).content.decode()
    evidence = html[html.index("Evidence") :]
    assert "<th>Version after</th><td>1.1</td>" in evidence
    assert "version_after" not in evidence.replace('data-key="version_after"', "")
    assert "p95 duration" in evidence and " min → " in evidence
