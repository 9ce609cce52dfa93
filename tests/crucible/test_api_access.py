"""API keys, roles and team scoping on the core endpoints."""

import pytest
from django.test import Client
from django.utils import timezone

from crucible import services
from crucible.models import ApiKey, Role

pytestmark = pytest.mark.django_db

TEAMS = "/api/v1/teams/"
KEYS = "/api/v1/api-keys/"


def test_valid_key_sees_only_its_team(key_client, team, other_team):
    response = key_client(team).get(TEAMS)
    assert response.status_code == 200
    assert [row["slug"] for row in response.json()["results"]] == ["acme"]


def test_key_is_stored_hashed_and_last_use_recorded(key_client, team):
    client = key_client(team)
    key = ApiKey.objects.get(team=team)
    assert client.raw_key not in (key.key_hash, key.prefix)
    assert key.last_used_at is None
    client.get(TEAMS)
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_missing_credentials_answer_401_in_the_error_shape(api_client):
    response = api_client.get(TEAMS)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "not_authenticated"
    assert body["message"] and body["fields"] == {}


@pytest.mark.parametrize("header", ["Bearer crk_nope_nope", "Bearer not-a-key", "Bearer", "Bearer a b"])
def test_unknown_or_malformed_key_is_401(api_client, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    response = api_client.get(TEAMS)
    assert response.status_code == 401
    assert response.json()["code"] in {"authentication_failed", "not_authenticated"}


def test_revoked_key_fails(key_client, team):
    client = key_client(team)
    services.api_key_revoke(key=ApiKey.objects.get(team=team))
    assert client.get(TEAMS).status_code == 401


def test_key_with_a_wrong_secret_but_a_real_prefix_fails(key_client, team, api_client):
    raw = key_client(team).raw_key
    api_client.credentials(HTTP_AUTHORIZATION="Bearer " + raw[:-4] + "abcd")
    assert api_client.get(TEAMS).status_code == 401


def test_other_teams_object_is_404(key_client, team, other_team):
    response = key_client(team).get(f"{TEAMS}{other_team.pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_session_user_sees_all_their_teams_with_roles(client_for, make_user, team, other_team, make_team):
    user = make_user("multi", team=team, role=Role.VIEWER)
    services.membership_set(team=other_team, user=user, role=Role.ADMIN)
    make_team("Not mine")
    rows = client_for(user).get(TEAMS).json()["results"]
    assert {(row["slug"], row["role"]) for row in rows} == {("acme", "viewer"), ("globex", "admin")}


class TestApiKeyEndpoint:
    def test_admin_creates_a_key_shown_once(self, client_for, team_admin, team):
        client = client_for(team_admin)
        response = client.post(KEYS, {"name": "ci", "role": "viewer"}, format="json")
        assert response.status_code == 201
        raw = response.json()["key"]
        assert raw.startswith("crk_")
        listed = client.get(KEYS).json()["results"]
        assert len(listed) == 1 and "key" not in listed[0]
        # The key works, read-only.
        from rest_framework.test import APIClient

        new = APIClient()
        new.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert new.get(TEAMS).status_code == 200
        assert new.post(KEYS, {"name": "x"}, format="json").status_code == 403

    @pytest.mark.parametrize("role", [Role.MEMBER, Role.VIEWER])
    def test_members_and_viewers_cannot_create_keys(self, client_for, make_user, team, role):
        user = make_user(team=team, role=role)
        response = client_for(user).post(KEYS, {"name": "ci"}, format="json")
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert not ApiKey.objects.exists()

    def test_api_keys_cannot_mint_keys(self, key_client, team):
        assert key_client(team).post(KEYS, {"name": "x"}, format="json").status_code == 403

    def test_revoke_another_teams_key_is_404(self, client_for, team_admin, other_team):
        foreign, _ = services.api_key_create(team=other_team, name="theirs")
        response = client_for(team_admin).post(f"{KEYS}{foreign.pk}/revoke/")
        assert response.status_code == 404
        foreign.refresh_from_db()
        assert foreign.revoked_at is None

    def test_revoke(self, client_for, team_admin, team):
        key, _ = services.api_key_create(team=team, name="old")
        response = client_for(team_admin).post(f"{KEYS}{key.pk}/revoke/")
        assert response.status_code == 200 and response.json()["is_active"] is False
        key.refresh_from_db()
        assert key.revoked_at is not None and key.revoked_at <= timezone.now()

    def test_filter_active(self, client_for, team_admin, team):
        a, _ = services.api_key_create(team=team, name="a")
        b, _ = services.api_key_create(team=team, name="b")
        services.api_key_revoke(key=b)
        rows = client_for(team_admin).get(KEYS, {"active": "true"}).json()["results"]
        assert [row["name"] for row in rows] == ["a"]


def test_team_header_selects_among_my_teams(client_for, make_user, team, other_team):
    user = make_user("two", team=team, role=Role.VIEWER)
    services.membership_set(team=other_team, user=user, role=Role.ADMIN)
    client = client_for(user)
    # Viewer in acme: cannot create a key there; admin in globex: can, when it says so.
    assert client.post(KEYS, {"name": "k"}, format="json", HTTP_X_CRUCIBLE_TEAM="acme").status_code == 403
    response = client.post(KEYS, {"name": "k"}, format="json", HTTP_X_CRUCIBLE_TEAM="globex")
    assert response.status_code == 201
    assert response.json()["team"] == "globex"


def test_a_team_header_naming_no_team_of_mine_is_refused_not_ignored(client_for, make_user, team, other_team):
    # A typo or someone else's team must not act for the session's team instead.
    user = make_user("one", team=team, role=Role.ADMIN)
    client = client_for(user)
    for slug in (other_team.slug, "acmee", "<b>x</b>"):
        response = client.post(KEYS, {"name": "k"}, format="json", HTTP_X_CRUCIBLE_TEAM=slug)
        assert response.status_code == 403, slug
        assert response.json()["code"] == "permission_denied" and "X-Crucible-Team" in response.json()["message"]
        assert client.get("/api/v1/observability/dashboard/", HTTP_X_CRUCIBLE_TEAM=slug).status_code == 403
        assert client.get("/api/v1/observability/executions/", HTTP_X_CRUCIBLE_TEAM=slug).status_code == 403
    assert not ApiKey.objects.filter(name="k").exists()
    assert client.post(KEYS, {"name": "k"}, format="json", HTTP_X_CRUCIBLE_TEAM=team.slug).status_code == 201
    # Pages act for the team switcher's team: the header is the API's.
    browser = Client()
    browser.force_login(user)
    assert browser.get("/observability/", HTTP_X_CRUCIBLE_TEAM="acmee").status_code == 200
    assert browser.get("/observability/").status_code == 200
