"""Open an experiment's report page in a real browser and see its charts drawn."""

import random

import pytest

from crucible.models import Role
from improvement import services

pytestmark = pytest.mark.django_db(transaction=True)


def _feed(variant, n, p, quality, seed):
    rng = random.Random(seed)
    services.results_record_bulk(
        team=variant.team,
        results=[
            {
                "variant_id": variant.pk,
                "success": rng.random() < p,
                "duration_ms": 800 + rng.random() * 400,
                "quality": min(100, max(0, rng.gauss(quality, 8))),
                "tokens": 500,
                "cost": 0.001,
            }
            for _ in range(n)
        ],
    )


def test_experiment_report_page_draws_its_charts(page, login, make_user, team):
    make_user("experimenter", team=team, role=Role.MEMBER)
    experiment = services.experiment_create(
        team=team,
        name="browser-exp",
        status="running",
        variants=[{"name": "control", "prompt": "A", "is_control": True}, {"name": "bold", "prompt": "B"}],
    )
    control, bold = experiment.variants.order_by("id")
    for _ in range(20):
        services.variant_select(experiment=experiment)
    _feed(control, 50, 0.6, 55, 1)
    _feed(bold, 50, 0.97, 88, 2)

    login("experimenter")
    page.goto("/improvement/")
    with page.expect_navigation():
        page.click("text=browser-exp")
    for chart in ("#objective-chart", "#traffic-chart", "#cumulative-chart"):
        page.wait_for_selector(f'{chart}[data-drawn="1"]', timeout=15000)
        assert page.locator(f"{chart} svg.main-svg").count() >= 1
    assert "winner: bold" in page.locator("#winner-badge").inner_text()
    assert page.locator("#variants tbody tr").count() == 2
    assert page.console_errors == []
