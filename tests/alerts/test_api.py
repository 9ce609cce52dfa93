"""The alerts API: rules (create, read, change, mute, delete), transitions; scoping; bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts import services
from alerts.models import AlertRule
from crucible.models import Role

pytestmark = pytest.mark.django_db
BASE = "/api/v1/alerts"


def payload(**over):
    body = {"name": "planner errors", "metric": "error_rate", "window_minutes": 15, "critical_threshold": 0.2}
    body.update(over)
    return body


def test_create_read_update_and_delete(team_key_client, team):
    created = team_key_client.post(f"{BASE}/rules/", payload(agent_name="planner", warning_threshold=0.1))
    assert created.status_code == 201, created.json()
    rule = created.json()
    assert rule["team"] == team.slug and rule["state"] == "ok" and rule["agent_name"] == "planner"
    assert rule["url"] == f"/alerts/rules/{rule['id']}/"
    changed = team_key_client.patch(f"{BASE}/rules/{rule['id']}/", {"window_minutes": 60}, format="json")
    assert changed.status_code == 200, changed.json()
    assert changed.json()["window_minutes"] == 60
    listed = team_key_client.get(f"{BASE}/rules/", {"metric": "error_rate"}).json()
    assert [r["id"] for r in listed["results"]] == [rule["id"]]
    assert team_key_client.delete(f"{BASE}/rules/{rule['id']}/").status_code == 204
    assert not AlertRule.objects.exists()


def test_bad_fields_are_named_all_at_once(team_key_client):
    response = team_key_client.post(
        f"{BASE}/rules/", {"name": "", "metric": "nope", "window_minutes": 7, "min_samples": 0}, format="json"
    )
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert {"name", "metric", "window_minutes"} <= set(fields)


def test_a_rule_needs_a_threshold_and_a_coherent_pair(team_key_client):
    none = team_key_client.post(f"{BASE}/rules/", payload(critical_threshold=None), format="json")
    assert none.status_code == 400
    assert "critical_threshold" in none.json()["fields"]
    inverted = team_key_client.post(f"{BASE}/rules/", payload(warning_threshold=0.5, critical_threshold=0.2))
    assert inverted.status_code == 400
    assert "critical_threshold" in inverted.json()["fields"]
    below = team_key_client.post(
        f"{BASE}/rules/", payload(direction="below", warning_threshold=0.5, critical_threshold=0.2)
    )
    assert below.status_code == 201


def test_names_are_unique_per_team(team_key_client, key_client, other_team):
    assert team_key_client.post(f"{BASE}/rules/", payload()).status_code == 201
    again = team_key_client.post(f"{BASE}/rules/", payload())
    assert again.status_code == 400 and "name" in again.json()["fields"]
    assert key_client(other_team).post(f"{BASE}/rules/", payload()).status_code == 201


def test_unknown_fields_are_refused(team_key_client):
    response = team_key_client.post(f"{BASE}/rules/", payload(state="firing"), format="json")
    assert response.status_code == 400
    assert "state" in response.json()["fields"]


def test_another_teams_rule_answers_404(team, key_client, other_team):
    rule = services.alert_rule_create(team=team, data=payload())
    outsider = key_client(other_team)
    assert outsider.get(f"{BASE}/rules/{rule.pk}/").status_code == 404
    assert outsider.patch(f"{BASE}/rules/{rule.pk}/", {"name": "x"}, format="json").status_code == 404
    assert outsider.post(f"{BASE}/rules/{rule.pk}/mute/", {"until": None}, format="json").status_code == 404
    assert outsider.delete(f"{BASE}/rules/{rule.pk}/").status_code == 404
    assert outsider.get(f"{BASE}/rules/").json()["results"] == []


def test_viewers_read_but_do_not_write(team, key_client):
    rule = services.alert_rule_create(team=team, data=payload())
    viewer = key_client(team, role=Role.VIEWER)
    assert viewer.get(f"{BASE}/rules/{rule.pk}/").status_code == 200
    assert viewer.post(f"{BASE}/rules/", payload(name="other")).status_code == 403
    assert viewer.post(f"{BASE}/rules/{rule.pk}/mute/", {"until": None}, format="json").status_code == 403


def test_mute_and_unmute(team, team_key_client):
    rule = services.alert_rule_create(team=team, data=payload())
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).replace(microsecond=0)
    muted = team_key_client.post(f"{BASE}/rules/{rule.pk}/mute/", {"until": until.isoformat()}, format="json")
    assert muted.status_code == 200
    assert dt.datetime.fromisoformat(muted.json()["muted_until"]) == until
    assert team_key_client.get(f"{BASE}/rules/", {"muted": "true"}).json()["count"] == 1
    unmuted = team_key_client.post(f"{BASE}/rules/{rule.pk}/mute/", {"until": None}, format="json")
    assert unmuted.json()["muted_until"] is None


def test_transitions_are_listed_for_the_callers_teams_only(team, other_team, team_key_client, key_client):
    rule = services.alert_rule_create(
        team=team, data=payload(metric="executions", critical_threshold=5, no_data="alerting", pending_minutes=0)
    )
    services.alerts_evaluate_team(team=team, tick=dt.datetime.now(dt.UTC))
    listed = team_key_client.get(f"{BASE}/transitions/", {"rule": rule.pk}).json()
    assert [(t["from_state"], t["to_state"], t["severity"]) for t in listed["results"]] == [
        ("ok", "firing", "critical")
    ]
    transition_id = listed["results"][0]["id"]
    assert key_client(other_team).get(f"{BASE}/transitions/{transition_id}/").status_code == 404
    assert key_client(other_team).get(f"{BASE}/transitions/").json()["results"] == []
