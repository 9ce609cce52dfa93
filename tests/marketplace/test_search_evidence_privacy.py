"""Issue 13, search: a sharing viewer's own figure never counts among the K teams or in the median,
on any path (API list and detail, legacy search, the page, sorts, filters, the failure warning)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crucible import services as core
from crucible.models import Role
from marketplace import conf, selectors, services
from tests.marketplace.evidence_helpers import run_version, share

pytestmark = pytest.mark.django_db

AGENTS_URL = "/api/v1/marketplace/agents/"
LEGACY_SEARCH_URL = "/api/marketplace/search"


@pytest.fixture(autouse=True)
def three_k(monkeypatch):
    monkeypatch.setattr(conf, "EVIDENCE_MIN_TEAMS", 3)


@pytest.fixture
def world(make_team, make_agent):
    """A publisher with three agents, created in this order: 'none' (never measured), 'alpha'
    (to be measured by the viewer and others) and 'gamma' (50 %, measured by three other teams).
    The viewer team and the other teams share their evidence."""
    publisher = make_team("Publisher", slug="pub")
    agents = {slug: make_agent(publisher, f"{slug.title()} helper", slug=slug) for slug in ("none", "alpha", "gamma")}
    viewer = make_team("Viewer", slug="viewer")
    others = [make_team(f"Other {i}", slug=f"other-{i}") for i in range(3)]
    for team in (viewer, *others):
        share(team)
    for team in others:
        run_version(team, agents["gamma"].latest_version, runs=10, failures=5, cost="0.05")
    return {"publisher": publisher, "agents": agents, "viewer": viewer, "others": others}


def measure_alpha(world, *, other_teams: int):
    """Alpha: the viewer 100 %, the other teams 80 %, 60 %, 40 % (the first ``other_teams``)."""
    alpha = world["agents"]["alpha"].latest_version
    run_version(world["viewer"], alpha, runs=10, failures=0, cost="0.001")
    for team, failures in list(zip(world["others"], (2, 4, 6), strict=True))[:other_teams]:
        run_version(team, alpha, runs=10, failures=failures, cost="0.01")
    services.evidence_agents_refresh()


def slugs(response):
    assert response.status_code == 200, response.content[:300]
    return [a["slug"] for a in response.json()["results"]]


def listed_evidence(client):
    return {a["slug"]: a["evidence"] for a in client.get(AGENTS_URL, {"publisher": "pub"}).json()["results"]}


def test_a_sharing_viewer_with_two_other_teams_sees_no_figure_anywhere(client_for, make_user, world):
    measure_alpha(world, other_teams=2)  # three sharing teams measured alpha, the viewer among them
    alpha = world["agents"]["alpha"]
    outsider = client_for(make_user("outsider", team=world["publisher"]))
    viewer = client_for(make_user("viewer", team=world["viewer"]))

    # Someone who did not measure alpha reads the three teams' median (80 %).
    assert listed_evidence(outsider)["alpha"] == {
        "teams": 3,
        "success_rate_median": 0.8,
        "cost_per_run_median": pytest.approx(0.01),
        "failure_rose": False,
    }
    assert slugs(outsider.get(AGENTS_URL, {"sort": "success", "publisher": "pub"})) == ["alpha", "gamma", "none"]

    # The viewer would read the other two teams' figures from it: it sees none, on every path.
    assert listed_evidence(viewer)["alpha"] is None
    assert listed_evidence(viewer)["gamma"]["teams"] == 3  # three other teams: shown
    assert viewer.get(f"{AGENTS_URL}{alpha.pk}/").json()["evidence"] is None
    legacy = viewer.get(LEGACY_SEARCH_URL, {"query": "alpha"}).json()["agents"]
    assert [a["evidence"] for a in legacy] == [None]
    # Sorts: alpha sorts as an agent without evidence (after 'none', by id), browsing and searching.
    for sort in ("success", "cost_per_run"):
        assert slugs(viewer.get(AGENTS_URL, {"sort": sort, "publisher": "pub"})) == ["gamma", "none", "alpha"], sort
        assert slugs(viewer.get(AGENTS_URL, {"sort": sort, "q": "helper"})) == ["gamma", "none", "alpha"], sort
    # Filters: alpha matches no evidence filter.
    assert slugs(viewer.get(AGENTS_URL, {"min_success_rate": 0})) == ["gamma"]
    assert slugs(viewer.get(AGENTS_URL, {"max_cost_per_run": 1000})) == ["gamma"]
    assert slugs(viewer.get(AGENTS_URL, {"min_success_rate": 0, "sort": "success", "q": "helper"})) == ["gamma"]
    # The page.
    page = viewer.get(reverse("marketplace:index"), {"publisher": "pub"}).content.decode()
    assert "80.0%" not in page and "100.0%" not in page and "50.0%" in page
    assert "80.0%" in outsider.get(reverse("marketplace:index"), {"publisher": "pub"}).content.decode()


def test_with_three_other_teams_the_viewer_sees_their_figures_only(client_for, make_user, world):
    measure_alpha(world, other_teams=3)
    viewer = client_for(make_user("viewer", team=world["viewer"]))
    outsider = client_for(make_user("outsider", team=world["publisher"]))
    # The three other teams: 80, 60, 40 %. Everyone else: the four teams' median, 70 %.
    assert listed_evidence(viewer)["alpha"]["success_rate_median"] == pytest.approx(0.6)
    assert listed_evidence(viewer)["alpha"]["teams"] == 3
    assert listed_evidence(outsider)["alpha"]["success_rate_median"] == pytest.approx(0.7)
    assert listed_evidence(outsider)["alpha"]["teams"] == 4
    assert slugs(viewer.get(AGENTS_URL, {"sort": "success", "publisher": "pub"})) == ["alpha", "gamma", "none"]
    # The filter reads the viewer's figure: 60 % is not 65 % or more; for the others 70 % is.
    assert slugs(viewer.get(AGENTS_URL, {"min_success_rate": 65})) == []
    assert slugs(viewer.get(AGENTS_URL, {"min_success_rate": 55})) == ["alpha"]
    assert slugs(outsider.get(AGENTS_URL, {"min_success_rate": 65})) == ["alpha"]
    # Cheapest first: the viewer's own cheap runs (0.001) do not count; the others' are 0.01 < 0.05.
    assert listed_evidence(viewer)["alpha"]["cost_per_run_median"] == pytest.approx(0.01)
    assert slugs(viewer.get(AGENTS_URL, {"sort": "cost_per_run", "publisher": "pub"})) == ["alpha", "gamma", "none"]
    assert slugs(viewer.get(AGENTS_URL, {"max_cost_per_run": "0.02"})) == ["alpha"]
    page = viewer.get(reverse("marketplace:index"), {"publisher": "pub"}).content.decode()
    assert "60.0%" in page and "70.0%" not in page


def test_a_member_of_two_teams_that_measured_an_agent_sees_no_figure_for_it(client_for, make_user, world):
    measure_alpha(world, other_teams=3)
    user = make_user("both", team=world["viewer"])
    core.membership_set(team=world["others"][0], user=user, role=Role.MEMBER)
    client = client_for(user)
    assert listed_evidence(client)["alpha"] is None
    # Gamma: other-0 is one of the user's teams, and two other teams are below K.
    assert listed_evidence(client)["gamma"] is None
    assert slugs(client.get(AGENTS_URL, {"sort": "success", "publisher": "pub"})) == ["none", "alpha", "gamma"]
    assert slugs(client.get(AGENTS_URL, {"min_success_rate": 0})) == []


def test_turning_sharing_off_gives_the_plain_figures_back(client_for, make_user, world):
    measure_alpha(world, other_teams=3)
    share(world["viewer"], on=False)  # its figures leave the median; it no longer needs a view without them
    viewer = client_for(make_user("viewer", team=world["viewer"]))
    assert listed_evidence(viewer)["alpha"]["success_rate_median"] == pytest.approx(0.6)
    assert listed_evidence(viewer)["alpha"]["teams"] == 3


def test_the_sort_reads_each_page_with_bounded_work(make_agent, world, monkeypatch):
    # Browse by success for a viewer that measured agents: a page ending at ``top`` reads the first
    # ``top`` agents it did not measure (indexed order) and those it did, and is still the true order.
    for i in range(3):
        make_agent(world["publisher"], f"Extra {i}", slug=f"extra-{i}")
    measure_alpha(world, other_teams=3)
    found = selectors.agent_search(team_ids=[world["viewer"].pk], sort="success", publisher="pub")
    order = ["alpha", "gamma", "none", "extra-0", "extra-1", "extra-2"]
    assert [a.slug for a in found.queryset] == order  # the queryset itself, whole
    assert [a.slug for a in found.window(found.queryset, 2)] == ["alpha", "gamma", "none"]  # 2 walked + 1 measured
    paginator = selectors.CappedPaginator.for_search(found)(found.queryset, 2)
    pages = [[a.slug for a in paginator.page(n)] for n in paginator.page_range]
    assert paginator.count == 6 and pages == [order[0:2], order[2:4], order[4:6]]
    monkeypatch.setattr(conf, "LIST_COUNT_CAP", 3)  # the list stops at the cap, as every list of agents
    paginator = selectors.CappedPaginator.for_search(found)(found.queryset, 2)
    assert paginator.count == 3 and paginator.capped
    assert [a.slug for a in paginator.page(2)] == ["none"]
