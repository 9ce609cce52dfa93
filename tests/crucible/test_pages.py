import pytest
from django.urls import reverse

from crucible import services
from crucible.models import ApiKey, Role

pytestmark = pytest.mark.django_db


def test_pages_need_login(client):
    for name in [
        "home",
        "api-keys",
        "marketplace:index",
        "teammemory:index",
        "observability:index",
        "improvement:index",
    ]:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


def test_login_and_home(client, member):
    response = client.post(reverse("login"), {"username": "member", "password": "pw-for-tests-1"})
    assert response.status_code == 302
    page = client.get(reverse("home"))
    assert page.status_code == 200
    assert "Acme" in page.content.decode()


def test_login_is_throttled_after_repeated_failures(client, member, settings):
    settings.LOGIN_THROTTLE_ATTEMPTS = 3
    for _ in range(3):
        assert client.post(reverse("login"), {"username": "member", "password": "wrong"}).status_code == 200
    blocked = client.post(reverse("login"), {"username": "member", "password": "pw-for-tests-1"})
    assert blocked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_team_switcher_changes_the_active_team(client, make_user, team, other_team):
    user = make_user("switcher", team=team)
    services.membership_set(team=other_team, user=user, role=Role.VIEWER)
    client.force_login(user)
    assert "Acme" in client.get(reverse("home")).content.decode().split("<h1>")[1]
    client.post(reverse("team-switch"), {"team": other_team.pk, "next": "/"})
    assert "Globex" in client.get(reverse("home")).content.decode().split("<h1>")[1]


def test_switching_to_a_team_i_am_not_in_is_404(client, member, other_team):
    client.force_login(member)
    assert client.post(reverse("team-switch"), {"team": other_team.pk}).status_code == 404
    assert client.post(reverse("team-switch"), {"team": "abc"}).status_code == 404


def test_switch_ignores_offsite_next(client, member, team):
    client.force_login(member)
    response = client.post(reverse("team-switch"), {"team": team.pk, "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


def test_api_key_page_shows_a_new_key_once(client, team_admin, team):
    client.force_login(team_admin)
    response = client.post(reverse("api-keys"), {"name": "deploy bot", "role": "member"}, follow=True)
    assert response.redirect_chain == [(reverse("api-keys"), 302)]
    key = ApiKey.objects.get(team=team)
    html = response.content.decode()
    assert 'id="new-key">crk_' + key.prefix in html
    assert response["Cache-Control"].startswith("max-age=0") and "no-store" in response["Cache-Control"]
    again = client.get(reverse("api-keys")).content.decode()
    assert "deploy bot" in again and 'id="new-key"' not in again


def test_reloading_after_creating_an_api_key_creates_no_second_key(client, team_admin, team):
    """Post/redirect/get: the browser's reload repeats the GET, not the POST."""
    client.force_login(team_admin)
    response = client.post(reverse("api-keys"), {"name": "deploy bot", "role": "member"})
    assert response.status_code == 302 and response["Location"] == reverse("api-keys")
    for _ in range(2):  # the page the browser lands on, then a reload of it
        assert client.get(response["Location"]).status_code == 200
    assert ApiKey.objects.filter(team=team).count() == 1


def test_api_key_page_error_is_shown_after_the_redirect_and_creates_nothing(client, team_admin, team):
    client.force_login(team_admin)
    response = client.post(reverse("api-keys"), {"name": " ", "role": "member"}, follow=True)
    assert response.redirect_chain == [(reverse("api-keys"), 302)]
    html = response.content.decode()
    assert "Give the key a name" in html
    assert 'id="new-key"' not in html and not ApiKey.objects.exists()


def test_members_cannot_create_or_revoke_keys_in_pages(client, member, team):
    key, _ = services.api_key_create(team=team, name="k")
    client.force_login(member)
    assert client.post(reverse("api-keys"), {"name": "x"}).status_code == 403
    assert client.post(reverse("api-key-revoke", args=[key.pk])).status_code == 403
    key.refresh_from_db()
    assert key.revoked_at is None and ApiKey.objects.count() == 1


def test_revoking_another_teams_key_in_pages_is_404(client, team_admin, other_team):
    key, _ = services.api_key_create(team=other_team, name="theirs")
    client.force_login(team_admin)
    assert client.post(reverse("api-key-revoke", args=[key.pk])).status_code == 404


def test_user_without_team_sees_an_explanation(client, make_user):
    client.force_login(make_user("lonely"))
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert "not in a team" in response.content.decode()


def test_pages_send_a_strict_content_security_policy(client, member):
    client.force_login(member)
    response = client.get(reverse("home"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "<script>" not in response.content.decode()


@pytest.mark.parametrize(
    "page,landing",
    [
        ("/marketplace/agents/{pk}/", "/marketplace/"),
        ("/improvement/experiments/{pk}/", "/improvement/"),
        ("/teammemory/builds/{pk}/", "/teammemory/"),
        ("/observability/agents/planner/?range=7d", "/observability/"),
    ],
)
def test_switching_team_on_an_object_page_lands_on_the_section_index(client, member, other_team, page, landing):
    services.membership_set(team=other_team, user=member, role=Role.MEMBER)
    client.force_login(member)
    response = client.post(reverse("team-switch"), {"team": other_team.pk, "next": page.format(pk=7)})
    assert response.status_code == 302 and response["Location"] == landing
    assert client.get(response["Location"]).status_code == 200


def test_switching_team_elsewhere_keeps_the_page(client, member, other_team):
    services.membership_set(team=other_team, user=member, role=Role.MEMBER)
    client.force_login(member)
    for page in ("/teammemory/builds/?status=failed", "/observability/bottlenecks/?range=7d", "/"):
        response = client.post(reverse("team-switch"), {"team": other_team.pk, "next": page})
        assert response["Location"] == page
