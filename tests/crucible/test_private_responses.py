"""Issue 15, item 15 (parts): API responses to a caller with credentials are private and never
stored; identical reports of one agent by one team count once."""

from __future__ import annotations

import pytest
from django.test import Client

from marketplace import services as mp
from marketplace.models import Report

pytestmark = pytest.mark.django_db


def _directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",")}


def _vary(response) -> set[str]:
    return {part.strip().lower() for part in response.get("Vary", "").split(",")}


@pytest.mark.parametrize("path", ["/api/v1/teams/", "/api/v1/marketplace/agents/", "/api/v1/nothing-here/"])
def test_api_responses_with_an_api_key_are_private_and_not_stored(path, team_key_client):
    response = team_key_client.get(path)
    assert {"private", "no-store"} <= _directives(response)
    assert "authorization" in _vary(response)


@pytest.mark.parametrize("path", ["/api/v1/teams/", "/api/v1/observability/executions/"])
def test_session_api_responses_are_private_and_vary_on_the_cookie(path, member):
    client = Client()
    client.force_login(member)
    response = client.get(path)
    assert response.status_code == 200
    assert {"private", "no-store"} <= _directives(response)
    assert "cookie" in _vary(response)


def test_anonymous_public_schema_is_not_marked_private(client):
    assert "no-store" not in _directives(client.get("/api/v1/schema/"))


def test_identical_reports_by_one_team_count_once(team_key_client, make_user, team, other_team):
    publisher = make_user("publisher", team=other_team)
    agent = mp.agent_create(
        team=other_team, name="Public", system_prompt="x", visibility="public", created_by=publisher
    )
    url = f"/api/v1/marketplace/agents/{agent.pk}/report/"
    ids = {team_key_client.post(url, {"reason": "spam"}, format="json").json()["id"] for _ in range(5)}
    assert len(ids) == 1
    assert Report.objects.filter(agent=agent, status=Report.Status.OPEN).count() == 1
    # A repeat with an explanation keeps one report and shows the newest explanation.
    again = team_key_client.post(url, {"reason": "spam", "text": "Still spam."}, format="json").json()
    assert again["id"] in ids and again["text"] == "Still spam."
    assert Report.objects.filter(agent=agent).count() == 1
    # Another reason, or the same reason once the first report is closed, is a new report.
    team_key_client.post(f"/api/v1/marketplace/agents/{agent.pk}/report/", {"reason": "malicious"}, format="json")
    mp.report_resolve(report=Report.objects.get(pk=ids.pop()), status=Report.Status.DISMISSED)
    team_key_client.post(f"/api/v1/marketplace/agents/{agent.pk}/report/", {"reason": "spam"}, format="json")
    assert Report.objects.filter(agent=agent).count() == 3
