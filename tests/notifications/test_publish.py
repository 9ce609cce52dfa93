"""notification_publish: stored once per (team, dedupe_key), fanned out by subscriptions."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from crucible.models import Role
from crucible.notifications import notification_publish, services
from crucible.notifications.models import EmailDelivery, Event, Notification, WebhookDelivery


def publish(team, key="k1", kind="alert.firing", **kwargs):
    fields = {"title": "p95 above 2 s", "body": "Agent reviewer", "url": "/alerts/1/", "payload": {"value": 2.5}}
    return notification_publish(team=team, kind=kind, dedupe_key=key, **(fields | kwargs))


def test_publish_twice_stores_one_event_and_one_inbox_row(team, member, make_user):
    viewer = make_user("viewer", team=team, role=Role.VIEWER)
    first = publish(team)
    second = publish(team)
    assert first.pk == second.pk
    assert Event.objects.filter(team=team).count() == 1
    assert sorted(Notification.objects.values_list("user__username", flat=True)) == sorted(
        [member.username, viewer.username]
    )


def test_same_dedupe_key_in_another_team_is_another_event(team, other_team, member):
    assert publish(team).pk != publish(other_team).pk


def test_subscriptions_choose_kinds_and_channels(team, make_user):
    quiet = make_user("quiet", team=team, email="quiet@example.com")
    mailed = make_user("mailed", team=team, email="mailed@example.com")
    services.subscription_set(team=team, kinds=["marketplace.rating"])  # the team's default
    services.subscription_set(team=team, user=mailed, kinds=[], channels=["email"])
    publish(team, kind="alert.firing")
    assert not Notification.objects.filter(user=quiet).exists()
    assert not Notification.objects.filter(user=mailed).exists()
    assert list(EmailDelivery.objects.values_list("address", flat=True)) == ["mailed@example.com"]
    publish(team, key="k2", kind="marketplace.rating")
    assert Notification.objects.filter(user=quiet).count() == 1


def test_webhook_kind_filter_and_body_format(team, member, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    every, _ = services.webhook_create(team=team, name="all", url="http://127.0.0.1:9/")
    slack, _ = services.webhook_create(
        team=team, name="slack", url="http://127.0.0.1:9/", kinds=["marketplace.rating"], body_format="slack"
    )
    event = publish(team)
    assert list(WebhookDelivery.objects.values_list("webhook__name", flat=True)) == ["all"]
    publish(team, key="k2", kind="marketplace.rating", title="New rating")
    body = WebhookDelivery.objects.get(webhook=slack).request_body
    assert body.startswith('{"text":"*New rating*')
    assert str(event.uid) in WebhookDelivery.objects.get(webhook=every, event=event).request_body


@pytest.mark.parametrize(
    ("field", "changes"),
    [("kind", {"kind": "Alert Firing"}), ("title", {"title": " "}), ("dedupe_key", {"key": ""})],
)
def test_bad_input_names_the_field(team, field, changes):
    with pytest.raises(ValidationError) as info:
        publish(team, **changes)
    assert field in info.value.message_dict
    assert not Event.objects.exists()
