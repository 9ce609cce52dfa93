"""Events that name a prompt variant (issue 15, items 6 and 7): improvement's refusal of a result
is an error of that event only, under the name the event used; a variant's sums cannot overflow;
per-result limits are plausible and the same in every app."""

import datetime as dt
import json
import time
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from crucible import limits
from improvement import services as improvement_services
from improvement.models import Variant
from observability.models import Execution
from teammemory.models import Build
from tests.observability.conftest import INGEST_URL

pytestmark = pytest.mark.django_db

OTLP_PATH = "/api/v1/observability/otlp/v1/traces"
BUILDS = "/api/v1/teammemory/builds/"


@pytest.fixture
def variant(team):
    experiment = improvement_services.experiment_create(
        team=team,
        name="support-reply",
        status="running",
        variants=[{"name": "control", "prompt": "Be brief.", "is_control": True}],
    )
    return experiment.variants.get()


def _event_fields(result) -> set[str]:
    return set(result.get("fields", {}))


# --- item 6: a variant cannot be poisoned -------------------------------------------------------


def test_a_variant_whose_cost_sum_is_huge_still_takes_results_and_fails_no_other_event(
    team_key_client, team, variant, event_factory
):
    # What 1,000 batches of results costing 1,000,000 each left behind: numeric(18, 6) was full.
    Variant.objects.filter(pk=variant.pk).update(cost_sum=Decimal("999999999999"))
    events = [event_factory(variant_id=variant.pk, cost=5, quality=80), event_factory(agent="unrelated")]
    response = team_key_client.post(INGEST_URL, {"events": events}, format="json")
    assert response.status_code == 200, response.json()
    assert [r["status"] for r in response.json()["results"]] == ["stored", "stored"]
    variant.refresh_from_db()
    assert variant.cost_sum == Decimal("1000000000004") and variant.results_count == 1
    assert Execution.objects.filter(team=team).count() == 2


def test_a_result_above_the_per_result_cost_limit_is_refused_for_that_event_only(
    team_key_client, team, variant, event_factory
):
    events = [event_factory(variant_id=variant.pk, cost=1_000_000), event_factory(agent="unrelated")]
    response = team_key_client.post(INGEST_URL, {"events": events}, format="json")
    assert response.status_code == 207
    bad, good = response.json()["results"]
    assert bad["status"] == "error" and bad["field"] == "cost" and _event_fields(bad) == {"cost"}
    assert good["status"] == "stored"
    variant.refresh_from_db()
    assert variant.results_count == 0 and variant.cost_sum == 0


def test_the_results_api_refuses_a_cost_above_the_shared_limit(team_key_client, variant):
    body = {"variant_id": variant.pk, "success": True, "cost": 1_000_000}
    response = team_key_client.post("/api/v1/improvement/results/", body, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"cost": [f"Must be at most {limits.MAX_COST}."]}
    variant.refresh_from_db()
    assert variant.results_count == 0


def test_one_cost_limit_in_every_app(team, variant, event_factory):
    from observability.services import executions_ingest
    from teammemory.services import build_record

    over = limits.MAX_COST + 1
    results = executions_ingest(
        team=team, events=[event_factory(cost=str(over)), event_factory(cost=str(limits.MAX_COST))]
    )
    assert [r["status"] for r in results] == ["error", "stored"]
    with pytest.raises(ValidationError) as refused:
        improvement_services.result_record(team=team, variant_id=variant.pk, success=True, cost=over)
    assert "cost" in refused.value.message_dict
    improvement_services.result_record(team=team, variant_id=variant.pk, success=True, cost=limits.MAX_COST)
    started = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(ValidationError) as refused:
        build_record(
            team=team, client_build_id="b1", status="succeeded", started_at=started, finished_at=started, cost=over
        )
    assert "cost" in refused.value.message_dict
    build, created = build_record(
        team=team, client_build_id="b2", status="succeeded", started_at=started, finished_at=started, cost=over - 1
    )
    assert created and build.cost == limits.MAX_COST


# --- item 7: a refused result is a per-event error with the event's field name -----------------


def _too_many_tokens(variant_id, event_factory):
    # Observability's token fields were each fine (<= 10**12), their sum was not for improvement.
    return event_factory(variant_id=variant_id, input_tokens=6 * 10**11, output_tokens=6 * 10**11)


def test_ingest_refuses_the_event_not_the_batch(team_key_client, team, variant, event_factory):
    events = [_too_many_tokens(variant.pk, event_factory), event_factory(agent="unrelated")]
    response = team_key_client.post(INGEST_URL, {"events": events}, format="json")
    assert response.status_code == 207, response.json()
    body = response.json()
    assert "results.0" not in json.dumps(body)
    bad, good = body["results"]
    assert bad["status"] == "error" and good["status"] == "stored"
    assert _event_fields(bad) <= {"input_tokens", "output_tokens"} and bad["field"] in _event_fields(bad)
    assert Execution.objects.filter(team=team).count() == 1


def test_otlp_export_rejects_the_span_not_the_export(team_key_client, team, variant):
    now_ns = time.time_ns()

    def span(span_id, **attrs):
        return {
            "traceId": "5b8efff798038103d269b633813fc60c",
            "spanId": span_id,
            "name": "chat",
            "startTimeUnixNano": str(now_ns - 2_000_000_000),
            "endTimeUnixNano": str(now_ns),
            "attributes": [{"key": k, "value": v} for k, v in attrs.items()],
        }

    model = {"stringValue": "gpt-4o"}
    bad = span(
        "eee19b7ec3c1b173",
        **{
            "gen_ai.request.model": model,
            "crucible.variant.id": {"intValue": str(variant.pk)},
            "gen_ai.usage.input_tokens": {"intValue": str(6 * 10**11)},
            "gen_ai.usage.output_tokens": {"intValue": str(6 * 10**11)},
        },
    )
    good = span("eee19b7ec3c1b174", **{"gen_ai.request.model": model, "gen_ai.usage.input_tokens": {"intValue": "10"}})
    export = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [bad, good]}]}]}
    response = team_key_client.post(OTLP_PATH, data=json.dumps(export), content_type="application/json")
    assert response.status_code == 200, response.content
    partial = response.json()["partialSuccess"]
    assert partial["rejectedSpans"] == "1"
    assert "eee19b7ec3c1b173" in partial["errorMessage"] and "tokens" in partial["errorMessage"]
    assert "results.0" not in partial["errorMessage"]
    assert Execution.objects.filter(team=team).count() == 1


def test_build_report_names_the_execution_and_its_field(team_key_client, team, variant, event_factory):
    report = {
        "client_build_id": "ci-1",
        "status": "succeeded",
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:10:00+00:00",
        "executions": [event_factory(), _too_many_tokens(variant.pk, event_factory)],
    }
    response = team_key_client.post(BUILDS, report, format="json")
    assert response.status_code == 400, response.json()
    fields = response.json()["fields"]
    assert fields and all(name.startswith("executions.1.") for name in fields), fields
    assert set(fields) <= {"executions.1.input_tokens", "executions.1.output_tokens"}
    assert not Build.objects.filter(team=team).exists()  # a report is stored whole or not at all


def test_every_bad_field_of_an_event_is_reported(team_key_client, event_factory):
    event = event_factory(duration_ms=-1, status="maybe", cost="abc", quality=101, colour="red")
    response = team_key_client.post(INGEST_URL, {"events": [event]}, format="json")
    assert response.status_code == 207
    (result,) = response.json()["results"]
    assert _event_fields(result) == {"duration_ms", "status", "cost", "quality", "colour"}
    assert result["field"] in _event_fields(result)
