"""Writes of notifications: publish an event, webhooks, subscriptions, inbox state."""

from __future__ import annotations

import json
import re

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crucible import sql
from crucible import validation as v
from crucible.models import Team
from crucible.notifications import bodies, fanout, jobs, netguard, signing
from crucible.notifications.kinds import KINDS
from crucible.notifications.models import (
    BodyFormat,
    Channel,
    DeliveryStatus,
    Event,
    Notification,
    Subscription,
    Webhook,
    WebhookDelivery,
)

KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def _kind(value) -> str:
    kind = v.text(value, max_length=60, required=True)
    if not KIND_PATTERN.match(kind):
        raise v.Invalid("A kind is dotted lower-case words, such as 'alert.firing'.")
    return kind


def notification_publish(
    *, team: Team, kind: str, title: str, body: str = "", url: str = "", payload: dict | None = None, dedupe_key: str
) -> Event:
    """Store the event once per (team, dedupe_key) and fan it out to the subscribers: in-app rows,
    webhook deliveries and e-mails, sent by the worker after the transaction commits. Publishing
    the same dedupe_key again returns the stored event and sends nothing more."""
    errors = v.Errors()
    kind = errors.check("kind", _kind, kind)
    title = errors.check("title", v.text, title, max_length=200, required=True)
    body = errors.check("body", v.text, body, max_length=10_000)
    url = errors.check("url", v.text, url, max_length=500)
    dedupe_key = errors.check("dedupe_key", v.text, dedupe_key, max_length=200, required=True)
    if payload is not None and not isinstance(payload, dict):
        errors.add("payload", "Must be a JSON object.")
    errors.raise_if_any()
    with transaction.atomic():
        return _publish(
            team=team, kind=kind, title=title, body=body, url=url, payload=payload or {}, dedupe_key=dedupe_key
        )


def _publish(*, team, kind, title, body, url, payload, dedupe_key, admins_only: bool = False) -> Event:
    row = sql.fetch_one(
        f"INSERT INTO {Event._meta.db_table} (uid, team_id, kind, title, body, url, payload, dedupe_key, created_at) "
        "VALUES (gen_random_uuid(), %(team)s, %(kind)s, %(title)s, %(body)s, %(url)s, %(payload)s::jsonb, "
        "%(dedupe_key)s, %(now)s) ON CONFLICT (team_id, dedupe_key) DO NOTHING RETURNING id",
        {
            "team": team.pk,
            "kind": kind,
            "title": title,
            "body": body,
            "url": url,
            "payload": json.dumps(payload, cls=DjangoJSONEncoder),
            "dedupe_key": dedupe_key,
            "now": timezone.now(),
        },
    )
    if row is None:  # published before: the first call fanned it out
        return Event.objects.select_related("team").get(team=team, dedupe_key=dedupe_key)
    event = Event.objects.select_related("team").get(pk=row["id"])
    if admins_only:
        fanout.inbox_notify_admins(event=event)
        return event
    fanout.inbox_fan_out(event=event)
    emails = fanout.email_fan_out(event=event)
    deliveries = _webhook_fan_out(event)
    jobs.deliveries_defer(webhook_deliveries=deliveries, emails=emails)
    return event


def _webhook_fan_out(event: Event) -> list[int]:
    hooks = [
        hook
        for hook in Webhook.objects.filter(team_id=event.team_id, is_active=True)
        if not hook.kinds or event.kind in hook.kinds
    ]
    rows = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(webhook=hook, event=event, request_body=bodies.request_body(event, hook.body_format))
            for hook in hooks
        ]
    )
    return [row.pk for row in rows]


def team_admins_notify(*, team: Team, kind: str, title: str, body: str, url: str, dedupe_key: str) -> Event:
    """An in-app notice to the team's admins and owners only (not sent to webhooks nor e-mail)."""
    return _publish(
        team=team, kind=kind, title=title, body=body, url=url, payload={}, dedupe_key=dedupe_key, admins_only=True
    )


# --- Webhooks --------------------------------------------------------------------------------


