"""The observability dashboard and agent page in a real browser: charts are drawn."""

import datetime as dt

import pytest
from django.utils import timezone

from crucible.models import Role
from observability.services import executions_ingest

pytestmark = pytest.mark.django_db(transaction=True)


def _seed(team):
    now = timezone.now()
    events = [
        {
            "id": f"b{i}",
            "agent": "planner" if i % 3 else "coder",
            "model": "gpt-4o" if i % 4 else "private-llm",
            "started_at": (now - dt.timedelta(minutes=7 * i)).isoformat(),
            "duration_ms": 300.0 + 37 * i,
            "status": "error" if i % 9 == 0 else "success",
            "error_type": "Timeout" if i % 9 == 0 else "",
            "input_tokens": 900 + i,
            "output_tokens": 100 + i,
        }
        for i in range(120)
    ]
    results = executions_ingest(team=team, events=events)
    assert all(r["status"] == "stored" for r in results)


def test_dashboard_draws_its_charts(page, login, make_user, team):
    make_user("watcher", team=team, role=Role.MEMBER)
    _seed(team)
    login("watcher")
    page.goto("/observability/")
    for chart in ("obs-executions", "obs-error-rate", "obs-p95", "obs-cost"):
        page.wait_for_selector(f'#chart-{chart}[data-drawn="1"]', timeout=15000)
    assert page.locator("#chart-obs-p95 .main-svg").count() >= 1
    assert page.locator("#agents-table tbody tr").count() == 2
    assert "unpriced" in page.locator("#unpriced-warning").inner_text()
    # Change the period with the form, then open an agent.
    page.select_option("select[name=range]", "7d")
    with page.expect_navigation():
        page.click("form.filters button[type=submit]")
    page.wait_for_selector('#chart-obs-executions[data-drawn="1"]', timeout=15000)
    with page.expect_navigation():
        page.click("#agents-table >> text=coder")
    page.wait_for_selector('#chart-obs-p95[data-drawn="1"]', timeout=15000)
    assert "Timeout" in page.locator("#errors-table").inner_text()
    assert page.console_errors == []


def test_empty_dashboard_says_so(page, login, make_user, team):
    make_user("newbie", team=team, role=Role.VIEWER)
    login("newbie")
    page.goto("/observability/")
    page.wait_for_selector('#chart-obs-executions[data-drawn="empty"]', timeout=15000)
    assert "No executions in this period" in page.locator("#chart-obs-executions").inner_text()
    assert page.console_errors == []


def test_clicking_a_chart_bar_opens_the_executions_behind_it(page, login, make_user, team):
    make_user("digger", team=team, role=Role.MEMBER)
    _seed(team)
    login("digger")
    page.goto("/observability/?range=24h&agent=coder")
    page.wait_for_selector('#chart-obs-executions[data-drawn="1"][data-drill-down="1"]', timeout=15000)
    bars = page.locator("#chart-obs-executions .bars .point path")
    heights = [bars.nth(i).bounding_box() for i in range(bars.count())]
    tallest = max(range(len(heights)), key=lambda i: (heights[i] or {}).get("height", 0))
    with page.expect_navigation():
        bars.nth(tallest).click(force=True)
    assert "/observability/executions/?" in page.url and "agent=coder" in page.url
    assert "started_after=" in page.url and "started_before=" in page.url
    rows = page.locator("#executions-table tbody tr")
    assert rows.count() >= 1
    agents = {rows.nth(i).locator("td").nth(1).inner_text() for i in range(rows.count())}
    assert agents == {"coder"}
    # A row opens its execution's page.
    with page.expect_navigation():
        rows.first.locator("td a").first.click()
    assert page.locator("#execution-fields").count() == 1
    assert page.console_errors == []


def test_live_view_refreshes_itself_under_the_csp(page, login, make_user, team):
    from observability import conf

    make_user("livewatcher", team=team, role=Role.VIEWER)
    _seed(team)
    login("livewatcher")
    before = conf.LIVE_REFRESH_SECONDS
    conf.LIVE_REFRESH_SECONDS = 1
    try:
        page.goto("/observability/live/?range=1h")
        page.wait_for_selector('#chart-obs-executions[data-drawn="1"]', timeout=15000)
        page.wait_for_selector("#live-fragment[data-refreshed]", timeout=15000)
        page.wait_for_selector('#live-fragment #chart-obs-executions[data-drawn="1"]', timeout=15000)
    finally:
        conf.LIVE_REFRESH_SECONDS = before
    assert page.locator("#live-fragment[data-refresh-failed]").count() == 0
    assert page.console_errors == []
