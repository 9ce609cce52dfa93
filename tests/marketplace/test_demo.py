import pytest
from django.db.models import Count, Q, Sum

from crucible import demo
from marketplace import demo as marketplace_demo
from marketplace.models import Agent, AgentDailyStat, Installation, Rating, Report

pytestmark = pytest.mark.django_db


def test_demo_catalogue_is_realistic_and_consistent():
    ctx = demo.seed_core(quiet=True)
    marketplace_demo.seed(ctx)
    agents = Agent.objects.all()
    assert agents.count() >= 30
    assert agents.values("category").distinct().count() >= 8
    assert agents.filter(versions__is_yanked=True).exists()
    assert agents.filter(visibility="private").exists()
    assert Installation.objects.count() > 100 and Rating.objects.count() > 50
    assert Report.objects.filter(status="open").count() >= 1
    # Every counter matches the rows behind it.
    for agent in agents.annotate(
        n_installs=Count("installations", distinct=True),
        n_active=Count("installations", filter=Q(installations__uninstalled_at__isnull=True), distinct=True),
    ):
        assert agent.install_count == agent.n_installs
        assert agent.active_install_count == agent.n_active
        ratings = Rating.objects.filter(agent=agent)
        assert agent.rating_count == ratings.count()
        assert agent.rating_sum == (ratings.aggregate(s=Sum("stars"))["s"] or 0)
        assert (
            AgentDailyStat.objects.filter(agent=agent).aggregate(s=Sum("installs"))["s"] or 0
        ) == agent.install_count
    # Private agents are installed by nobody else.
    assert not Installation.objects.filter(agent__visibility="private").exists()
