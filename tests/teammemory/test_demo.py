"""The demo data: months of builds across several stacks, with the trends it promises."""

import datetime as dt

import pytest
from django.utils import timezone

from crucible import demo
from teammemory import demo as teammemory_demo
from teammemory import selectors
from teammemory.models import Build


@pytest.fixture
def seeded(db):
    ctx = demo.seed_core(quiet=True)
    teammemory_demo.seed(ctx)
    return ctx


def test_demo_has_months_of_builds_and_visible_trends(seeded):
    acme, globex = seeded.teams["acme"], seeded.teams["globex"]
    span = Build.objects.filter(team=acme).order_by("started_at")
    assert (span.last().started_at - span.first().started_at) > dt.timedelta(days=150)
    assert Build.objects.filter(team=acme).values("stack_key").distinct().count() >= 4
    since = timezone.now() - dt.timedelta(days=180)
    acme_trend = selectors.team_insights(team=acme, since=since, until=timezone.now())["trend"]["quality"]
    globex_trend = selectors.team_insights(team=globex, since=since, until=timezone.now())["trend"]["quality"]
    assert acme_trend["direction"] == "rising"
    assert globex_trend["direction"] == "falling"
    kinds = {r["kind"] for r in selectors.team_recommendations(team=acme)["recommendations"]}
    assert {"failing_stack", "recurring_error", "flaky_stack"} <= kinds
    # Deterministic: the same seed gives the same builds.
    assert Build.objects.filter(team=acme, client_build_id="demo-acme-000001").exists()
