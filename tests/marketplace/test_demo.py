import datetime as dt

import pytest
from django.db.models import Count, F, Min, Q, Sum
from django.utils import timezone

from crucible import demo
from marketplace import demo as marketplace_demo
from marketplace.models import Agent, AgentDailyStat, AgentVersion, Installation, Rating, Report

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
    # Dates tell one story: versions were published before the installs that use them (none
    # today), reviews come after the reviewer's team installed the agent, agents before versions.
    now = timezone.now()
    assert not AgentVersion.objects.filter(created_at__gt=now - dt.timedelta(days=1)).exists()
    assert not Installation.objects.filter(version__created_at__gt=F("installed_at")).exists()
    assert not Installation.objects.filter(installed_at__gt=now).exists()  # nothing in the future
    assert not AgentVersion.objects.filter(yanked_at__lt=F("created_at")).exists()
    assert AgentVersion.objects.filter(yanked_at__isnull=False).exists()
    first_versions = dict(Agent.objects.annotate(first=Min("versions__created_at")).values_list("pk", "first"))
    for agent in agents:
        assert agent.created_at <= first_versions[agent.pk] and agent.updated_at < now - dt.timedelta(days=1)
    installed_at = dict(((i.team_id, i.agent_id), i.installed_at) for i in Installation.objects.all())
    for rating in Rating.objects.all():
        assert installed_at[(rating.team_id, rating.agent_id)] < rating.created_at == rating.updated_at < now
    assert Rating.objects.aggregate(first=Min("created_at"))["first"] < now - dt.timedelta(days=30)
    # The story other demos tell: Code Reviewer 2.4.0 came out six days ago.
    reviewer = AgentVersion.objects.filter(agent__slug="code-reviewer").order_by("created_at")
    assert [v.version for v in reviewer] == ["2.2.0", "2.3.0", "2.4.0"]
    assert dt.timedelta(days=5) < now - reviewer.last().created_at < dt.timedelta(days=7)
