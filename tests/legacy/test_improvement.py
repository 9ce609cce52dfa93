"""The earlier implementation's improvement routes (/api/improve/...)."""

import pytest

from improvement.models import Experiment, Status, Variant

pytestmark = pytest.mark.django_db


def test_legacy_test_variant_creates_experiment_and_variant_from_query_params(team_key_client, team):
    response = team_key_client.post(
        "/api/improve/test-variant?agent_name=Frontend+Generation&variant_prompt=Improved+prompt&variant_name=v2"
    )
    assert response.status_code == 200, response.json()
    variant = Variant.objects.get(pk=int(response.json()["variant_id"]))
    assert (variant.name, variant.prompt, variant.experiment.name) == ("v2", "Improved prompt", "Frontend Generation")
    assert variant.experiment.team == team and variant.experiment.status == Status.RUNNING
    # A second variant for the same prompt name joins the same experiment; unnamed ones get v<n>.
    second = team_key_client.post(
        "/api/improve/test-variant", {"agent_name": "Frontend Generation", "variant_prompt": "Other"}, format="json"
    )
    assert second.status_code == 200
    assert Experiment.objects.filter(team=team).count() == 1
    assert Variant.objects.get(pk=int(second.json()["variant_id"])).name == "v3"  # v2 is taken
    assert set(Experiment.objects.get().variants.values_list("name", flat=True)) == {"v2", "v3"}


def test_legacy_test_variant_bad_input(team_key_client):
    missing = team_key_client.post("/api/improve/test-variant?agent_name=X")
    assert missing.status_code == 400 and "variant_prompt" in missing.json()["fields"]
    team_key_client.post("/api/improve/test-variant?agent_name=X&variant_prompt=a&variant_name=v1")
    duplicate = team_key_client.post("/api/improve/test-variant?agent_name=X&variant_prompt=b&variant_name=v1")
    assert duplicate.status_code == 400 and "variant_name" in duplicate.json()["fields"]
    numbers = team_key_client.post("/api/improve/test-variant", {"agent_name": 5, "variant_prompt": "x"}, format="json")
    assert numbers.status_code == 400 and "agent_name" in numbers.json()["fields"]
    assert Variant.objects.count() == 1


def test_legacy_report_messages_and_best_variant(team_key_client, team, feed):
    unknown = team_key_client.get("/api/improve/report/Nobody")
    assert unknown.status_code == 200 and "Need more data" in unknown.json()["message"]

    created = team_key_client.post("/api/improve/test-variant?agent_name=TestAgent&variant_prompt=A&variant_name=v1")
    variant = Variant.objects.get(pk=int(created.json()["variant_id"]))
    thin = team_key_client.get("/api/improve/report/TestAgent")
    assert "Need more data" in thin.json()["message"]

    feed(variant, 60, p=1.0, quality=85, spread=0)
    report = team_key_client.get("/api/improve/report/TestAgent").json()
    assert report["agent_name"] == "TestAgent"
    assert report["best_variant"]["executions"] == 60
    assert report["best_variant"]["variant_id"] == str(variant.pk)
    assert report["best_variant"]["avg_quality"] == pytest.approx(85)
    assert report["best_variant"]["success_rate"] == pytest.approx(100.0)
    assert report["variants_tested"] == 1 and report["total_executions"] == 60
    assert "Deploy best variant to production" in report["recommendation"]


def test_legacy_report_says_no_clear_winner_on_tied_variants(team_key_client, feed):
    a = team_key_client.post("/api/improve/test-variant?agent_name=Tied&variant_prompt=A&variant_name=a").json()
    b = team_key_client.post("/api/improve/test-variant?agent_name=Tied&variant_prompt=B&variant_name=b").json()
    feed(Variant.objects.get(pk=int(a["variant_id"])), 200, p=0.8, seed=1)
    feed(Variant.objects.get(pk=int(b["variant_id"])), 200, p=0.8, seed=2)
    assert team_key_client.get("/api/improve/report/Tied").json() == {"message": "No clear winner yet"}


def test_legacy_routes_are_in_the_schema(team_key_client):
    schema = team_key_client.get("/api/v1/schema/?format=json").json()
    assert "/api/improve/test-variant" in schema["paths"]
    assert "/api/improve/report/{name}" in schema["paths"]


def test_legacy_test_variant_schema_lets_the_fields_come_in_the_query(member_client, team_key_client):
    # The body schema required agent_name and variant_prompt, so a valid call with them in the
    # query string looked like a schema violation (the 150-example schemathesis run).
    schema = member_client.get("/api/v1/schema/?format=json").json()
    body = schema["paths"]["/api/improve/test-variant"]["post"]["requestBody"]["content"]["application/json"]
    component = schema["components"]["schemas"][body["schema"]["$ref"].split("/")[-1]]
    assert "required" not in component
    response = team_key_client.post("/api/improve/test-variant?agent_name=Q&variant_prompt=p", {}, format="json")
    assert response.status_code == 200
