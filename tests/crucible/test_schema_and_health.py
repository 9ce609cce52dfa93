import pytest

pytestmark = pytest.mark.django_db


def test_schema_is_served_and_lists_the_api(member_client):
    response = member_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/teams/" in schema["paths"]
    assert "ApiKeyAuth" in schema["components"]["securitySchemes"]


def test_swagger_ui_works_offline(member_client):
    response = member_client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist" in html
    assert "cdn" not in html.lower()


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("status", "database")} == {"status": "ok", "database": "ok"}
    assert set(body["worker"]) == {"status", "workers", "last_heartbeat", "age_seconds"}


def test_schema_generates_without_warnings(tmp_path):
    """Every endpoint of every app documents itself cleanly (drf-spectacular warnings fail)."""
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "openapi: 3" in out.read_text()
