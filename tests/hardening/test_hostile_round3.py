"""Findings of a hand attack on improvement, alerts, notifications and webhooks (wrong types, huge
numbers, concurrent duplicates, oversized batches), each answered now in the one error shape naming
the field. The webhook port 0 case is in tests/notifications/test_ssrf.py."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from crucible import limits, sql
from crucible.notifications import notification_publish
from crucible.notifications.models import Notification
from improvement import conf
from improvement import services as improvement_services
from improvement.models import Experiment


@pytest.mark.django_db
@pytest.mark.parametrize("item", ["1", "١٢", True, 1.5e3, [1]], ids=["text", "arabic-digits", "true", "float", "list"])
def test_a_list_of_numbers_takes_number_items_only(member_client, team, member, item):
    # {"ids": ["١٢"]} was read as [12] (DRF's IntegerField takes text, Unicode digits included)
    # where the schema says an array of integers.
    notification_publish(team=team, kind="alert.firing", title="t", dedupe_key="k")
    note = Notification.objects.get(user=member)
    response = member_client.post("/api/v1/notifications/read/", {"ids": [note.pk, item]}, format="json")
    if isinstance(item, float):  # 1500.0 is a JSON number: an id that is not there
        assert response.status_code == 200, response.content
        return
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["ids.1"]
    assert Notification.objects.get(pk=note.pk).read_at is None


@pytest.mark.django_db
def test_a_list_of_numbers_still_takes_numbers(member_client, team, member):
    notification_publish(team=team, kind="alert.firing", title="t", dedupe_key="k")
    note = Notification.objects.get(user=member)
    response = member_client.post("/api/v1/notifications/read/", {"ids": [note.pk]}, format="json")
    assert response.status_code == 200 and response.json()["marked"] == 1


@pytest.mark.django_db
def test_a_lists_own_error_names_the_list(team_key_client, team):
    # A batch over the limit, an empty one and too many variants were named
    # "results.non_field_errors" / "variants.non_field_errors", a field that does not exist.
    experiment = improvement_services.experiment_create(
        team=team, name="lists", variants=[{"name": "c", "prompt": "p", "is_control": True}], status="running"
    )
    variant = experiment.variants.get()
    result = {"variant_id": variant.pk, "success": True}
    too_many = {"results": [result] * (conf.MAX_RESULTS_PER_REQUEST + 1)}
    for body, field in [
        (too_many, "results"),
        ({"results": []}, "results"),
        ({"results": [result, "x"]}, "results.1"),
    ]:
        response = team_key_client.post("/api/v1/improvement/results/batch/", body, format="json")
        assert response.status_code == 400, response.content
        assert list(response.json()["fields"]) == [field], response.content
    spec = {"name": "v", "prompt": "p"}
    body = {"name": "many", "variants": [{**spec, "name": f"v{i}"} for i in range(conf.MAX_VARIANTS + 1)]}
    response = team_key_client.post("/api/v1/improvement/experiments/", body, format="json")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["variants"], response.content
    assert not Experiment.objects.filter(name="many").exists()


def _someone_waits_for_a_row_lock(timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not sql.fetch_one("SELECT 1 AS waiting FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted"):
        assert time.monotonic() < deadline, "the request did not wait for the concurrent insert"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_duplicate_create_names_the_field(team_key_client, team):
    # Two creates of one name at once: both pass the service's "name is free" check, the second
    # INSERT breaks the unique constraint. It answered 409 naming no field (non_field_errors);
    # now it names `name`, as the 400 of a create after the first one does.
    inserted = threading.Event()
    outcome = {}

    def concurrent_create():
        try:
            with transaction.atomic():
                Experiment.objects.create(team=team, name="twin")
                inserted.set()
                _someone_waits_for_a_row_lock()  # the request's INSERT waits for this one
        except Exception as exc:
            outcome["error"] = exc
            inserted.set()
        finally:
            connection.close()

    thread = threading.Thread(target=concurrent_create)
    thread.start()
    assert inserted.wait(20)
    response = team_key_client.post("/api/v1/improvement/experiments/", {"name": "twin"}, format="json")
    thread.join(20)
    assert "error" not in outcome, outcome
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "conflict"
    assert body["fields"] == {"name": ["Already taken: another experiment has this name."]}
    assert "name" in body["message"]
    assert Experiment.objects.filter(team=team, name="twin").count() == 1


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@pytest.mark.django_db
def test_every_declared_limit_of_a_shape_only_body_is_in_the_schema(member_client, team_key_client):
    # ShapeOnlyMixin leaves limits to the service and removed the validators drf-spectacular reads
    # them from: `name` (100 characters), `variants` (20), a result's `cost` (10,000) and an alert
    # rule's `min_samples` were refused past a limit the schema did not state.
    from drf_spectacular.plumbing import get_override

    from crucible.api.serializers import ShapeOnlyMixin

    components = member_client.get("/api/v1/schema/?format=json").json()["components"]["schemas"]
    checked = 0
    for cls in set(_subclasses(ShapeOnlyMixin)):
        name = get_override(cls, "component_name", cls.__name__.removesuffix("Serializer"))
        component = components.get(f"{name}Request") or components.get(f"Patched{name}Request")
        if component is None:
            continue
        for field_name, field in cls().fields.items():
            schema = component["properties"].get(field_name, {})
            if getattr(field, "max_length", None) is not None:
                assert schema.get("maxLength", schema.get("maxItems")) == field.max_length, (name, field_name)
                checked += 1
            if getattr(field, "max_value", None) is not None and "oneOf" not in schema:
                assert schema.get("maximum") == field.max_value, (name, field_name, schema)
                checked += 1
    assert checked >= 40
    long_name = "x" * (limits.NAME_CHARS + 1)
    response = team_key_client.post("/api/v1/improvement/experiments/", {"name": long_name}, format="json")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["name"]
    rule = components["AlertRuleInputRequest"]["properties"]
    assert rule["min_samples"]["maximum"] == limits.MAX_TOKENS
    assert rule["critical_threshold"]["maximum"] == 10**15


@pytest.mark.django_db
def test_a_team_subscription_has_no_user_and_the_schema_says_so(client_for, team_admin):
    # schemathesis as an admin (a session; the member key never reached it): the team's default
    # subscription answered "user": null where the schema said a string.
    client = client_for(team_admin)
    response = client.post("/api/v1/notification-subscriptions/", {"scope": "team"}, format="json")
    assert response.status_code in (200, 201), response.content
    assert response.json()["user"] is None
    schema = client.get("/api/v1/schema/?format=json").json()
    assert schema["components"]["schemas"]["Subscription"]["properties"]["user"]["nullable"] is True


@pytest.mark.django_db
def test_an_object_of_text_takes_text_values_only(team_key_client):
    # schemathesis: a build report's {"stack": {"x": 0}} was stored as {"x": "0"} where the schema
    # says an object of strings.
    build = {
        "client_build_id": "ci-stack",
        "status": "succeeded",
        "started_at": "2026-11-01T10:00:00+00:00",
        "finished_at": "2026-11-01T10:05:00+00:00",
    }
    response = team_key_client.post("/api/v1/teammemory/builds/", {**build, "stack": {"db": 0}}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()["fields"]) == ["stack.db"]
    response = team_key_client.post("/api/v1/teammemory/builds/", {**build, "stack": {"db": "postgres"}}, format="json")
    assert response.status_code in (200, 201), response.content
