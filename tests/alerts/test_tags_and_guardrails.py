"""Rules scoped by a span tag (read from the raw tagged executions, bounded), the experiment
guardrail breach metric, and the rule page's query count, which does not grow with history."""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import selectors
from alerts.models import AlertTransition
from crucible.notifications.models import Event
from improvement import selectors as improvement_selectors
from observability import conf as observability_conf

pytestmark = pytest.mark.django_db
MIN = dt.timedelta(minutes=1)


def test_a_tag_scoped_rule_reads_only_the_executions_with_that_tag(team, tick, ingest, make_rule, evaluate):
    ingest(team, at=tick - 3 * MIN, n=3, status="error", tags=["checkout"])
    ingest(team, at=tick - 3 * MIN, n=1, tags=["checkout", "eu"])
    ingest(team, at=tick - 3 * MIN, n=6, tags=["search"])
    ingest(team, at=tick - 3 * MIN, n=5, status="error")  # untagged
    checkout = make_rule(team, tag="checkout", critical_threshold=0.5)
    eu = make_rule(team, tag="eu", metric="executions", critical_threshold=100)
    everything = make_rule(team, critical_threshold=0.9)
    evaluate(team, tick)
    for rule in (checkout, eu, everything):
        rule.refresh_from_db()
    assert (checkout.last_value, checkout.last_samples, checkout.state) == (0.75, 4, "firing")
    assert (eu.last_value, eu.state) == (1, "ok")
    assert everything.last_samples == 15 and everything.last_value == 0.5333


def test_a_tag_scope_combines_with_agent_window_and_quality(team, tick, ingest, make_rule, evaluate):
    ingest(team, at=tick - 3 * MIN, n=2, tags=["vip"], quality=40, agent="coder")
    ingest(team, at=tick - 3 * MIN, n=2, tags=["vip"], quality=90, agent="planner")
    ingest(team, at=tick - 40 * MIN, n=2, tags=["vip"], quality=10, agent="coder")  # outside 15 minutes
    coder = make_rule(
        team, tag="vip", agent_name="coder", metric="avg_quality", direction="below", warning_threshold=50
    )
    hour = make_rule(team, tag="vip", metric="executions", window_minutes=60, warning_threshold=100)
    evaluate(team, tick)
    coder.refresh_from_db()
    hour.refresh_from_db()
    assert (coder.last_value, coder.last_samples, coder.state, coder.severity) == (40, 2, "firing", "warning")
    assert hour.last_value == 6


def test_a_tag_over_the_row_budget_is_not_judged_and_keeps_its_state(
    team, tick, ingest, make_rule, evaluate, monkeypatch
):
    ingest(team, at=tick - 3 * MIN, n=3, status="error", tags=["bulk"])
    rule = make_rule(team, tag="bulk", critical_threshold=0.5, no_data="alerting")
    small = make_rule(team, tag="rare", critical_threshold=0.5, no_data="ok")
    ingest(team, at=tick - 3 * MIN, n=1, tags=["rare"])
    monkeypatch.setattr(observability_conf, "ALERT_TAG_MAX_ROWS", 2)
    evaluate(team, tick)
    rule.refresh_from_db()
    small.refresh_from_db()
    assert (rule.state, rule.last_value, rule.last_tick) == ("ok", None, tick)  # not judged, not "no data"
    assert small.last_samples == 1  # another tag is still read
    monkeypatch.setattr(observability_conf, "ALERT_TAG_MAX_ROWS", 1000)
    evaluate(rule, tick + MIN)
    assert rule.state == "firing" and rule.last_value == 1.0


def test_the_tag_read_uses_the_tagged_executions_index(team, tick, ingest):
    from observability.selectors.alerting import TAG_COUNT_SQL

    ingest(team, at=tick - 3 * MIN, n=2, tags=["checkout"])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN " + TAG_COUNT_SQL,
            {"team": team.pk, "tag": "checkout", "start": tick - 60 * MIN, "end": tick, "cap": 10},
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
        # Executions are partitioned by month: each partition scans its own copy of the index.
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'execution_team_tagged'::regclass"
        )
        partition_indexes = {row[0] for row in cursor.fetchall()}
    used = set(re.findall(r"Index (?:Only )?Scan (?:Backward )?using (\S+)", plan))
    assert used and used <= partition_indexes, plan


@pytest.mark.parametrize(
    ("field", "value"), [("tag", "prod"), ("agent_name", "planner"), ("model", "gpt-4o"), ("version", "1")]
)
def test_team_wide_metrics_refuse_a_scope(team, make_rule, field, value):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        make_rule(team, metric="guardrail_breaches", critical_threshold=0, **{field: value})
    assert field in caught.value.message_dict


