"""Log in and open every page of the base layout in a real browser."""

import pytest

from crucible import services
from crucible.models import Role

pytestmark = pytest.mark.django_db(transaction=True)


def test_login_and_every_layout_page(page, login, make_user, team, other_team):
    user = make_user("walker", team=team, role=Role.ADMIN)
    services.membership_set(team=other_team, user=user, role=Role.VIEWER)
    login("walker")
    assert page.locator("h1").first.inner_text().startswith("Acme")
    for link in ["Marketplace", "Team memory", "Observability", "Improvement", "API keys"]:
        with page.expect_navigation():
            page.click(f"header >> text={link}")
        assert page.locator("h1").count() >= 1, link
        assert "Server error" not in page.content()
    page.goto("/api/v1/docs/")
    page.wait_for_selector(".swagger-ui", timeout=15000)
    assert page.console_errors == []


def test_team_switcher_in_browser(page, login, make_user, team, other_team):
    user = make_user("switch", team=team)
    services.membership_set(team=other_team, user=user, role=Role.VIEWER)
    login("switch")
    with page.expect_navigation():
        page.select_option("#team-select", str(other_team.pk))
    assert page.locator("h1").first.inner_text().startswith("Globex")
    assert page.locator(".role-badge").inner_text() == "viewer"


def test_create_api_key_in_browser(page, login, make_user, team):
    make_user("keyadmin", team=team, role=Role.ADMIN)
    login("keyadmin")
    page.goto("/settings/api-keys/")
    page.fill("input[name=name]", "browser key")
    page.click("text=Create key")
    key = page.locator("#new-key").inner_text()
    assert key.startswith("crk_")
    assert page.console_errors == []
