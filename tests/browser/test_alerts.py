"""A rule created in the browser fires once executions are ingested and the evaluation runs; its
page shows it firing with the chart drawn, and the notification reaches the bell and the inbox."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts.models import AlertRule
from alerts.services import alerts_evaluate, tick_of
from crucible.models import Role
from observability.services import executions_ingest

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_a_rule_make_it_fire_and_see_the_notification(page, login, make_user, team):
    from observability.pricing import seed_default_prices

    seed_default_prices()
    make_user("oncall", team=team, role=Role.MEMBER)
    login("oncall")
    page.goto("/alerts/")
    with page.expect_navigation():
        page.click("#new-rule")
    page.fill("#id_name", "planner failing")
    page.select_option("#id_metric", "error_rate")
    page.fill("#id_agent_name", "planner")
    page.select_option("#id_window_minutes", "15")
    page.fill("#id_critical_threshold", "0.2")
    page.fill("#id_pending_minutes", "0")
    with page.expect_navigation():
        page.click("#rule-form button[type=submit]")
    rule = AlertRule.objects.get(team=team, name="planner failing")
    assert page.locator("#rule-state").inner_text() == "OK"

    now = dt.datetime.now(dt.UTC)
    events = [
        {"id": f"b-{i}", "agent": "planner", "model": "gpt-4o", "started_at": (now - dt.timedelta(minutes=3)).isoformat(),
         "duration_ms": 900, "status": "error" if i < 4 else "success", "input_tokens": 10, "output_tokens": 5}
        for i in range(10)
    ]  # fmt: skip
    assert all(r["status"] == "stored" for r in executions_ingest(team=team, events=events))
    alerts_evaluate(tick=tick_of(now))  # what the worker's minute job runs

    page.goto(f"/alerts/rules/{rule.pk}/")
    assert page.locator("#rule-state").inner_text() == "Firing"
    assert page.locator("#rule-severity").inner_text() == "critical"
    page.wait_for_selector('#rule-chart[data-drawn="1"]', timeout=15000)
    assert page.locator("#history tbody tr").count() == 1
    assert page.locator("#notification-bell .bell-count").inner_text() == "1"
    with page.expect_navigation():
        page.click("#notification-bell")
    assert "[critical] planner failing is firing" in page.locator("#notifications").inner_text()
    with page.expect_navigation():
        page.click("text=[critical] planner failing is firing")
    assert page.url.endswith(f"/alerts/rules/{rule.pk}/")
    assert page.console_errors == []
