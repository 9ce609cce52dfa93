"""Team memory in a real browser: the insights page draws its charts, the suggestion form answers."""

import datetime as dt

import pytest
from django.utils import timezone

from crucible.models import Role
from teammemory import services

pytestmark = pytest.mark.django_db(transaction=True)

STACK = {"language": "Python", "framework": "Django", "database": "Postgres"}


def seed(team, weeks=6):
    now = timezone.now()
    n = 0
    for week in range(weeks):
        for k in range(3):
            start = now - dt.timedelta(weeks=weeks - 1 - week, hours=2 + k)
            n += 1
            services.build_record(
                team=team,
                client_build_id=f"browser-{n}",
                status="failed" if k == 2 and week < 2 else "succeeded",
                quality=55 + 6 * week + k,
                started_at=start,
                finished_at=start + dt.timedelta(minutes=8 + k),
                project_name=f"invoices-{n}",
                requirements="Invoice API with payments and PDF export",
                stack=STACK,
            )


def test_insights_page_draws_the_quality_trend(page, login, make_user, team):
    make_user("tm-browser", team=team, role=Role.MEMBER)
    seed(team)
    login("tm-browser")
    page.goto("/teammemory/")
    page.wait_for_selector("#quality-trend-chart[data-drawn='1']", timeout=20000)
    page.wait_for_selector("#stack-chart[data-drawn='1']", timeout=20000)
    assert page.locator("#quality-trend-chart .main-svg").count() >= 1
    assert page.locator("#kpi-builds").inner_text() == "18"
    assert "rising" in page.locator("#trend-statement").inner_text()
    assert page.console_errors == []


def test_stack_suggestion_form(page, login, make_user, team):
    make_user("tm-suggest", team=team, role=Role.VIEWER)
    seed(team)
    login("tm-suggest")
    page.goto("/teammemory/suggest/")
    page.fill("textarea[name=requirements]", "We need an API for invoices and payments")
    page.fill("input[name=exclude]", "mongodb")
    page.click("#suggest-form button[type=submit]")
    page.wait_for_selector("#suggestions")
    assert page.locator("#suggestion-basis").get_attribute("data-basis") == "similar_builds"
    first = page.locator("article.suggestion").first
    assert "python + django + postgresql" in first.locator("h3").inner_text()
    assert first.locator("tbody tr").count() == 5  # evidence builds
    assert page.console_errors == []
