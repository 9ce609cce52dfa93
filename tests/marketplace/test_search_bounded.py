"""Search with bounded work (marketplace.search): what a caller sees of the candidate set, the typo
fallback, capped counts and the indexed Bayesian rating."""

import pytest
from django.test import Client

from marketplace import conf, selectors
from marketplace.models import Agent
from marketplace.search import rating_function_apply

pytestmark = pytest.mark.django_db
BASE = "/api/v1/marketplace"


def names(search):
    return [agent.name for agent in search.queryset]


def set_installs(agent, count):
    Agent.objects.filter(pk=agent.pk).update(install_count=count)


def test_exact_phrase_and_name_matches_rank_above_scattered_words(make_agent, team):
    make_agent(team, "Scattered", summary="Other things", description="Some code, and later a review of it.")
    make_agent(team, "Code Review Helper", summary="Helps", description="")
    make_agent(team, "Code Review", summary="The exact name", description="")
    make_agent(team, "Helper", summary="Automated code review for pull requests", description="")
    ranked = names(selectors.agent_search(team_ids=[team.pk], q="code review"))
    assert ranked[0] == "Code Review"  # exact name first
    # In the name (weight A), then in the summary (B), then words scattered over the description (C).
    assert ranked.index("Code Review Helper") < ranked.index("Helper") < ranked.index("Scattered")
    # A quoted phrase matches only where the words stand together.
    phrase = names(selectors.agent_search(team_ids=[team.pk], q='"code review"'))
    assert "Scattered" not in phrase and set(phrase) == {"Code Review", "Code Review Helper", "Helper"}


def test_a_little_known_agent_named_for_the_query_is_found_among_many_popular_matches(make_agent, team, monkeypatch):
    monkeypatch.setattr(conf, "SEARCH_MAX_RESULTS", 3)
    for i in range(6):
        set_installs(make_agent(team, f"Popular {i}", description="Mentions kubernetes in passing."), 100 + i)
    make_agent(team, "Kubernetes Doctor", summary="Fixes clusters", description="")  # no installs
    ranked = names(selectors.agent_search(team_ids=[team.pk], q="kubernetes"))
    # The three most installed description matches and the name match are ranked; the name wins.
    assert ranked[0] == "Kubernetes Doctor" and set(ranked[1:]) == {"Popular 5", "Popular 4", "Popular 3"}
    assert selectors.agent_search_count(selectors.agent_search(team_ids=[team.pk], q="kubernetes")) == 4


def test_sorted_text_search_lists_the_first_matches_in_that_order(make_agent, team, monkeypatch):
    monkeypatch.setattr(conf, "SEARCH_MAX_RESULTS", 3)
    for i in range(6):
        set_installs(make_agent(team, f"Planner {i}"), i)
    ranked = names(selectors.agent_search(team_ids=[team.pk], q="planner", sort="installs"))
    assert ranked == ["Planner 5", "Planner 4", "Planner 3"]


def test_typo_fallback_finds_names_only_when_text_finds_less_than_a_page(make_agent, team):
    make_agent(team, "Summarizr Bot", summary="Condenses notes")  # misspelt in its own name
    make_agent(team, "Meeting Summarizer", summary="Condenses meetings")
    # "summarizer" finds one text match: fewer than a page, so similar names are added after it.
    assert names(selectors.agent_search(team_ids=[team.pk], q="summarizer")) == ["Meeting Summarizer", "Summarizr Bot"]
    for i in range(20):
        make_agent(team, f"Summarizer {i}")
    # With a page of text matches the typo-only match is not listed any more.
    found = names(selectors.agent_search(team_ids=[team.pk], q="summarizer"))
    assert "Summarizr Bot" not in found and len(found) == 21
    # A typo in the query still finds the names.
    assert "Meeting Summarizer" in names(selectors.agent_search(team_ids=[team.pk], q="sumarizer"))


def test_list_counts_stop_at_the_cap_in_the_api_and_the_page(make_agent, team, member, member_client, monkeypatch):
    monkeypatch.setattr(conf, "LIST_COUNT_CAP", 20)
    for i in range(23):
        make_agent(team, f"Agent number {i}")
    body = member_client.get(f"{BASE}/agents/?page_size=5").json()
    assert body["count"] == 20 and len(body["results"]) == 5
    assert member_client.get(f"{BASE}/agents/?page_size=5&page=4").status_code == 200
    assert member_client.get(f"{BASE}/agents/?page_size=5&page=5").status_code == 404
    assert member_client.get(f"{BASE}/agents/?q=number%2022").json()["count"] <= 20
    web = Client()
    web.force_login(member)
    html = web.get("/marketplace/").content.decode()
    assert "1–20 of 20+ agents" in html and "Lists stop at 20" in html
    html = web.get("/marketplace/?category=testing").content.decode()
    assert "No agents" in html  # below the cap: the exact count, no "+"


def test_schema_describes_the_capped_count():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    listing = schema["components"]["schemas"]["PaginatedMarketplaceAgentList"]
    assert "10,000" in listing["properties"]["count"]["description"]


def test_rating_sort_follows_the_prior_from_settings(make_agent, team, monkeypatch):
    few = make_agent(team, "Few Fives")
    many = make_agent(team, "Many Fours")
    Agent.objects.filter(pk=few.pk).update(rating_count=2, rating_sum=10, rating_5=2)
    Agent.objects.filter(pk=many.pk).update(rating_count=40, rating_sum=160, rating_4=40)
    assert names(selectors.agent_search(team_ids=[team.pk], sort="rating"))[:2] == ["Many Fours", "Few Fives"]
    # With almost no prior, two fives beat forty fours; the indexed SQL function follows the setting.
    monkeypatch.setattr(conf, "RATING_PRIOR_COUNT", 0.01)
    assert rating_function_apply() is True
    assert rating_function_apply() is False  # unchanged: nothing to rebuild
    ranked = list(selectors.agent_search(team_ids=[team.pk], sort="rating").queryset)
    assert [a.name for a in ranked][:2] == ["Few Fives", "Many Fours"]
    stats = selectors.agent_stats(agent=ranked[0])
    assert ranked[0].weighted_rating == pytest.approx(stats["weighted_rating"], abs=1e-3)


def test_typo_vocabulary_follows_names_and_widens_short_or_misspelt_words(make_agent, team, member):
    from marketplace.models import NameWord
    from marketplace.services.agents import agent_update

    make_agent(team, "Kubernetes Debugger 7", summary="Finds broken pods")
    assert {"kubernetes", "debugger"} <= set(NameWord.objects.values_list("word", flat=True))
    assert "7" not in set(NameWord.objects.values_list("word", flat=True))  # words need a letter
    renamed = make_agent(team, "Planner", summary="Plans")
    agent_update(agent=renamed, name="Terraform Planner")
    assert NameWord.objects.filter(word="terraform").exists()
    make_agent(team, "Test Writer", summary="Writes tests")
    for typo in ["kube", "kubernets debuger"]:
        assert names(selectors.agent_search(team_ids=[team.pk], q=typo)) == ["Kubernetes Debugger 7"], typo
    assert names(selectors.agent_search(team_ids=[team.pk], q="terraform planer")) == ["Terraform Planner"]
    # Operators mean "exactly this": no widening.
    assert names(selectors.agent_search(team_ids=[team.pk], q='"terraform planer"')) == []
    html = Client()
    html.force_login(member)
    assert html.get("/admin/marketplace/nameword/").status_code in (200, 302)
