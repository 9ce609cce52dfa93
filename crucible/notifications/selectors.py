"""Reads of notifications: a user's inbox and unread count, a team's webhooks and deliveries."""

from __future__ import annotations

from django.db.models import QuerySet

from crucible.notifications.models import Notification, Webhook, WebhookDelivery


def notification_list(*, user, team_ids=None, unread: bool | None = None) -> QuerySet[Notification]:
    """The user's inbox, newest first; ``team_ids`` keeps the teams the user still belongs to."""
    rows = Notification.objects.filter(user=user).select_related("event", "team")
    if team_ids is not None:
        rows = rows.filter(team_id__in=team_ids)
    if unread is not None:
        rows = rows.filter(read_at__isnull=unread)
    return rows.order_by("-created_at", "-id")


def notification_unread_count(*, user, team_ids) -> int:
    return Notification.objects.filter(user=user, team_id__in=team_ids, read_at__isnull=True).count()


def webhook_list(*, team_ids) -> QuerySet[Webhook]:
    return Webhook.objects.filter(team_id__in=team_ids).select_related("team")


def webhook_delivery_list(*, team_ids) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(webhook__team_id__in=team_ids).select_related("webhook__team", "event")
