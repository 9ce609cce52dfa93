"""Search, ranking and visibility (selectors.agent_search, used by the API, legacy route and pages)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplace import selectors
from marketplace.models import Agent, AgentDailyStat

pytestmark = pytest.mark.django_db


def names(search):
    return [agent.name for agent in search.queryset]


def set_ratings(agent, **stars):
    counts = {f"rating_{n}": stars.get(str(n), 0) for n in range(1, 6)}
    total = sum(counts.values())
    Agent.objects.filter(pk=agent.pk).update(
        rating_count=total, rating_sum=sum(n * counts[f"rating_{n}"] for n in range(1, 6)), **counts
    )


def test_exact_name_first_then_weights(make_agent, team):
    make_agent(team, "Helper", summary="Writes release notes", description="Mentions a summarizer once.")
    make_agent(team, "Meeting Summarizer", summary="Condenses meetings", description="")
    make_agent(team, "Notes Bot", summary="A summarizer for notes", description="")
    make_agent(team, "Summarizer", summary="General purpose", description="")
    result = names(selectors.agent_search(team_ids=[team.pk], q="summarizer"))
    assert result[0] == "Summarizer"  # exact name match first
    # name (weight A) outranks summary (B), which outranks description (C)
    assert result.index("Meeting Summarizer") < result.index("Notes Bot") < result.index("Helper")


def test_tags_are_searched(make_agent, team):
    make_agent(team, "Alpha", tags=["kubernetes"])
    make_agent(team, "Beta", tags=["python"])
    assert names(selectors.agent_search(team_ids=[team.pk], q="kubernetes")) == ["Alpha"]


@pytest.mark.parametrize("typo", ["sumarizer", "summarizr", "Summariser", "meeting sumarizer"])
def test_small_typos_still_find_the_agent(make_agent, team, typo):
    make_agent(team, "Meeting Summarizer", summary="Condenses meetings")
    make_agent(team, "Test Writer", summary="Writes tests")
    assert names(selectors.agent_search(team_ids=[team.pk], q=typo)) == ["Meeting Summarizer"]


def test_private_agents_only_for_their_team(make_agent, team, other_team):
    make_agent(other_team, "Secret Planner", visibility="private")
    make_agent(other_team, "Public Planner")
    assert names(selectors.agent_search(team_ids=[team.pk], q="planner")) == ["Public Planner"]
    assert set(names(selectors.agent_search(team_ids=[other_team.pk], q="planner"))) == {
        "Secret Planner",
        "Public Planner",
    }


def test_unlisted_agents_hidden_from_others(make_agent, team, other_team):
    agent = make_agent(other_team, "Spam Bot")
    Agent.objects.filter(pk=agent.pk).update(is_listed=False)
    assert names(selectors.agent_search(team_ids=[team.pk])) == []
    assert names(selectors.agent_search(team_ids=[other_team.pk])) == ["Spam Bot"]


def test_weighted_rating_one_five_star_does_not_beat_many_high(make_agent, team):
    lucky = make_agent(team, "One Hit")
    solid = make_agent(team, "Crowd Favourite")
    set_ratings(lucky, **{"5": 1})
    set_ratings(solid, **{"5": 80, "4": 20})  # average 4.8 over 100 ratings
    assert names(selectors.agent_search(team_ids=[team.pk], sort="rating"))[:2] == ["Crowd Favourite", "One Hit"]
    # The plain average is higher for the single 5-star agent: the Bayesian one is not.
    ranked = {a.name: a for a in selectors.agent_search(team_ids=[team.pk], sort="rating").queryset}
    assert ranked["One Hit"].rating_avg > ranked["Crowd Favourite"].rating_avg
    assert ranked["One Hit"].weighted_rating < ranked["Crowd Favourite"].weighted_rating


def test_filters(make_agent, team, other_team):
    other_team.is_verified = True
    other_team.save()
    a = make_agent(team, "Alpha", category="testing", tags=["python", "pytest"])
    b = make_agent(other_team, "Beta", category="testing", tags=["python"])
    make_agent(other_team, "Gamma", category="devops")
    set_ratings(a, **{"5": 3})
    set_ratings(b, **{"3": 3})
    ids = [team.pk]
    assert set(names(selectors.agent_search(team_ids=ids, category="testing"))) == {"Alpha", "Beta"}
    assert names(selectors.agent_search(team_ids=ids, tags=["pytest"])) == ["Alpha"]
    assert names(selectors.agent_search(team_ids=ids, min_rating=4)) == ["Alpha"]
    assert set(names(selectors.agent_search(team_ids=ids, verified=True))) == {"Beta", "Gamma"}
    assert names(selectors.agent_search(team_ids=ids, publisher="acme")) == ["Alpha"]


def test_sort_by_installs_newest_and_trending_with_decay(make_agent, team):
    old_hit = make_agent(team, "Old Hit")
    rising = make_agent(team, "Rising")
    quiet = make_agent(team, "Quiet")
    today = timezone.now().date()
    Agent.objects.filter(pk=old_hit.pk).update(install_count=500)
    Agent.objects.filter(pk=rising.pk).update(install_count=20)
    # Old Hit: 30 installs 20 days ago; Rising: 8 today and 6 yesterday; Quiet: 9 installs 5 days ago.
    AgentDailyStat.objects.create(agent=old_hit, day=today - timedelta(days=20), installs=30)
    AgentDailyStat.objects.create(agent=rising, day=today, installs=8)
    AgentDailyStat.objects.create(agent=rising, day=today - timedelta(days=1), installs=6)
    AgentDailyStat.objects.create(agent=quiet, day=today - timedelta(days=5), installs=9)
    ids = [team.pk]
    assert names(selectors.agent_search(team_ids=ids, sort="installs"))[0] == "Old Hit"
    assert names(selectors.agent_search(team_ids=ids, sort="newest"))[0] == "Quiet"
    # Trending lists the agents installed within the window, hottest first.
    assert names(selectors.agent_search(team_ids=ids, sort="trending_day")) == ["Rising"]
    assert names(selectors.agent_search(team_ids=ids, sort="trending_week")) == ["Rising", "Quiet"]
    # Over a month, Old Hit's 30 installs of 20 days ago decay to ~0.3: below Quiet's 9 of 5 days ago (~2.8).
    assert names(selectors.agent_search(team_ids=ids, sort="trending_month")) == ["Rising", "Quiet", "Old Hit"]
    month = {a.name: a.trending for a in selectors.agent_search(team_ids=ids, sort="trending_month").queryset}
    assert month["Rising"] == pytest.approx(8 + 6 * 0.5 ** (1 / 3))
    assert month["Quiet"] == pytest.approx(9 * 0.5 ** (5 / 3))
