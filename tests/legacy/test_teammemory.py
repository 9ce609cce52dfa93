"""The earlier implementation's team memory routes (/api/team/...)."""

import datetime as dt

import pytest

from tests.teammemory.conftest import NOW

pytestmark = pytest.mark.django_db


class TestLegacyRoutes:
    def test_by_id_and_slug(self, member_client, team, make_build):
        make_build(started=NOW - dt.timedelta(days=1))
        for ref in (team.pk, team.slug):
            response = member_client.get(f"/api/team/insights/{ref}")
            assert response.status_code == 200 and response.json()["team"] == "acme"
            assert response.json()["summary"]["builds"] == 1
            assert member_client.get(f"/api/team/recommendations/{ref}").json()["builds"] == 1
            suggestion = member_client.post(f"/api/team/suggest-stack/{ref}", {"requirements": "a shop"}, format="json")
            assert suggestion.status_code == 200 and "suggestions" in suggestion.json()

    def test_team_the_caller_is_not_in_is_404(self, member_client, other_team, team_key_client):
        for client in (member_client, team_key_client):
            assert client.get(f"/api/team/insights/{other_team.pk}").status_code == 404
            assert client.get(f"/api/team/insights/{other_team.slug}").status_code == 404
            assert client.get(f"/api/team/recommendations/{other_team.slug}").status_code == 404
            assert (
                client.post(
                    f"/api/team/suggest-stack/{other_team.slug}", {"requirements": "x"}, format="json"
                ).status_code
                == 404
            )
        assert member_client.get("/api/team/insights/no-such-team").status_code == 404
        # Not ASCII digits, or too big for an id: still just "no such team".
        for odd in ("²", "1²", "99999999999999999999999", "..%2F..%2Fetc"):
            assert member_client.get(f"/api/team/insights/{odd}").status_code == 404, odd

    def test_anonymous_is_401(self, api_client, team):
        assert api_client.get(f"/api/team/insights/{team.slug}").status_code == 401

    def test_in_openapi_schema(self, member_client):
        schema = member_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
        for path in (
            "/api/team/insights/{team_id}",
            "/api/team/suggest-stack/{team_id}",
            "/api/team/recommendations/{team_id}",
            "/api/v1/teammemory/builds/",
            "/api/v1/teammemory/insights/",
        ):
            assert path in schema["paths"], path
