"""Marketplace in a real browser: search with a typo, install an agent, rate it, see the chart."""

import pytest

from crucible.models import Role
from marketplace import services
from marketplace.models import Agent, Installation, Rating

pytestmark = pytest.mark.django_db(transaction=True)


def test_search_install_and_rate_an_agent(page, login, make_user, make_team, team):
    publisher = make_team("Northwind", slug="northwind", is_verified=True)
    services.agent_create(
        team=publisher,
        name="Meeting Summarizer",
        summary="Turns transcripts into action items",
        description="## Usage\n\nPaste a transcript.",
        category="product",
        tags=["notes"],
        system_prompt="Summarize meetings.",
        input_schema={"type": "object", "title": "Transcript"},
    )
    services.agent_create(team=publisher, name="Test Writer", summary="Writes unit tests", system_prompt="Write tests.")
    make_user("shopper", team=team, role=Role.MEMBER)
    login("shopper")

    page.goto("/marketplace/")
    page.fill("input[name=q]", "meeting sumarizer")  # typo on purpose
    with page.expect_navigation():
        page.click("form[role=search] button[type=submit]")
    rows = page.locator("#agent-results tbody tr")
    assert rows.count() == 1
    assert "Meeting Summarizer" in rows.first.inner_text()
    assert "verified" in rows.first.inner_text()

    with page.expect_navigation():
        page.click("text=Meeting Summarizer")
    assert page.locator("h1").first.inner_text().startswith("Meeting Summarizer")
    assert page.locator(".markdown h2").inner_text() == "Usage"
    with page.expect_navigation():
        page.click("#install-button")
    assert "Installed 1.0.0" in page.locator("#install-status").inner_text()
    assert page.locator("#kpi-installs").inner_text() == "1"
    # The installs chart is drawn by plotly from our static files.
    page.wait_for_selector(".chart[data-drawn='1']", timeout=15000)

    page.select_option("#rate-form select[name=stars]", "4")
    page.fill("#rate-form textarea[name=review]", "Good summaries, short and accurate.")
    with page.expect_navigation():
        page.click("#rate-form button[type=submit]")
    assert page.locator("#kpi-raters").inner_text() == "1"
    assert page.locator("#kpi-rating").inner_text() == "4.00"
    assert "Good summaries" in page.locator("#reviews").inner_text()

    page.goto("/marketplace/installed/")
    assert "Meeting Summarizer" in page.locator("#installed").inner_text()
    agent = Agent.objects.get(name="Meeting Summarizer")
    assert Installation.objects.get(agent=agent).team == team
    assert Rating.objects.get(agent=agent).stars == 4
    assert page.console_errors == []
