"""Batch ingest through the API: idempotent retries, partial batches, bad input."""

import datetime as dt
from decimal import Decimal

import pytest

from crucible.models import Role
from observability import conf
from observability.models import DailyRollup, Execution, HourlyRollup

from .conftest import INGEST_URL

pytestmark = pytest.mark.django_db


def test_batch_is_stored_and_rolled_up(team_key_client, team, event_factory):
    events = [event_factory(duration_ms=100.0 * (i + 1)) for i in range(5)]
    response = team_key_client.post(INGEST_URL, {"events": events}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["stored"] == 5 and body["errors"] == 0 and body["duplicates"] == 0
    assert [r["status"] for r in body["results"]] == ["stored"] * 5
    assert Execution.objects.filter(team=team).count() == 5
    hourly = HourlyRollup.objects.get(team=team)
    assert hourly.executions == 5
    assert hourly.duration_sum_ms == pytest.approx(1500.0)
    assert hourly.duration_max_ms == 500.0
    assert sum(hourly.hist) == 5
    assert hourly.input_tokens == 5000 and hourly.output_tokens == 1000
    daily = DailyRollup.objects.get(team=team)
    assert daily.executions == 5 and daily.hist == hourly.hist
    execution = Execution.objects.filter(team=team).first()
    assert execution.api_key is not None and execution.source == "api"


def test_retried_events_are_stored_once(team_key_client, team, event_factory):
    events = [event_factory() for _ in range(3)]
    first = team_key_client.post(INGEST_URL, {"events": events}, format="json")
    assert first.json()["stored"] == 3
    retry = team_key_client.post(INGEST_URL, {"events": events + [event_factory(id="new-one")]}, format="json")
    assert retry.status_code == 200
    body = retry.json()
    assert [r["status"] for r in body["results"]] == ["duplicate", "duplicate", "duplicate", "stored"]
    assert Execution.objects.filter(team=team).count() == 4
    assert HourlyRollup.objects.get(team=team).executions == 4  # duplicates did not count twice


def test_same_id_twice_in_one_batch(team_key_client, team, event_factory):
    event = event_factory(id="twice")
    body = team_key_client.post(INGEST_URL, {"events": [event, dict(event)]}, format="json").json()
    assert [r["status"] for r in body["results"]] == ["stored", "duplicate"]
    assert Execution.objects.filter(team=team).count() == 1


def test_partial_batch_answers_207_and_stores_the_valid_events(team_key_client, team, event_factory, now):
    events = [
        event_factory(id="ok-1"),
        event_factory(id="neg-duration", duration_ms=-5),
        event_factory(id="neg-tokens", input_tokens=-1),
        event_factory(id="future", started_at=(now + dt.timedelta(days=2)).isoformat()),
        event_factory(id="neg-cost", cost=-0.5),
        event_factory(id="bad-status", status="maybe"),
        event_factory(id="no-tz", started_at="2026-01-01T10:00:00"),
        event_factory(id="unknown-field", colour="blue"),
        event_factory(id="cached-too-many", input_tokens=10, cached_input_tokens=11),
        "not an object",
        event_factory(id="ok-2"),
    ]
    response = team_key_client.post(INGEST_URL, {"events": events}, format="json")
    assert response.status_code == 207
    body = response.json()
    assert body["stored"] == 2 and body["errors"] == 9
    by_id = {r["index"]: r for r in body["results"]}
    expected_fields = {
        1: "duration_ms",
        2: "input_tokens",
        3: "started_at",
        4: "cost",
        5: "status",
        6: "started_at",
        7: "colour",
        8: "cached_input_tokens",
        9: "non_field_errors",
    }
    for index, field in expected_fields.items():
        assert by_id[index]["status"] == "error"
        assert by_id[index]["field"] == field, by_id[index]
        assert by_id[index]["message"]
    assert by_id[0]["status"] == by_id[10]["status"] == "stored"
    assert set(Execution.objects.filter(team=team).values_list("client_id", flat=True)) == {"ok-1", "ok-2"}
    assert HourlyRollup.objects.get(team=team).executions == 2


def test_malformed_body_stores_nothing(team_key_client, team):
    for body, content_type in [
        ("{not json", "application/json"),
        ('{"events": "x"}', "application/json"),
        ("[1, 2]", "application/json"),
        ('{"events": [], "x": 1}', "application/json"),
        ('{"events": []}', "application/json"),
    ]:
        response = team_key_client.generic("POST", INGEST_URL, body, content_type=content_type)
        assert response.status_code == 400, body
        assert set(response.json()) == {"code", "message", "fields"}
    assert Execution.objects.count() == 0


def test_oversized_batch_is_refused(team_key_client, event_factory, monkeypatch):
    monkeypatch.setattr(conf, "MAX_BATCH_EVENTS", 3)
    response = team_key_client.post(INGEST_URL, {"events": [event_factory() for _ in range(4)]}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert Execution.objects.count() == 0


def test_viewer_key_cannot_ingest(key_client, team, event_factory):
    client = key_client(team, role=Role.VIEWER)
    response = client.post(INGEST_URL, {"events": [event_factory()]}, format="json")
    assert response.status_code == 403
    assert Execution.objects.count() == 0


def test_anonymous_cannot_ingest(api_client, event_factory):
    assert api_client.post(INGEST_URL, {"events": [event_factory()]}, format="json").status_code in (401, 403)


def test_cost_is_computed_from_prices_and_unpriced_models_are_flagged(team_key_client, team, event_factory):
    events = [
        event_factory(
            id="priced",
            model="gpt-4o-mini-2024-07-18",
            input_tokens=1_000_000,
            cached_input_tokens=400_000,
            output_tokens=100_000,
            reasoning_tokens=0,
        ),
        event_factory(id="unpriced", model="my-private-model"),
        event_factory(id="own-cost", model="my-private-model", cost=0.25),
    ]
    assert team_key_client.post(INGEST_URL, {"events": events}, format="json").status_code == 200
    priced = Execution.objects.get(client_id="priced")
    # gpt-4o-mini*: 0.15 in, 0.075 cached, 0.60 out per million
    assert priced.cost == Decimal("0.6") * Decimal("0.15") + Decimal("0.4") * Decimal("0.075") + Decimal(
        "0.1"
    ) * Decimal("0.60")
    assert priced.cost_source == "price"
    unpriced = Execution.objects.get(client_id="unpriced")
    assert unpriced.cost is None and unpriced.cost_source == "none"
    assert Execution.objects.get(client_id="own-cost").cost == Decimal("0.25")
    rollup_unpriced = sum(r.unpriced for r in HourlyRollup.objects.filter(team=team))
    assert rollup_unpriced == 1


def test_retention_window_refuses_old_events(team_key_client, event_factory, now):
    old = (now - dt.timedelta(days=conf.RETENTION_DAYS + 1)).isoformat()
    body = team_key_client.post(INGEST_URL, {"events": [event_factory(started_at=old)]}, format="json").json()
    assert body["results"][0]["field"] == "started_at"


def test_ids_stored_by_a_concurrent_batch_fall_back_to_on_conflict(team, event_factory, monkeypatch):
    """When another batch stores an id between the lookup and the COPY, the COPY fails on the
    unique constraint and the batch is stored row by row with ON CONFLICT DO NOTHING."""
    from observability import services
    from observability.ingest import insert

    first = [event_factory(id=f"race-{i}") for i in range(3)]
    services.executions_ingest(team=team, events=first)
    # Simulate the race: the lookup does not see the rows the "other" batch stored.
    monkeypatch.setattr(
        insert,
        "EXISTING_SQL",
        "SELECT NULL::text AS client_id WHERE %(team_id)s::bigint IS NULL AND %(ids)s::text[] IS NULL",
    )
    results = services.executions_ingest(team=team, events=first + [event_factory(id="race-new")])
    assert [r["status"] for r in results] == ["duplicate", "duplicate", "duplicate", "stored"]
    assert Execution.objects.filter(team=team).count() == 4
    assert HourlyRollup.objects.get(team=team).executions == 4


def test_deeply_nested_body_is_refused(team_key_client, settings):
    settings.API_MAX_JSON_DEPTH = 5
    nested = {"events": [{"id": "x", "agent": {"a": {"b": {"c": 1}}}}]}
    response = team_key_client.post(INGEST_URL, nested, format="json")
    assert response.status_code == 400 and "nested deeper" in response.json()["message"]
    ok = {"events": [{"id": "x", "agent": {"a": 1}}]}  # depth 5: parsed, then a per-event error
    response = team_key_client.post(INGEST_URL, ok, format="json")
    assert response.status_code == 207 and response.json()["results"][0]["field"] == "agent"
    assert Execution.objects.count() == 0


def test_non_utf8_and_nan_are_refused(team_key_client):
    for body in [b'{"events": [{"id": "\\xff"}]}'.replace(b"\\xff", b"\xff"), b'{"events": [{"duration_ms": NaN}]}']:
        response = team_key_client.generic("POST", INGEST_URL, body, content_type="application/json")
        assert response.status_code == 400


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e400"])
@pytest.mark.parametrize("url", [INGEST_URL, "/api/v1/observability/otlp/v1/traces"])
def test_non_finite_numbers_are_refused_like_everywhere_else(team_key_client, url, number):
    """Ingest and OTLP/JSON use the project's one JSON parser: a number that is not finite
    (including one that overflows to infinity) is a 400 and stores nothing."""
    body = b'{"events": [{"id": "x", "duration_ms": %s}]}' % number
    response = team_key_client.generic("POST", url, body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "parse_error"
    assert Execution.objects.count() == 0
