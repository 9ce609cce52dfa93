"""Alert pages: list, rule page with the chart and the history, the form (also prefilled), mute."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts import services
from alerts.models import AlertRule

pytestmark = pytest.mark.django_db


def _rule(team, **over):
    data = {"name": "slow planner", "metric": "p95_ms", "window_minutes": 15, "warning_threshold": 1500,
            "critical_threshold": 3000, "agent_name": "planner"}  # fmt: skip
    data.update(over)
    return services.alert_rule_create(team=team, data=data)


def test_list_and_rule_page(client, member, team):
    rule = _rule(team)
    client.force_login(member)
    listing = client.get("/alerts/")
    assert listing.status_code == 200
    assert "slow planner" in listing.content.decode()
    page = client.get(f"/alerts/rules/{rule.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-chart-source="chart-rule"' in html
    assert "warning threshold" in html and "critical threshold" in html
    assert "No changes yet" in html


def test_rule_page_draws_the_thresholds_on_the_chart(client, member, team):
    rule = _rule(team)
    client.force_login(member)
    chart = client.get(f"/alerts/rules/{rule.pk}/").context["chart"]
    dashed = {trace["name"]: trace for trace in chart["data"] if trace.get("line", {}).get("dash")}
    assert set(dashed) == {"warning threshold", "critical threshold"}
    assert set(dashed["critical threshold"]["y"]) == {3000}


def test_create_from_the_form_and_prefilled_links(client, member, team):
    client.force_login(member)
    form = client.get("/alerts/rules/new/?metric=error_rate&agent_name=coder&warning_threshold=0.1")
    assert form.status_code == 200
    assert form.context["form"].initial == {"metric": "error_rate", "agent_name": "coder", "warning_threshold": "0.1"}
    response = client.post(
        "/alerts/rules/new/",
        {
            "name": "coder errors",
            "metric": "error_rate",
            "agent_name": "coder",
            "window_minutes": "15",
            "direction": "above",
            "warning_threshold": "0.1",
            "min_samples": "5",
            "no_data": "keep",
            "pending_minutes": "1",
            "enabled": "on",
        },  # fmt: skip
    )
    rule = AlertRule.objects.get(team=team, name="coder errors")
    assert response.status_code == 302 and response["Location"] == f"/alerts/rules/{rule.pk}/"
    assert (rule.min_samples, rule.warning_threshold, rule.critical_threshold) == (5, 0.1, None)


def test_form_errors_are_shown_by_field(client, member, team):
    client.force_login(member)
    response = client.post(
        "/alerts/rules/new/",
        {
            "name": "no thresholds",
            "metric": "error_rate",
            "window_minutes": "15",
            "direction": "above",
            "min_samples": "1",
            "no_data": "keep",
            "pending_minutes": "1",
        },  # fmt: skip
    )
    assert response.status_code == 200
    assert "critical_threshold" in response.context["form"].errors
    assert not AlertRule.objects.exists()


def test_mute_from_the_page(client, member, team):
    rule = _rule(team)
    client.force_login(member)
    response = client.post(f"/alerts/rules/{rule.pk}/mute/", {"hours": "4"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.muted_until > dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
    assert "muted until" in client.get(f"/alerts/rules/{rule.pk}/").content.decode()


def test_another_teams_rule_is_404_and_viewers_cannot_change(client, outsider, viewer, team):
    rule = _rule(team)
    client.force_login(outsider)
    assert client.get(f"/alerts/rules/{rule.pk}/").status_code == 404
    assert client.post(f"/alerts/rules/{rule.pk}/mute/", {"hours": "1"}).status_code == 404
    client.force_login(viewer)
    assert client.get(f"/alerts/rules/{rule.pk}/").status_code == 200
    assert client.post(f"/alerts/rules/{rule.pk}/delete/").status_code == 403
    assert AlertRule.objects.filter(pk=rule.pk).exists()


def test_history_lists_transitions(client, member, team):
    rule = _rule(team, metric="executions", critical_threshold=10, warning_threshold=None, no_data="alerting",
                 pending_minutes=0)  # fmt: skip
    services.alerts_evaluate_team(team=team, tick=dt.datetime.now(dt.UTC))
    client.force_login(member)
    html = client.get(f"/alerts/rules/{rule.pk}/").content.decode()
    assert 'id="rule-state">Firing' in html
    assert "No data in the last" not in html  # the reason is the transition's, not the notification body
    assert "threshold crossed" in html
