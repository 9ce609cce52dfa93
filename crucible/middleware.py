from __future__ import annotations

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from crucible.api.exceptions import error_body


def is_api_path(path: str) -> bool:
    return path.startswith("/api/")


class ApiBodyLimitMiddleware:
    """Refuse an API body larger than ``CRUCIBLE_API_MAX_BODY_BYTES`` before reading it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api_path(request.path):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse(error_body("bad_request", "Content-Length is not a number."), status=400)
            limit = settings.API_MAX_BODY_BYTES
            if length > limit:
                return JsonResponse(
                    error_body("payload_too_large", f"The request body is larger than {limit} bytes."), status=413
                )
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """While the database is down, answer 503 (JSON on the API) instead of a 500, and let the
    next request reconnect (CONN_HEALTH_CHECKS drops the broken connection)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        except (OperationalError, InterfaceError):
            return self._unavailable(request)

    def process_exception(self, request, exception):
        if isinstance(exception, (OperationalError, InterfaceError)):
            return self._unavailable(request)
        return None

    def _unavailable(self, request):
        from django.db import connections

        for conn in connections.all(initialized_only=True):
            conn.close_if_unusable_or_obsolete()
        message = "The database is not reachable right now; try again shortly."
        if is_api_path(request.path) or request.path == "/healthz":
            response = JsonResponse(error_body("service_unavailable", message), status=503)
        else:
            response = HttpResponse(f"<h1>503 Service unavailable</h1><p>{message}</p>", status=503)
        response["Retry-After"] = "5"
        return response


class NulInPathMiddleware:
    """A NUL byte in the path names nothing (PostgreSQL text cannot even hold one): 404 in the
    usual shape (JSON on the API, the 404 page elsewhere) before any view looks it up."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "\x00" in request.path:
            from crucible.views import json_404

            return json_404(request)
        return self.get_response(request)


class ApiPrivateResponsesMiddleware:
    """An API response to a request with credentials (an API key or a session cookie) is one
    caller's data: ``Cache-Control: private, no-store``, and it varies on both credentials, so no
    shared cache keeps it or hands it to another caller."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if is_api_path(request.path) and (
            request.META.get("HTTP_AUTHORIZATION") or settings.SESSION_COOKIE_NAME in request.COOKIES
        ):
            patch_cache_control(response, private=True, no_store=True)
            patch_vary_headers(response, ("Cookie", "Authorization"))
        return response
