"""Every app names every bad field of a request in one answer (limits checked by the services,
not half by the input serializer and half by the service in a second round)."""

import pytest

from improvement.models import Experiment
from marketplace.models import Agent
from teammemory.models import Build

pytestmark = pytest.mark.django_db


def test_experiment_create_names_settings_and_variants_together(team_key_client):
    body = {
        "name": "support-reply",
        "epsilon": 1.5,
        "weight_quality": 0,
        "weight_success": 0,
        "weight_speed": 0,
        "weight_cost": 0,
        "variants": [
            {"name": "same", "prompt": "Be brief.", "is_control": True},
            {"name": "same", "prompt": "Be warm.", "is_control": True},
        ],
    }
    response = team_key_client.post("/api/v1/improvement/experiments/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {
        "epsilon",
        "weight_quality",
        "variants.1.name",
        "variants.1.is_control",
    }
    assert not Experiment.objects.exists()


def test_build_report_names_every_bad_field(team_key_client):
    body = {
        "client_build_id": "ci-9",
        "status": "succeeded",
        "started_at": "2026-01-02T00:00:00+00:00",
        "finished_at": "2026-01-01T00:00:00+00:00",
        "tokens": -1,
        "quality": 101,
        "stack": {"language": "Python", "Language": "Go"},
    }
    response = team_key_client.post("/api/v1/teammemory/builds/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"finished_at", "tokens", "quality", "stack.Language"}
    assert not Build.objects.exists()


def test_agent_create_names_every_bad_field(team_key_client):
    body = {
        "name": "n" * 101,
        "summary": "s" * 301,
        "system_prompt": "You help.",
        "input_schema": {"type": 12},
        "tags": ["ok", "t" * 41],
    }
    response = team_key_client.post("/api/v1/marketplace/agents/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"name", "summary", "input_schema", "tags"}
    assert not Agent.objects.exists()


def test_version_publish_names_every_bad_field(team_key_client, team):
    agent = team_key_client.post(
        "/api/v1/marketplace/agents/",
        {"name": "Reviewer", "summary": "Reviews", "system_prompt": "You review."},
        format="json",
    ).json()
    body = {"agent": agent["id"], "system_prompt": "p" * 200_001, "version": "not-semver", "changelog": "c" * 20_001}
    response = team_key_client.post("/api/v1/marketplace/versions/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"system_prompt", "version", "changelog"}
    assert Agent.objects.get(pk=agent["id"]).versions.count() == 1