def test_the_rules_api_takes_and_filters_a_tag(team_key_client):
    body = {"name": "checkout errors", "metric": "error_rate", "tag": "checkout", "window_minutes": 15,
            "critical_threshold": 0.2}  # fmt: skip
    created = team_key_client.post("/api/v1/alerts/rules/", body, format="json")
    assert created.status_code == 201 and created.json()["tag"] == "checkout"
    listed = team_key_client.get("/api/v1/alerts/rules/", {"tag": "checkout"}).json()["results"]
    assert [r["name"] for r in listed] == ["checkout errors"]
    assert team_key_client.get("/api/v1/alerts/rules/", {"tag": "other"}).json()["results"] == []
    too_long = team_key_client.post("/api/v1/alerts/rules/", body | {"name": "x", "tag": "t" * 65}, format="json")
    assert too_long.status_code == 400 and "tag" in too_long.json()["fields"]


@pytest.fixture
def breaches(monkeypatch):
    """The improvement app's breaches (``experiment_guardrail_breaches``, h7's selector, tested in
    tests/improvement), replaced by a list the test fills; records each call's ``since``."""
    found, calls = [], []

    def fake(*, team, since):
        calls.append((team.pk, since))
        return sorted((b for b in found if b.at >= since), key=lambda b: b.at, reverse=True)

    monkeypatch.setattr(improvement_selectors, "experiment_guardrail_breaches", fake, raising=False)
    return found, calls


class Breach(NamedTuple):
    """The shape of ``improvement.selectors.GuardrailBreach``."""

    experiment_id: int | None
    experiment_name: str
    variant_id: int | None
    variant_name: str
    rollout_id: int | None
    evidence: str
    at: dt.datetime


def _breach(at, name="terse"):
    return Breach(1, "shorter prompts", 2, name, None, f"{name} fails more often than control", at)


def test_a_guardrail_breach_fires_and_resolves_once_the_window_passes(team, tick, make_rule, evaluate, breaches):
    found, calls = breaches
    rule = make_rule(team, metric="guardrail_breaches", window_minutes=15, critical_threshold=0)
    evaluate(rule, tick)
    assert (rule.state, rule.last_value, rule.last_samples) == ("ok", 0, 1)  # zero is a value, not "no data"
    found.append(_breach(tick + 30 * dt.timedelta(seconds=1)))
    evaluate(rule, tick + MIN)
    assert (rule.state, rule.severity, rule.last_value) == ("firing", "critical", 1)
    evaluate(rule, tick + 16 * MIN)  # the breach left the 15-minute window
    assert rule.state == "resolved"
    kinds = [e.kind for e in Event.objects.filter(team=team).order_by("pk")]
    assert kinds == ["alert.firing", "alert.resolved"]
    assert AlertTransition.objects.filter(rule=rule).count() == 2
    assert [since for _, since in calls] == [t - 15 * MIN for t in (tick, tick + MIN, tick + 16 * MIN)]


def test_guardrail_rules_of_a_team_share_one_read(team, tick, make_rule, evaluate, breaches):
    found, calls = breaches
    found.extend([_breach(tick - 10 * MIN, "a"), _breach(tick - 50 * MIN, "b")])
    short = make_rule(team, metric="guardrail_breaches", window_minutes=15, warning_threshold=0)
    long = make_rule(team, metric="guardrail_breaches", window_minutes=60, warning_threshold=1)
    evaluate(team, tick)
    short.refresh_from_db()
    long.refresh_from_db()
    assert (short.last_value, short.state) == (1, "firing")
    assert (long.last_value, long.state) == (2, "firing")
    assert calls == [(team.pk, tick - 60 * MIN)]


def _history(rule, count: int, start):
    AlertTransition.objects.bulk_create(
        AlertTransition(
            rule=rule, team=rule.team, tick=start + i * MIN, from_state="ok", to_state="pending", value=1.0, samples=3
        )
        for i in range(count)
    )


@pytest.mark.parametrize(
    "extra", [{}, {"tag": "checkout"}, {"metric": "build_failure_rate"}, {"metric": "guardrail_breaches"}]
)
def test_the_rule_page_query_count_does_not_grow_with_history(client, member, team, tick, make_rule, breaches, extra):
    rule = make_rule(team, name="watched", critical_threshold=0.5, **extra)
    client.force_login(member)
    _history(rule, 2, tick - 500 * MIN)
    client.get(f"/alerts/rules/{rule.pk}/")
    with CaptureQueriesContext(connection) as small:
        assert client.get(f"/alerts/rules/{rule.pk}/").status_code == 200
    _history(rule, 120, tick - 400 * MIN)
    with CaptureQueriesContext(connection) as large:
        page = client.get(f"/alerts/rules/{rule.pk}/")
    assert page.status_code == 200 and page.context["history"].total == 122
    assert len(large) == len(small)
    assert len(small) <= 100  # 36 chart points read with a fixed number of queries each


def test_the_chart_of_a_build_or_tag_rule_reads_its_own_source(team, tick, ingest, make_rule):
    ingest(team, at=tick - 3 * MIN, n=2, status="error", tags=["checkout"])
    ingest(team, at=tick - 3 * MIN, n=2)
    tagged = make_rule(team, tag="checkout", critical_threshold=0.5)
    builds = make_rule(team, metric="build_failure_rate", critical_threshold=0.5)
    assert selectors.alert_rule_series(rule=tagged, now=tick)[-1]["value"] == 1.0
    assert selectors.alert_rule_series(rule=builds, now=tick)[-1]["samples"] == 0
