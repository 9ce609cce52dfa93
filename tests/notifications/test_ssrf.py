"""Webhook URLs reach public addresses only (unless CRUCIBLE_WEBHOOKS_ALLOW_PRIVATE), checked at
save and again at send time on the address the connection then uses."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError

from crucible.notifications import delivery, netguard, notification_publish, services
from crucible.notifications.models import WebhookDelivery
from tests.notifications.receiver import Receiver


def fake_dns(monkeypatch, answers: dict[str, list[str]]):
    real = socket.getaddrinfo
    calls = []

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            calls.append(host)
            address = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return calls


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8000/",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "ftp://example.com/",
        "http://user:pw@example.com/",
        "http://93.184.215.14:0/",  # was read as the default port 80
        "http://93.184.215.14:99999/",
    ],
)
def test_private_and_odd_urls_are_refused_at_save(team, url):
    with pytest.raises(ValidationError) as info:
        services.webhook_create(team=team, name="x", url=url)
    assert "url" in info.value.message_dict


def test_a_public_address_is_accepted(team, monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": ["93.184.215.14"]})
    hook, secret = services.webhook_create(team=team, name="x", url="https://hooks.example.com/in")
    assert hook.pk and secret.startswith("whsec_")


def test_loopback_is_allowed_by_the_setting(team, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    hook, _ = services.webhook_create(team=team, name="x", url="http://127.0.0.1:9/")
    assert hook.pk


def test_dns_rebinding_is_refused_at_send_time(team, monkeypatch):
    # Public when saved, loopback when sent: the request is not made.
    fake_dns(monkeypatch, {"rebind.example.com": ["93.184.215.14", "127.0.0.1"]})
    services.webhook_create(team=team, name="x", url="http://rebind.example.com/")
    notification_publish(team=team, kind="alert.firing", title="t", dedupe_key="k")
    row = WebhookDelivery.objects.get()
    monkeypatch.setattr("crucible.notifications.tasks.webhook_delivery_defer", lambda **kw: None, raising=False)
    assert delivery.webhook_delivery_attempt(delivery_id=row.pk) == "retrying"
    row.refresh_from_db()
    assert row.last_status_code is None and "127.0.0.1" in row.last_error


def test_the_connection_goes_to_the_checked_address(settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    calls = fake_dns(monkeypatch, {"hooks.example.test": ["127.0.0.1"]})
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        response = netguard.post(f"http://hooks.example.test:{port}/in", body=b"{}", headers={})
        assert response.status == 200
    assert calls == ["hooks.example.test"]  # resolved once, and that answer was used to connect
