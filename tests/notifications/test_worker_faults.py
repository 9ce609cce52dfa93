"""Deliveries through a real worker process: at least once with the same webhook-id, never twice
in an inbox, through a killed worker and a receiver that is down for a while."""

from __future__ import annotations

import time

import pytest

from crucible.models import Role
from crucible.notifications import notification_publish, services
from crucible.notifications.models import DeliveryStatus, Notification, WebhookDelivery
from tests.notifications.receiver import Receiver
from tests.notifications.worker import Worker

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def wait_until(check, timeout=30.0, step=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return False


@pytest.fixture
def world(make_team, make_user, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    team = make_team("Faulty", slug="faulty")
    users = [make_user(f"f{i}", team=team, role=Role.MEMBER) for i in range(3)]
    return team, users


def publish(team, key):
    return notification_publish(team=team, kind="alert.firing", title=f"Event {key}", dedupe_key=key)


def delivered(row_id):
    return WebhookDelivery.objects.filter(pk=row_id, status=DeliveryStatus.SUCCEEDED).exists()


def test_sigkill_of_the_worker_during_a_delivery(world):
    team, users = world
    with Receiver(delay=4.0) as receiver:  # the first request hangs while the worker is killed
        hook, receiver.secret = services.webhook_create(team=team, name="slow", url=receiver.url)
        first = Worker().start()
        try:
            publish(team, "kill-1")
            publish(team, "kill-1")  # a repeat publish is a no-op
            row = WebhookDelivery.objects.get()
            assert wait_until(lambda: receiver.arrivals, 20), "the worker never sent the request"
        finally:
            first.kill()  # also when the test fails: a worker left running holds the test database
        receiver.delay = 0
        with Worker():
            assert wait_until(lambda: delivered(row.pk), 40), "not delivered after the worker restarted"
        received = receiver.wait_for(1)
    assert {r.webhook_id for r in received} == {f"msg_{row.uid.hex}"}
    assert all(r.valid for r in received)
    for user in users:
        assert Notification.objects.filter(user=user).count() == 1


def test_a_receiver_down_for_a_while_then_answering(world):
    team, _ = world
    with Receiver() as receiver:
        url, port = receiver.url, receiver.server.server_address[1]
    hook, secret = services.webhook_create(team=team, name="flaky", url=url)
    with Worker():
        publish(team, "down-1")
        row = WebhookDelivery.objects.get()
        assert wait_until(lambda: WebhookDelivery.objects.get(pk=row.pk).attempts >= 2, 20)
        with Receiver(secret=secret, port=port) as back:
            assert wait_until(lambda: delivered(row.pk), 30)
            got = back.wait_for(1)
    row.refresh_from_db()
    assert row.attempts >= 3 and row.log.filter(status_code__isnull=True).count() >= 2
    assert [r.webhook_id for r in got] == [f"msg_{row.uid.hex}"] and got[0].valid
