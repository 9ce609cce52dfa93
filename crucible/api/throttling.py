"""API throttles whose counters every worker process and host share (``crucible.ratelimit``).

Three limits, each a small DRF ``SimpleRateThrottle`` that only says which counter a request
moves (``get_cache_key``) and how many it may: requests per API key, per logged-in user on a
session, and a smaller budget for expensive reads. DRF runs one class, ``SharedThrottles``, which
moves every counter that applies to a request in one database statement."""

from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from crucible.access import api_key_of
from crucible.ratelimit import rate_hit_many


class SharedRateThrottle(SimpleRateThrottle):
    """One limit: its scope's rate from ``DEFAULT_THROTTLE_RATES`` and the counter a request moves."""

    def applies(self, request, view) -> bool:
        return self.rate is not None


class ApiKeyRateThrottle(SharedRateThrottle):
    """Requests per API key (``CRUCIBLE_THROTTLE_API_KEY``, e.g. ``6000/min``)."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        key = api_key_of(request)
        return None if key is None else self.cache_format % {"scope": self.scope, "ident": key.pk}


class UserSessionRateThrottle(SharedRateThrottle):
    """Requests per logged-in user on the API (``CRUCIBLE_THROTTLE_SESSION``)."""

    scope = "session"

    def get_cache_key(self, request, view):
        if api_key_of(request) is not None or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class ExpensiveRequestThrottle(SharedRateThrottle):
    """A second, smaller budget for the reads that cost the most (stack suggestions, searches,
    dashboards): requests per API key, or per user on a session (``CRUCIBLE_THROTTLE_EXPENSIVE``).
    A view opts in with ``throttle_scope = "expensive"`` (a property may decide per request)."""

    scope = "expensive"

    def applies(self, request, view) -> bool:
        return super().applies(request, view) and getattr(view, "throttle_scope", None) == self.scope

    def get_cache_key(self, request, view):
        key = api_key_of(request)
        if key is not None:
            ident = f"key-{key.pk}"
        elif request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class SharedThrottles(BaseThrottle):
    """Every limit above that applies to a request, counted with one statement; the request is
    refused (429) when any is over, and told to wait for the longest of those windows."""

    limits = (ApiKeyRateThrottle, UserSessionRateThrottle, ExpensiveRequestThrottle)

    def __init__(self):
        self._wait = None

    def allow_request(self, request, view):
        wanted = []
        for limit_class in self.limits:
            limit = limit_class()
            key = limit.get_cache_key(request, view) if limit.applies(request, view) else None
            if key is not None:
                wanted.append((limit, key))
        if not wanted:
            return True
        counts = rate_hit_many(hits=[(key, limit.duration) for limit, key in wanted])
        over = [left for (limit, _), (count, left) in zip(wanted, counts, strict=True) if count > limit.num_requests]
        self._wait = max(over, default=None)
        return not over

    def wait(self):
        return None if self._wait is None else max(1.0, self._wait)
