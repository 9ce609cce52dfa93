from rest_framework.throttling import SimpleRateThrottle

from crucible.access import api_key_of


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per API key (``CRUCIBLE_THROTTLE_API_KEY``, e.g. ``6000/min``)."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        key = api_key_of(request)
        return None if key is None else self.cache_format % {"scope": self.scope, "ident": key.pk}


class UserSessionRateThrottle(SimpleRateThrottle):
    """Requests per logged-in user on the API (``CRUCIBLE_THROTTLE_SESSION``)."""

    scope = "session"

    def get_cache_key(self, request, view):
        if api_key_of(request) is not None or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}
