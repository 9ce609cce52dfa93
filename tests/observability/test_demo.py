import datetime as dt

import pytest

from crucible import demo as core_demo
from observability import demo, selectors
from observability.models import Execution

pytestmark = pytest.mark.django_db


def test_demo_seed_is_realistic_and_consistent():
    ctx = core_demo.seed_core(quiet=True)
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
