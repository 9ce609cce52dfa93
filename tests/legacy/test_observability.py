"""The earlier implementation's observability route (/api/dashboard/agents)."""

import pytest

pytestmark = pytest.mark.django_db


def test_legacy_dashboard_route(team_key_client, seeded):
    response = team_key_client.get("/api/dashboard/agents")
    assert response.status_code == 200
    data = response.json()
    assert data["total_executions"] == 61
    assert data["agents"]["planner"]["executions"] == 30
    assert data["agents"]["coder"]["success_rate"] == pytest.approx(25 / 31, abs=1e-3)
    assert isinstance(data["recommendations"], list) and isinstance(data["bottlenecks"], list)


def test_legacy_route_in_schema(member_client):
    schema = member_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "/api/dashboard/agents" in schema["paths"]
    assert "/api/v1/observability/ingest/" in schema["paths"]
    assert "/api/v1/observability/otlp/v1/traces" in schema["paths"]
