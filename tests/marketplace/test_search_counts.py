"""Counting search results without counting queries (marketplace.search, marketplace.tag_counts):
per-tag counts kept by triggers, a text search's count taken from its candidate set, and a quoted
phrase read with bounded work."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplace import search, selectors
from marketplace.models import Agent, TagCount
from marketplace.services.agents import agent_update
from marketplace.tag_counts import agent_tag_count, tag_counts_fill

pytestmark = pytest.mark.django_db
BASE = "/api/v1/marketplace"


def visible_with_tag(team_ids, tag):
    return Agent.objects.filter(selectors.visible_q(team_ids), tags__contains=[tag]).count()


def kept_counts():
    return list(TagCount.objects.exclude(agents=0).order_by("tag", "team_id").values_list("tag", "team_id", "agents"))


def test_tag_counts_follow_every_kind_of_write(make_agent, team, other_team):
    mine = make_agent(team, "Mine", tags=["python", "sql"])
    make_agent(team, "Private", tags=["python"], visibility="private")
    theirs = make_agent(other_team, "Theirs", tags=["python"])
    hidden = make_agent(other_team, "Their secret", tags=["python"], visibility="private")

    def check():
        for tag in ("python", "sql", "go"):
            for teams in ([team.pk], [other_team.pk], [team.pk, other_team.pk], []):
                assert agent_tag_count(team_ids=teams, tag=tag) == visible_with_tag(teams, tag), (tag, teams)

    check()
    assert agent_tag_count(team_ids=[team.pk], tag="python") == 3  # own two and the public one of theirs
    agent_update(agent=mine, tags=["go", "sql"])  # tags changed through the service
    check()
    Agent.objects.filter(pk=theirs.pk).update(is_listed=False)  # unlisted (e.g. a moderation action)
    check()
    Agent.objects.filter(pk=hidden.pk).update(visibility="public")  # made public
    check()
    Agent.objects.filter(pk=mine.pk).update(install_count=5)  # an unrelated counter: nothing moves
    check()
    theirs.delete()
    check()
    # A recount from the agents gives exactly the rows the triggers kept.
    kept = kept_counts()
    tag_counts_fill()
    assert kept_counts() == kept


def test_tag_browse_counts_from_the_kept_counts_not_the_agents(make_agent, team, other_team, member_client):
    for i in range(3):
        make_agent(team, f"Snake {i}", tags=["python"])
    make_agent(team, "Own private snake", tags=["python"], visibility="private")
    make_agent(other_team, "Someone else's private snake", tags=["python"], visibility="private")
    with CaptureQueriesContext(connection) as queries:
        body = member_client.get(f"{BASE}/agents/?tag=python").json()
    assert body["count"] == 4 and len(body["results"]) == 4
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "marketplace_agent" in q["sql"]]
    # With another filter the agents are counted as before.
    assert member_client.get(f"{BASE}/agents/?tag=python&category=other").json()["count"] == 4


def test_text_search_count_is_its_candidate_set_without_a_count_query(make_agent, team, member_client):
    for i in range(3):
        make_agent(team, f"Kubernetes helper {i}")
    make_agent(team, "Unrelated")
    with CaptureQueriesContext(connection) as queries:
        body = member_client.get(f"{BASE}/agents/?q=kubernetes").json()
    assert body["count"] == 3 and {a["name"] for a in body["results"]} == {f"Kubernetes helper {i}" for i in range(3)}
    assert not [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "marketplace_agent" in q["sql"]]


def test_a_text_search_returns_its_count_with_its_agents(make_agent, team):
    # The count travels beside the queryset (AgentSearch), not as state on it: ordering keeps it,
    # a queryset filtered afterwards is a new list that the paginator counts in the database.
    make_agent(team, "Alpha planner")
    make_agent(team, "Beta")
    found = selectors.agent_search(team_ids=[team.pk], q="planner")
    assert found.count == 1 and [a.name for a in found.queryset] == ["Alpha planner"]
    assert found.ordered(found.queryset.order_by("-name")).count == 1
    assert not hasattr(found.queryset, "known_count")
    with CaptureQueriesContext(connection) as queries:
        assert selectors.agent_search_count(found) == 1
    assert not queries.captured_queries  # the count the search knows costs no query
    assert selectors.agent_search_count(selectors.AgentSearch(found.queryset.filter(name="x"))) == 0
    browse = selectors.agent_search(team_ids=[team.pk])
    assert browse.count is None and selectors.agent_search_count(browse) == 2  # counted by the paginator


@pytest.mark.parametrize("path", ["word matches first", "bounded walk"])
def test_quoted_phrase_lists_the_same_agents_either_way(make_agent, team, monkeypatch, path):
    if path == "bounded walk":
        monkeypatch.setattr(search, "PHRASE_WORD_MATCHES", 0)  # as if the words were common
    popular = [make_agent(team, f"Popular {i}", description="review the code, then code the review") for i in range(4)]
    for i, agent in enumerate(popular):
        Agent.objects.filter(pk=agent.pk).update(install_count=100 + i)
    make_agent(team, "Code Review", summary="The exact name")  # not installed at all
    make_agent(team, "Quiet", description="Careful code review of pull requests")
    found = [a.name for a in selectors.agent_search(team_ids=[team.pk], q='"code review"').queryset]
    assert found[0] == "Code Review" and set(found) == {"Code Review", "Quiet"}
    assert [a.name for a in selectors.agent_search(team_ids=[team.pk], q='"code review"', sort="installs").queryset][
        0
    ] in {
        "Code Review",
        "Quiet",
    }


def test_bounded_phrase_walk_reads_at_most_the_first_agents_in_order(make_agent, team, monkeypatch):
    monkeypatch.setattr(search, "PHRASE_WORD_MATCHES", 0)
    monkeypatch.setattr(search, "PHRASE_WALK", 2)
    for i in range(4):
        agent = make_agent(team, f"Release helper {i}")
        Agent.objects.filter(pk=agent.pk).update(install_count=i)
    found = [a.name for a in selectors.agent_search(team_ids=[team.pk], q='"release helper"', sort="installs").queryset]
    assert found == ["Release helper 3", "Release helper 2"]


def agent_queries(queries):
    return [q["sql"] for q in queries if "marketplace_agent" in q["sql"]]


def test_a_browse_page_counts_in_the_query_that_reads_its_rows(make_agent, team, member, member_client, monkeypatch):
    from django.test import Client

    from marketplace import conf
    from marketplace.services.installs import agent_install

    monkeypatch.setattr(conf, "LIST_COUNT_CAP", 6)
    agents = [make_agent(team, f"Browse me {i}", category="testing") for i in range(7)]
    agent_install(agent=agents[0], team=team, user=member)
    with CaptureQueriesContext(connection) as queries:
        body = member_client.get(f"{BASE}/agents/?category=testing&page_size=5").json()
    assert body["count"] == 6 and len(body["results"]) == 5  # capped, as before
    assert len(agent_queries(queries)) == 1
    assert member_client.get(f"{BASE}/agents/?category=testing&page_size=5&page=2").json()["count"] == 6
    assert member_client.get(f"{BASE}/agents/?category=testing&page_size=5&page=3").status_code == 404
    assert member_client.get(f"{BASE}/agents/?category=devops").json()["count"] == 0  # no rows: counted apart
    web = Client()
    web.force_login(member)
    with CaptureQueriesContext(connection) as queries:
        html = web.get("/marketplace/?category=testing").content.decode()
    assert "1–6 of 6+ agents" in html and html.count("installed 1.0.0") == 1
    assert len(agent_queries(queries)) == 1  # rows, count and "installed" badges together
    assert "6 of 6+" in web.get("/marketplace/?category=testing&page=9").content.decode()  # nearest page


@pytest.mark.parametrize(
    "path",
    [
        f"{BASE}/agents/?page=1799544408337767271294555914240&page_size=31549119",
        f"{BASE}/agents/?q=only&page=1799544408337767271294555914240",
        "/api/marketplace/search?page=1470068217924844257280",
    ],
)
def test_a_page_past_any_offset_is_not_there(member_client, make_agent, team, path):
    # positive_data_acceptance (schemathesis, live): a page number whose OFFSET PostgreSQL cannot
    # take was a 400 "The database refused a value" naming no parameter; a page past the list is a 404.
    make_agent(team, "Only one")
    response = member_client.get(path)
    assert response.status_code == 404, response.content
