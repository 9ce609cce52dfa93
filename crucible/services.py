"""Writes for teams, memberships and API keys (one function per use case)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from crucible import keycache
from crucible.models import ApiKey, Membership, Role, Team

KEY_PREFIX = "crk"
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def team_create(*, name: str, slug: str | None = None, owner=None, is_verified: bool = False) -> Team:
    slug = slug or slugify(name)[:60]
    if not slug:
        raise ValidationError({"slug": "A team needs a name made of letters or digits."})
    if Team.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"A team with slug '{slug}' already exists."})
    team = Team(name=name, slug=slug, is_verified=is_verified)
    team.full_clean()
    team.save()
    if owner is not None:
        Membership.objects.create(user=owner, team=team, role=Role.OWNER)
    return team


def membership_set(*, team: Team, user, role: str = Role.MEMBER) -> Membership:
    membership, _ = Membership.objects.update_or_create(team=team, user=user, defaults={"role": role})
    return membership


def user_create(*, username: str, password: str, email: str = "", is_staff: bool = False, is_superuser: bool = False):
    User = get_user_model()
    user = User(username=username, email=email, is_staff=is_staff or is_superuser, is_superuser=is_superuser)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    return user


def api_key_create(*, team: Team, name: str, role: str = Role.MEMBER, created_by=None) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the raw key, which is shown once and never stored."""
    if role not in (Role.MEMBER, Role.VIEWER):
        raise ValidationError({"role": "An API key is either 'member' (read and write) or 'viewer' (read only)."})
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the key a name, so you can tell keys apart later."})
    prefix = secrets.token_hex(6)
    raw = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(team=team, name=name[:100], prefix=prefix, key_hash=_hash_key(raw), role=role, created_by=created_by)
    key.save()
    return key, raw


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    keycache.forget(key_id=key.pk)  # other processes forget it within API_KEY_CACHE_SECONDS
    key.refresh_from_db()
    return key


def api_key_authenticate(*, raw: str) -> ApiKey | None:
    """The active key matching ``raw``, or None. A key verified in the last
    ``API_KEY_CACHE_SECONDS`` costs no query (``crucible.keycache``); a lookup also moves
    ``last_used_at`` in the database, at most once a minute (the row's own value decides)."""
    parts = raw.split("_")
    if len(parts) < 3 or parts[0] != KEY_PREFIX:
        return None
    key_hash = _hash_key(raw)
    key = keycache.remembered(key_hash=key_hash)
    if key is not None:
        return key
    key = ApiKey.objects.select_related("team", "created_by").filter(prefix=parts[1]).first()
    if key is None or not hmac.compare_digest(key.key_hash, key_hash) or key.revoked_at is not None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ApiKey.objects.filter(stale, pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    keycache.remember(key_hash=key_hash, key=key)
    return key
