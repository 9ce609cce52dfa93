"""E-mail through Django's SMTP backend to a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message

from crucible.notifications import delivery, notification_publish, services
from crucible.notifications.models import DeliveryStatus, EmailDelivery


class Inbox(Message):
    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.PUBLIC_URL = "https://crucible.example.com"
    yield inbox
    controller.stop()


def test_an_email_subscriber_gets_one_message(team, make_user, smtp):
    alice = make_user("alice", team=team, email="alice@example.com")
    make_user("bob", team=team, email="bob@example.com")  # default subscription: in-app only
    services.subscription_set(team=team, user=alice, channels=["email", "in_app"])
    notification_publish(
        team=team, kind="alert.firing", title="p95 above 2 s", body="Agent reviewer", url="/alerts/7/", dedupe_key="e1"
    )
    [row] = EmailDelivery.objects.all()
    assert delivery.email_delivery_send(email_id=row.pk) == "sent"
    assert delivery.email_delivery_send(email_id=row.pk) == "already sent"
    [message] = smtp.messages
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == f"[{team.name}] p95 above 2 s"
    assert "https://crucible.example.com/alerts/7/" in message.get_payload()
    row.refresh_from_db()
    assert row.status == DeliveryStatus.SUCCEEDED and row.attempts == 1


def test_an_smtp_server_that_is_down_is_recorded_and_raised_for_a_retry(team, make_user, settings):
    alice = make_user("alice", team=team, email="alice@example.com")
    services.subscription_set(team=team, user=alice, channels=["email"])
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    notification_publish(team=team, kind="alert.firing", title="t", dedupe_key="e2")
    row = EmailDelivery.objects.get()
    with pytest.raises(OSError):
        delivery.email_delivery_send(email_id=row.pk)
    row.refresh_from_db()
    assert row.status == DeliveryStatus.PENDING and row.attempts == 1 and row.last_error
