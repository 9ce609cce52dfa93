"""Notifications: events, the inboxes they land in, subscriptions, webhooks and their deliveries.

An ``Event`` is something a team should learn about (an alert firing, a new version of an
installed agent). ``notification_publish`` stores it once per (team, dedupe_key) and fans it out:
one in-app ``Notification`` per subscribed member, one ``EmailDelivery`` per member subscribed by
e-mail, one ``WebhookDelivery`` per active webhook whose kind filter takes it. The rows live in
the ``crucible`` app (the lowest layer), so every app may publish.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Channel(models.TextChoices):
    IN_APP = "in_app", "In the app"
    EMAIL = "email", "E-mail"


class BodyFormat(models.TextChoices):
    STANDARD = "standard", "JSON event (Standard Webhooks)"
    SLACK = "slack", "Slack-compatible message"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class Event(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(
        "crucible.Team", on_delete=models.CASCADE, related_name="notification_events", db_index=False
    )
    kind = models.CharField(max_length=60)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")
    url = models.CharField(max_length=500, blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "dedupe_key"], name="event_unique_team_dedupe_key")]
        indexes = [models.Index(fields=["team", "-created_at"], name="event_by_team_time")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title}"


class Notification(models.Model):
    """One event in one user's inbox (in-app); never twice (unique user, event)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="notification_unique_user_event")]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_by_user_time"),
            models.Index(fields=["user"], condition=Q(read_at__isnull=True), name="notification_unread_by_user"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} for {self.user}"


class Subscription(models.Model):
    """Which kinds reach whom by which channels. ``user`` empty: the team's default for members
    without their own row. ``kinds`` empty: every kind. Without any row a member gets every kind
    in the app and nothing by e-mail."""

    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="notification_subscriptions")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="notification_subscriptions",
    )
    kinds = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    channels = ArrayField(models.CharField(max_length=10, choices=Channel.choices), default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "user"], condition=Q(user__isnull=False), name="subscription_unique_team_user"
            ),
            models.UniqueConstraint(fields=["team"], condition=Q(user__isnull=True), name="subscription_unique_team"),
        ]
        ordering = ["team_id", "user_id"]

    def __str__(self) -> str:
        who = self.user or "team default"
        return f"{self.team}: {who}"


class Webhook(models.Model):
    team = models.ForeignKey("crucible.Team", on_delete=models.CASCADE, related_name="webhooks")
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=2000)
    # The signing secret (whsec_<base64>): kept to sign, shown to people once, at creation.
    secret = models.CharField(max_length=100, editable=False)
    kinds = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    body_format = models.CharField(max_length=10, choices=BodyFormat.choices, default=BodyFormat.STANDARD)
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["team"], condition=Q(is_active=True), name="webhook_active_by_team")]
        ordering = ["team_id", "name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.team})"


class WebhookDelivery(models.Model):
    """One event to one webhook. ``uid`` is the ``webhook-id`` header: the same on every attempt,
    so receivers can drop repeats."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries", db_index=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="webhook_deliveries")
    request_body = models.TextField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["webhook", "event"], name="delivery_unique_webhook_event")]
        indexes = [models.Index(fields=["webhook", "-created_at"], name="delivery_by_webhook_time")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} to {self.webhook} ({self.status})"

    @property
    def message_id(self) -> str:
        return f"msg_{self.uid.hex}"


class WebhookAttempt(models.Model):
    """The delivery log: one row per HTTP request made."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField()
    manual = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    response_excerpt = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["delivery_id", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class EmailDelivery(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="email_deliveries", db_index=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    address = models.EmailField()
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "user"], name="email_unique_event_user")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} to {self.address} ({self.status})"
