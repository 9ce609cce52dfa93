from rest_framework.throttling import SimpleRateThrottle

from crucible.access import api_key_of
from crucible.ratelimit import rate_hit


class SharedRateThrottle(SimpleRateThrottle):
    """DRF's rate throttle, counted in the database (``crucible.ratelimit``) so that every worker
    process and host shares one budget. DRF's own keeps a list of timestamps in the cache, per
    process with the local-memory cache."""

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        count, self._seconds_left = rate_hit(name=self.key, seconds=self.duration)
        return count <= self.num_requests

    def wait(self):
        return max(1.0, self._seconds_left)


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
