"""Teams, memberships and API keys: who may see and change what.

Every record of every app belongs to a ``Team``. People reach a team through a ``Membership``
with a role; programs reach it through an ``ApiKey`` that belongs to exactly one team.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer (read only)"
    MEMBER = "member", "Member"
    ADMIN = "admin", "Admin"
    OWNER = "owner", "Owner"


API_KEY_ROLES = [(Role.MEMBER.value, "Read and write"), (Role.VIEWER.value, "Read only")]
ROLE_RANK = {Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}


def role_at_least(role: str | None, minimum: str) -> bool:
    return role is not None and ROLE_RANK[Role(role)] >= ROLE_RANK[Role(minimum)]


class Team(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    is_verified = models.BooleanField(
        default=False, help_text="Verified publisher: set by an operator; shows a badge on the team's agents."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="teams")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "team"],
                name="membership_unique_user_team",
                violation_error_message="This user is already a member of the team.",
            )
        ]
        ordering = ["team__name", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class ApiKey(models.Model):
    """A team's key for programs. Only a SHA-256 hash of the secret is stored.

    The key a client sends is ``crk_<prefix>_<secret>``; ``prefix`` finds the row, the hash of
    the whole key is compared in constant time. Keys carry a role: member keys write, viewer
    keys only read.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, editable=False)
    role = models.CharField(max_length=10, choices=API_KEY_ROLES, default=Role.MEMBER)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="api_keys"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["team"], condition=Q(revoked_at__isnull=True), name="apikey_active_by_team")]

    def __str__(self) -> str:
        return f"{self.name} ({self.team}, crk_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def display(self) -> str:
        return f"crk_{self.prefix}_…"


class RateCounter(models.Model):
    """One fixed-window counter of the rate limits (API throttles, failed logins), shared by every
    process and host because it lives in the database. ``key`` names the limit, the caller and the
    window (``api_key:42:29101234``); ``crucible.ratelimit`` moves it with one upsert."""

    key = models.CharField(max_length=300, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return f"{self.key} = {self.count}"


# Notifications live in their own module of this app (the lowest layer: every app may publish).
from crucible.notifications.models import (  # noqa: E402, F401
    EmailDelivery,
    Event,
    Notification,
    Subscription,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)
