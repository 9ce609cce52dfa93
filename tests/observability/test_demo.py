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
