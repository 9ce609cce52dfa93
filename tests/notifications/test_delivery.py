"""One delivery attempt against a real local receiver that checks signatures (the job's body,
called directly; the worker-run tests are in test_worker_faults.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from crucible.notifications import delivery, notification_publish, services
from crucible.notifications.models import DeliveryStatus, Notification, WebhookDelivery
from tests.notifications.receiver import Receiver


@pytest.fixture(autouse=True)
def no_worker(monkeypatch):
    # Retries are deferred to the worker; here we record what would be deferred.
    deferred = []
    monkeypatch.setattr(
        "crucible.notifications.tasks.webhook_delivery_defer", lambda **kw: deferred.append(kw), raising=False
    )
    return deferred


def publish(team, key="k1"):
    return notification_publish(
        team=team, kind="alert.firing", title="Error rate above 5%", url="/alerts/3/", payload={"v": 1}, dedupe_key=key
    )


def test_signed_request_verifies_with_the_reference_library(team, allow_loopback):
    with Receiver() as receiver:
        hook, secret = services.webhook_create(team=team, name="ops", url=receiver.url)
        receiver.secret = secret
        event = publish(team)
        row = WebhookDelivery.objects.get()
        assert delivery.webhook_delivery_attempt(delivery_id=row.pk) == "delivered"
        [got] = receiver.wait_for(1)
    assert got.valid
    assert got.webhook_id == f"msg_{row.uid.hex}"
    document = json.loads(got.body)
    assert document["type"] == "alert.firing"
    assert document["data"]["id"] == str(event.uid)
    assert document["data"]["url"].endswith("/alerts/3/")
    row.refresh_from_db()
    assert (row.status, row.attempts, row.last_status_code) == (DeliveryStatus.SUCCEEDED, 1, 200)
    assert row.log.get().status_code == 200


def test_a_delivered_delivery_is_not_sent_again_by_a_rerun_job(team, allow_loopback, receiver):
    services.webhook_create(team=team, name="ops", url=receiver.url)
    publish(team)
    row = WebhookDelivery.objects.get()
    delivery.webhook_delivery_attempt(delivery_id=row.pk)
    assert delivery.webhook_delivery_attempt(delivery_id=row.pk) == "already succeeded"
    assert len(receiver.wait_for(1, timeout=0.5)) == 1


def test_failure_schedules_a_retry_with_the_same_id_and_logs_it(team, allow_loopback, no_worker):
    with Receiver(statuses=[503]) as receiver:
        services.webhook_create(team=team, name="ops", url=receiver.url)
        publish(team)
        row = WebhookDelivery.objects.get()
        assert delivery.webhook_delivery_attempt(delivery_id=row.pk) == "retrying"
        assert no_worker == [{"delivery_id": row.pk, "delay_seconds": allow_loopback.WEBHOOKS_RETRY_BASE_SECONDS}]
        assert delivery.webhook_delivery_attempt(delivery_id=row.pk) == "delivered"
        ids = {r.webhook_id for r in receiver.wait_for(2)}
    assert ids == {f"msg_{row.uid.hex}"}
    assert [(a.number, a.status_code, bool(a.error)) for a in row.log.all()] == [(1, 503, True), (2, 200, False)]


def test_retry_delays_double_and_stop_after_the_window(settings):
    settings.WEBHOOKS_RETRY_BASE_SECONDS = 10
    settings.WEBHOOKS_RETRY_HOURS = 24
    created = timezone.now()
    delays = [delivery.retry_delay(failures=n, created_at=created, now=created).total_seconds() for n in (1, 2, 3)]
    assert delays == [10, 20, 40]
    late = created + timedelta(hours=23, minutes=59)
    assert delivery.retry_delay(failures=12, created_at=created, now=late) == timedelta(minutes=1)
    assert delivery.retry_delay(failures=13, created_at=created, now=created + timedelta(hours=24)) is None


def test_consecutive_failures_disable_the_webhook_and_notify_admins(team, team_admin, member, allow_loopback):
    allow_loopback.WEBHOOKS_DISABLE_AFTER_FAILURES = 2
    with Receiver(statuses=[500, 500, 500]) as receiver:
        hook, _ = services.webhook_create(team=team, name="ops", url=receiver.url)
        publish(team, "a")
        publish(team, "b")
        first, second = WebhookDelivery.objects.order_by("pk")
        assert delivery.webhook_delivery_attempt(delivery_id=first.pk) == "retrying"
        assert delivery.webhook_delivery_attempt(delivery_id=second.pk) == "failed"
        assert delivery.webhook_delivery_attempt(delivery_id=first.pk) == "webhook disabled"
    hook.refresh_from_db()
    assert not hook.is_active and "2 failed requests" in hook.disabled_reason
    notices = Notification.objects.filter(event__kind="webhook.disabled")
    assert list(notices.values_list("user__username", flat=True)) == [team_admin.username]
    services.webhook_update(webhook=hook, is_active=True)
    hook.refresh_from_db()
    assert hook.is_active and hook.consecutive_failures == 0


def test_a_receiver_that_is_down_is_an_error_not_a_crash(team, allow_loopback):
    with Receiver() as receiver:
        url = receiver.url
    services.webhook_create(team=team, name="ops", url=url)  # checked while it was up
    publish(team)
    row = WebhookDelivery.objects.get()
    assert delivery.webhook_delivery_attempt(delivery_id=row.pk) == "retrying"
    row.refresh_from_db()
    assert row.last_status_code is None and "Connection" in row.last_error


def test_response_body_is_read_up_to_the_cap(team, allow_loopback, settings):
    settings.WEBHOOKS_MAX_RESPONSE_BYTES = 1
    with Receiver() as receiver:
        services.webhook_create(team=team, name="ops", url=receiver.url)
        publish(team)
        row = WebhookDelivery.objects.get()
        delivery.webhook_delivery_attempt(delivery_id=row.pk)
    assert row.log.get().response_excerpt == "o"