def _kinds(value, errors: v.Errors, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        errors.add(field, "Must be a list of kinds.")
        return []
    unknown = [kind for kind in value if kind not in KINDS]
    if unknown:
        errors.add(field, f"Unknown kind: {unknown[0]}. Known kinds: {', '.join(KINDS)}.")
    return sorted(set(value) - set(unknown))


def _webhook_fields(errors: v.Errors, *, name, url, kinds, body_format) -> dict:
    cleaned = {
        "name": errors.check("name", v.text, name, max_length=100, required=True),
        "url": errors.check("url", v.text, url, max_length=2000, required=True),
        "kinds": _kinds(kinds, errors, "kinds"),
        "body_format": errors.check(
            "body_format", v.choice, body_format, BodyFormat.values, default=BodyFormat.STANDARD
        ),
    }
    if cleaned["url"] and "url" not in errors:
        try:
            netguard.resolve(cleaned["url"])
        except netguard.BlockedAddress as exc:
            errors.add("url", str(exc))
    return cleaned


@transaction.atomic
def webhook_create(
    *,
    team: Team,
    name: str,
    url: str,
    kinds: list[str] | None = None,
    body_format: str = BodyFormat.STANDARD,
    created_by=None,
) -> tuple[Webhook, str]:
    """A webhook and its signing secret, which is shown once (the row keeps it to sign)."""
    errors = v.Errors()
    cleaned = _webhook_fields(errors, name=name, url=url, kinds=kinds, body_format=body_format)
    errors.raise_if_any()
    secret = signing.secret_generate()
    hook = Webhook.objects.create(team=team, secret=secret, created_by=created_by, **cleaned)
    return hook, secret


@transaction.atomic
def webhook_update(*, webhook: Webhook, **changes) -> Webhook:
    """Change name, url, kinds, body_format or is_active; enabling again resets the failure count."""
    errors = v.Errors()
    current = {f: getattr(webhook, f) for f in ("name", "url", "kinds", "body_format")}
    cleaned = _webhook_fields(errors, **(current | {k: changes[k] for k in current if k in changes}))
    if "is_active" in changes:
        cleaned["is_active"] = errors.check("is_active", v.boolean, changes["is_active"])
    errors.raise_if_any()
    if cleaned.get("is_active") and not webhook.is_active:
        cleaned |= {"consecutive_failures": 0, "disabled_at": None, "disabled_reason": ""}
    for field, value in cleaned.items():
        setattr(webhook, field, value)
    webhook.save()
    return webhook


@transaction.atomic
def webhook_delivery_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again now (same webhook-id), whatever its state; the log keeps every attempt."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.PENDING, next_attempt_at=timezone.now())
    jobs.deliveries_defer(webhook_deliveries=[delivery.pk], manual=True)
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def webhook_test_send(*, webhook: Webhook) -> WebhookDelivery:
    """A test event to one webhook only (kind ``webhook.test``), delivered by the worker."""
    event = Event.objects.create(
        team=webhook.team,
        kind="webhook.test",
        title=f"Test of the webhook {webhook.name}",
        body="Sent from Crucible to check this endpoint.",
        dedupe_key=f"webhook-test:{webhook.pk}:{timezone.now().timestamp()}",
    )
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, event=event, request_body=bodies.request_body(event, webhook.body_format)
    )
    jobs.deliveries_defer(webhook_deliveries=[delivery.pk], manual=True)
    return delivery


# --- Subscriptions ---------------------------------------------------------------------------


@transaction.atomic
def subscription_set(
    *, team: Team, user=None, kinds: list[str] | None = None, channels: list[str] | None = None
) -> Subscription:
    """Set the user's subscription in the team (``user`` None: the team's default)."""
    errors = v.Errors()
    kinds = _kinds(kinds, errors, "kinds")
    channels = channels if channels is not None else [Channel.IN_APP]
    if not isinstance(channels, list | tuple) or any(c not in Channel.values for c in channels):
        errors.add("channels", f"Channels are a list of: {', '.join(Channel.values)}.")
    errors.raise_if_any()
    subscription, _ = Subscription.objects.update_or_create(
        team=team, user=user, defaults={"kinds": kinds, "channels": sorted(set(channels))}
    )
    return subscription


# --- Inbox -----------------------------------------------------------------------------------


def notification_mark_read(*, user, ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (``ids`` None: all of them); how many changed."""
    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    return rows.update(read_at=timezone.now())


def webhook_failure_count(*, webhook_id: int, failed: bool) -> int:
    """Move the consecutive-failure counter in the database; its new value."""
    if not failed:
        Webhook.objects.filter(pk=webhook_id).exclude(consecutive_failures=0).update(consecutive_failures=0)
        return 0
    Webhook.objects.filter(pk=webhook_id).update(consecutive_failures=F("consecutive_failures") + 1)
    return Webhook.objects.values_list("consecutive_failures", flat=True).get(pk=webhook_id)
