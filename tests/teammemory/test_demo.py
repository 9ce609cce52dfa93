"""The demo data: months of builds across several stacks, with the trends it promises."""

import datetime as dt

import pytest
from django.db.models import F
from django.utils import timezone

from crucible import demo
from marketplace import demo as marketplace_demo
from teammemory import demo as teammemory_demo
from teammemory import selectors
from teammemory.models import Build, BuildAgent


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


class RecordingBar:
    """Stands in for the progress bar: records its total and every step."""

    def __init__(self, total, desc):
        self.total, self.desc, self.n = total, desc, 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        self.n += n


def test_demo_progress_ends_at_its_total_and_builds_name_versions_of_their_time(db, monkeypatch):
    ctx = demo.seed_core(quiet=True)
    marketplace_demo.seed(ctx)
    bars = []

    def progress(total, desc):
        bars.append(RecordingBar(total, desc))
        return bars[-1]

    monkeypatch.setattr(ctx, "progress", progress)
    teammemory_demo.seed(ctx)
    assert [(bar.n, bar.total) for bar in bars] == [(bars[0].total, bars[0].total)]
    uses = BuildAgent.objects.filter(agent_version__isnull=False)
    assert uses.values("agent_version").distinct().count() > uses.values("agent").distinct().count()
    assert not uses.filter(agent_version__created_at__gt=F("build__started_at")).exists()
