import datetime as dt

import pytest
from django.db.models import F

from crucible import demo as core_demo
from marketplace import demo as marketplace_demo
from marketplace.models import AgentVersion
from observability import demo, selectors
from observability.models import Execution

pytestmark = pytest.mark.django_db


def test_demo_seed_is_realistic_and_consistent():
    ctx = core_demo.seed_core(quiet=True)
    marketplace_demo.seed(ctx)  # the agents (and their versions) the executions refer to
    demo.seed(ctx)
    acme = ctx.teams["acme"]
    agents = Execution.objects.values("team", "agent_name").distinct().count()
    assert agents >= 36
    assert Execution.objects.filter(team=acme).count() > 50_000
    period = selectors.time_range("30d")
    data = selectors.dashboard(team=acme, period=period)
    assert 0.9 < data["totals"]["success_rate"] < 0.99
    assert data["unpriced"]["models"][0]["model"] == "acme-finetune-v2"
    assert len(data["series"]) >= 28
    # The visible regression after a version change, and the other planted findings.
    week = selectors.time_range("7d")
    regs = [r for r in selectors.regressions(team=acme, period=week) if r["kind"] == "version"]
    assert [(r["agent"], r["version_after"]) for r in regs] == [("code-reviewer", "2.4.0")]
    kinds = {(r["kind"], r["agent"]) for r in selectors.recommendations(team=acme, period=week)}
    assert ("version_regression", "code-reviewer") in kinds
    assert ("failing_agent", "flaky-test-hunter") in kinds
    assert ("token_heavy_prompt", "doc-search") in kinds
    assert ("slow_agent", "kubernetes-troubleshooter") in kinds
    assert ("expensive_model", "refactoring-coach") in kinds
    report = selectors.rollups_verify(start=period.start - dt.timedelta(days=1), end=period.end)
    assert report["ok"]
    # Version labels are the referenced agents' real versions, the one published at the time.
    labelled = Execution.objects.filter(agent__isnull=False)
    assert labelled.exists() and not labelled.filter(agent_version__isnull=True).exists()
    assert not labelled.exclude(version=F("agent_version__version")).exists()
    assert not labelled.exclude(agent_version__agent=F("agent")).exists()
    assert not labelled.filter(agent_version__created_at__gt=F("started_at")).exists()
    assert not Execution.objects.filter(agent__isnull=True).exclude(version="").exists()
    reviewer = AgentVersion.objects.get(agent__slug="code-reviewer", version="2.4.0")
    assert Execution.objects.filter(team=acme, agent_name="code-reviewer", agent_version=reviewer).exists()


def test_demo_traces_are_whole_trees_with_messages():
    from django.db.models import Count

    from observability.models import SpanPayload, Trace

    ctx = core_demo.seed_core(quiet=True)
    team = ctx.teams["acme"]
    now = dt.datetime.now(dt.UTC)
    from observability import demo_traces

    stored = demo_traces.seed(ctx, team, now)
    assert stored > 1500
    big = Trace.objects.get(team=team, agent_name="catalog-indexer")
    assert big.span_count == 1000 and big.root_span_id
    sessions = Trace.objects.filter(team=team).exclude(session_id="").values("session_id").annotate(n=Count("id"))
    assert len(sessions) >= 50 and max(s["n"] for s in sessions) >= 3
    assert Trace.objects.filter(team=team).exclude(end_user_id="").values("end_user_id").distinct().count() == 12
    failed = Execution.objects.filter(team=team, kind="tool", status="error")
    assert failed.exists() and all("Traceback" in e.error_message for e in failed)
    chat = SpanPayload.objects.filter(execution__kind="llm", execution__team=team).first()
    assert chat.input[0]["role"] == "system" and chat.output
    # every trace is one tree: exactly one root, and each span's parent is in its trace
    for trace in Trace.objects.filter(team=team)[:50]:
        spans = dict(
            Execution.objects.filter(team=team, trace_id=trace.trace_id).values_list("span_id", "parent_span_id")
        )
        assert [s for s, p in spans.items() if not p] == [trace.root_span_id]
        assert all(p in spans for p in spans.values() if p)
    # tokens counted once: the agent spans' usage is not added to their LLM calls'
    assert sum(Trace.objects.filter(team=team).values_list("input_tokens", flat=True)) == sum(
        Execution.objects.filter(team=team, kind__in=["llm", "embedding"]).values_list("input_tokens", flat=True)
    )
