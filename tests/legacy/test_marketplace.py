"""The earlier implementation's routes keep their meaning (and appear in the OpenAPI schema)."""

import pytest

from marketplace.models import Agent, Installation, Rating

pytestmark = pytest.mark.django_db


def test_create_agent_legacy_route(team_key_client, team):
    response = team_key_client.post(
        "/api/marketplace/create-agent",
        {
            "name": "SQL Helper",
            "description": "Writes SQL",
            "category": "data",
            "prompt": "You write SQL.",
            "tags": ["sql"],
            "author": "someone",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["success"] is True
    agent = Agent.objects.get(pk=body["agent_id"])
    assert agent.team == team and agent.latest_version.system_prompt == "You write SQL."
    assert body["agent"]["rating"] is None and body["agent"]["downloads"] == 0


def test_create_agent_legacy_route_bad_input(team_key_client):
    response = team_key_client.post("/api/marketplace/create-agent", {"name": "No prompt"}, format="json")
    assert response.status_code == 400 and "system_prompt" in response.json()["fields"]
    response = team_key_client.post(
        "/api/marketplace/create-agent", {"name": "X", "prompt": "p", "input_schema": {"type": "thing"}}, format="json"
    )
    assert response.status_code == 400 and "input_schema" in response.json()["fields"]
    assert not Agent.objects.exists()


def test_search_legacy_route(make_agent, team, other_team, member_client):
    make_agent(other_team, "SQL Helper", category="data")
    make_agent(other_team, "Secret SQL", category="data", visibility="private")
    make_agent(other_team, "Deploy Bot", category="devops")
    response = member_client.get("/api/marketplace/search?query=sql")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["count"] == 1
    assert [row["name"] for row in body["agents"]] == ["SQL Helper"]
    response = member_client.get("/api/marketplace/search?category=devops")
    assert [row["name"] for row in response.json()["agents"]] == ["Deploy Bot"]
    assert member_client.get("/api/marketplace/search?min_rating=4").json()["count"] == 0
    assert member_client.get("/api/marketplace/search?min_rating=11").status_code == 400
    assert member_client.get("/api/marketplace/search?colour=red").status_code == 400


def test_install_and_rate_legacy_routes(public_agent, member_client, team):
    not_installed = member_client.post(f"/api/marketplace/rate/{public_agent.pk}", {"rating": 5}, format="json")
    assert not_installed.status_code == 400
    response = member_client.post(f"/api/marketplace/install/{public_agent.pk}")
    assert response.status_code == 201
    assert response.json() == {
        "success": True,
        "agent_id": public_agent.pk,
        "version": "1.0.0",
        "outcome": "installed",
        "installs": 1,
    }
    # By team-slug/slug as well; the second install is idempotent.
    response = member_client.post("/api/marketplace/install/globex/test-writer", {}, format="json")
    assert response.status_code == 200 and response.json()["installs"] == 1
    assert Installation.objects.get().team == team
    response = member_client.post(
        f"/api/marketplace/rate/{public_agent.pk}", {"rating": 4, "review": "good"}, format="json"
    )
    assert response.status_code == 201
    assert response.json() == {"success": True, "agent_id": public_agent.pk, "rating": 4.0, "rating_count": 1}
    response = member_client.post(f"/api/marketplace/rate/{public_agent.pk}", {"rating": 0}, format="json")
    assert response.status_code == 400 and "rating" in response.json()["fields"]
    assert Rating.objects.get().stars == 4


def test_legacy_routes_unknown_and_private_agents_are_404(make_agent, other_team, member_client):
    private = make_agent(other_team, "Hidden", visibility="private")
    assert member_client.post(f"/api/marketplace/install/{private.pk}").status_code == 404
    assert member_client.post("/api/marketplace/install/987654").status_code == 404
    assert member_client.post("/api/marketplace/rate/987654", {"rating": 3}, format="json").status_code == 404
    for odd in ("\u00b2", "../..", "a" * 300, "99999999999999999999999"):
        assert member_client.post(f"/api/marketplace/install/{odd}").status_code == 404, odd
    assert not Installation.objects.exists()


def test_legacy_routes_need_authentication(api_client):
    assert api_client.get("/api/marketplace/search").status_code in (401, 403)
    assert api_client.post("/api/marketplace/create-agent", {}, format="json").status_code in (401, 403)


def test_legacy_routes_are_in_the_schema(member_client):
    schema = member_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in (
        "/api/marketplace/create-agent",
        "/api/marketplace/search",
        "/api/marketplace/install/{ref}",
        "/api/marketplace/rate/{ref}",
    ):
        assert path in schema["paths"], path
    assert "/api/v1/marketplace/agents/" in schema["paths"]
