"""Failed-login limits for every login form (``/login/``, ``/api-auth/login/``, the admin's):
per address and per username, counted in the shared database counters (``crucible.ratelimit``).

The check runs before the password is hashed, so a throttled guess costs no hashing, and it sits
in the authentication backend, so no login form can go around it; the pages answer 429 first
(``crucible.views``)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from crucible.ratelimit import rate_count, rate_hit


def _limits(*, request, username: str) -> list[tuple[str, int]]:
    # Usernames differing only in case share a budget; hashed, so any text fits the key.
    digest = hashlib.sha256((username or "").strip().lower().encode("utf-8", "replace")).hexdigest()[:32]
    limits = [(f"login-fail:user:{digest}", settings.LOGIN_THROTTLE_ATTEMPTS)]
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    if address:
        limits.append((f"login-fail:addr:{address[:64]}", settings.LOGIN_THROTTLE_ADDRESS_ATTEMPTS))
    return limits


def login_throttled(*, request, username: str) -> float | None:
    """Seconds to wait when this address or this username has used up its failed logins, else None."""
    for name, limit in _limits(request=request, username=username):
        count, seconds_left = rate_count(name=name, seconds=settings.LOGIN_THROTTLE_WINDOW)
        if count >= limit:
            return seconds_left
    return None


def login_failure_record(*, request, username: str) -> None:
    for name, _ in _limits(request=request, username=username):
        rate_hit(name=name, seconds=settings.LOGIN_THROTTLE_WINDOW)


def on_login_failed(sender, credentials, request=None, **kwargs):
    """``user_login_failed`` receiver: every failed ``authenticate()`` counts, whatever the form."""
    username = credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username") or ""
    login_failure_record(request=request, username=str(username))


class ThrottledModelBackend(ModelBackend):
    """Django's backend, refusing (without hashing) while the address or the username is throttled."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        name = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        if login_throttled(request=request, username=str(name or "")) is not None:
            raise PermissionDenied("Too many failed logins.")
        return super().authenticate(request, username=username, password=password, **kwargs)
