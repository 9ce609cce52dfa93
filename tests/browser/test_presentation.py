"""The presentation kit in a real browser: narrow screens do not scroll sideways, and a user's
markup in a name stays text on a plotly chart (issue 15 item 9)."""

import datetime as dt

import pytest
from django.utils import timezone

from crucible.models import Role
from improvement import services as improvement_services
from marketplace import services as marketplace_services
from observability.services import executions_ingest
from tests.chart_checks import EVIL

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


def _events(agent, n, *, version="1.0.0"):
    now = timezone.now()
    return [
        {
            "id": f"{agent[:20]}-{i}",
            "agent": agent,
            "agent_version": version,
            "model": "gpt-4o",
            "started_at": (now - dt.timedelta(minutes=5 * i + 1)).isoformat(),
            "duration_ms": 400.0 + 50 * i,
            "status": "success" if i % 5 else "error",
            "error_type": "" if i % 5 else "Timeout",
            "input_tokens": 1200,
            "output_tokens": 300,
        }
        for i in range(n)
    ]


def _seed(team, other_team, outsider):
    results = executions_ingest(team=team, events=_events("a-rather-long-agent-name-for-a-phone", 30))
    results += executions_ingest(team=team, events=_events(EVIL, 10))
    assert all(r["status"] == "stored" for r in results)
    for i in range(3):
        marketplace_services.agent_create(
            team=other_team,
            name=f"Incident Postmortem Writer With A Long Name {i}",
            summary="Drafts a postmortem from an incident timeline, with a very long summary line for phones.",
            system_prompt="You write postmortems.",
            tags=["incident-response", "documentation", "writing"],
            created_by=outsider,
        )
    experiment = improvement_services.experiment_create(
        team=team,
        name="a-fairly-long-experiment-name-on-a-phone",
        status="running",
        variants=[{"name": "control", "prompt": "A", "is_control": True}, {"name": "bold-variant", "prompt": "B"}],
    )
    for variant in experiment.variants.all():
        improvement_services.results_record_bulk(
            team=team,
            results=[
                {
                    "variant_id": variant.pk,
                    "success": True,
                    "duration_ms": 900,
                    "quality": 70,
                    "tokens": 10,
                    "cost": 0.001,
                }
                for _ in range(5)
            ],
        )
    return experiment


def test_pages_fit_a_390px_screen(page, login, make_user, team, other_team, outsider):
    experiment = _seed(team, other_team, outsider)
    make_user("phone-user-with-a-long-name", team=team, role=Role.ADMIN)
    login("phone-user-with-a-long-name")
    page.set_viewport_size(PHONE)
    for url in ["/", "/marketplace/", "/observability/", f"/improvement/experiments/{experiment.pk}/"]:
        page.goto(url)
        page.wait_for_load_state("load")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], (url, width)
        # Every link of the navigation is on the screen, not clipped.
        for link in page.locator("header a, header button, header select").all():
            box = link.bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (url, box)
    assert page.console_errors == []


def test_markup_in_a_name_stays_text_on_a_chart(page, login, make_user, team, other_team, outsider):
    _seed(team, other_team, outsider)
    make_user("viewer-of-charts", team=team, role=Role.VIEWER)
    login("viewer-of-charts")
    page.goto("/observability/bottlenecks/")
    page.wait_for_selector('#chart-time[data-drawn="1"]', timeout=15000)
    chart = page.locator("#chart-time")
    assert chart.locator("svg a").count() == 0  # no live link
    assert chart.locator("svg tspan[style*='bold']").count() == 0  # no bold text
    assert EVIL in chart.locator("svg").first.text_content()  # the name, as the user typed it
    assert page.console_errors == []


def test_a_line_of_toolbar_links_reads_as_one_line(page, login, make_user, team, other_team, outsider):
    """``<p class="toolbar">`` holds a sentence of links ("Export these executions: CSV · JSON
    Lines"); the flex toolbar spread its pieces across the page width."""
    _seed(team, other_team, outsider)
    make_user("reader-of-lists", team=team, role=Role.VIEWER)
    login("reader-of-lists")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/observability/executions/")
    csv, jsonl = page.locator("#export-links a").all()
    first, second = csv.bounding_box(), jsonl.bounding_box()
    assert second["x"] - (first["x"] + first["width"]) < 40, (first, second)  # " · " between them
    assert page.console_errors == []
