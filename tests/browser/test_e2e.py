"""The main path in a real browser: log in, switch team, search and install an agent, rate it,
see the observability dashboard draw its charts, open an experiment report, and check that
nothing landed in the other team's data. A failure leaves a screenshot in test-artifacts/."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.utils import timezone

from crucible import services as core
from crucible.models import Role

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scene(make_user, make_team):
    from improvement import services as imp
    from marketplace import services as mp
    from observability import services as obs

    acme = make_team("Acme", slug="acme")
    globex = make_team("Globex", slug="globex")
    initech = make_team("Initech", slug="initech")
    user = make_user("e2e", team=acme, role=Role.MEMBER)
    core.membership_set(team=globex, user=user, role=Role.MEMBER)
    publisher = make_user("publisher", team=initech, role=Role.OWNER)
    reviewer = mp.agent_create(
        team=initech,
        name="Code Reviewer",
        system_prompt="Review the diff.",
        summary="Reviews pull requests",
        tags=["review"],
        visibility="public",
        created_by=publisher,
    )
    mp.agent_create(
        team=initech,
        name="Doc Writer",
        system_prompt="Write docs.",
        summary="Writes documentation",
        tags=["docs"],
        visibility="public",
        created_by=publisher,
    )
    # Globex has executions (for the dashboard) and an experiment with results (for the report).
    rng = random.Random(3)
    now = timezone.now()
    obs.executions_ingest(
        team=globex,
        events=[
            {
                "id": f"e2e-{i}",
                "agent": "code-reviewer",
                "model": "gpt-4o",
                "status": "success" if i % 7 else "error",
                "started_at": (now - dt.timedelta(minutes=5 * i)).isoformat(),
                "duration_ms": rng.uniform(200, 4000),
                "input_tokens": rng.randint(100, 2000),
                "output_tokens": rng.randint(50, 500),
            }
            for i in range(60)
        ],
    )
    experiment = imp.experiment_create(
        team=globex,
        name="Terser prompt",
        created_by=user,
        variants=[
            {"name": "control", "prompt": "Review.", "is_control": True},
            {"name": "terse", "prompt": "Review briefly."},
        ],
        status="running",
    )
    variants = list(experiment.variants.order_by("pk"))
    imp.results_record_bulk(
        team=globex,
        results=[
            {
                "variant_id": variants[i % 2].pk,
                "success": rng.random() < (0.6 if i % 2 else 0.8),
                "duration_ms": rng.uniform(300, 3000),
                "quality": rng.uniform(40, 95),
                "tokens": rng.randint(100, 900),
                "cost": None,
            }
            for i in range(80)
        ],
    )
    return {"acme": acme, "globex": globex, "agent": reviewer, "experiment": experiment}


def test_main_path_in_the_browser(page, login, scene):
    from improvement.models import Experiment
    from marketplace.models import Installation, Rating
    from observability.models import Execution

    acme, globex, agent = scene["acme"], scene["globex"], scene["agent"]
    login("e2e")
    assert page.locator("h1").first.inner_text().startswith("Acme")

    # Switch team.
    with page.expect_navigation():
        page.select_option("#team-select", str(globex.pk))
    assert page.locator("h1").first.inner_text().startswith("Globex")

    # Search the marketplace and open the agent.
    page.goto("/marketplace/")
    page.fill("input[name=q]", "reviewer")
    with page.expect_navigation():
        page.click("form[role=search] button[type=submit]")
    results = page.locator("#agent-results").inner_text()
    assert "Code Reviewer" in results and "Doc Writer" not in results
    with page.expect_navigation():
        page.click("#agent-results a.agent-link:has-text('Code Reviewer')")

    # Install it for Globex, then rate it.
    with page.expect_navigation():
        page.click("#install-button")
    assert "Installed" in page.locator("#install-status").inner_text()
    page.select_option("#rate-form select[name=stars]", "4")
    page.fill("#rate-form [name=review]", "Catches real bugs. <script>alert(1)</script>")
    with page.expect_navigation():
        page.click("#rate-form button[type=submit]")
    assert page.locator("#kpi-raters").inner_text().strip() == "1"
    assert "<script>alert(1)</script>" in page.locator("body").inner_text()  # shown as text, not run

    # The observability dashboard draws its charts with plotly.
    page.goto("/observability/")
    assert page.locator("#kpi-executions").inner_text().strip() == "60"
    page.wait_for_selector(".chart[data-drawn='1']", timeout=20000)
    drawn = page.locator(".chart[data-drawn='1']").count()
    assert drawn >= 1
    assert page.locator(".chart[data-drawn='1'] .main-svg").count() >= 1

    # The experiment report.
    page.goto(f"/improvement/experiments/{scene['experiment'].pk}/")
    assert "Terser prompt" in page.locator("h1").first.inner_text()
    assert page.locator("#verdict").inner_text().strip()
    page.wait_for_selector("#objective-chart[data-drawn='1']", timeout=20000)

    assert page.console_errors == []

    # Everything landed in Globex, nothing in Acme.
    assert Installation.objects.filter(team=globex, agent=agent, uninstalled_at__isnull=True).count() == 1
    assert Rating.objects.filter(team=globex, agent=agent, stars=4).count() == 1
    assert not Installation.objects.filter(team=acme).exists()
    assert not Rating.objects.filter(team=acme).exists()
    assert not Execution.objects.filter(team=acme).exists()
    assert not Experiment.objects.filter(team=acme).exists()
    agent.refresh_from_db()
    assert (agent.install_count, agent.rating_count, agent.rating_sum) == (1, 1, 4)
