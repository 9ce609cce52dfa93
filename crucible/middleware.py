from __future__ import annotations

from contextlib import ExitStack
from functools import partial

from csp import constants as csp_constants
from csp import middleware as csp_middleware
from csp.utils import build_policy as csp_build_policy
from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.contrib.messages import middleware as message_middleware
from django.contrib.sessions import middleware as session_middleware
from django.db import InterfaceError, OperationalError, connection, connections
from django.http import HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from crucible.access import is_api_path
from crucible.api.exceptions import QUERY_TIMEOUT_MESSAGE, error_body, is_query_timeout


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
        except (OperationalError, InterfaceError) as exc:
            return self._unavailable(request, exc)

    def process_exception(self, request, exception):
        if isinstance(exception, (OperationalError, InterfaceError)):
            return self._unavailable(request, exception)
        return None

    def _unavailable(self, request, exception=None):
        from django.db import connections

        for conn in connections.all(initialized_only=True):
            conn.close_if_unusable_or_obsolete()
        if exception is not None and is_query_timeout(exception):
            code, message = "query_timeout", QUERY_TIMEOUT_MESSAGE
        else:
            code, message = "service_unavailable", "The database is not reachable right now; try again shortly."
        if is_api_path(request.path) or request.path == "/healthz":
            response = JsonResponse(error_body(code, message), status=503)
        else:
            response = HttpResponse(f"<h1>503 Service unavailable</h1><p>{message}</p>", status=503)
        if code == "service_unavailable":
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


class StatementTimeoutMiddleware:
    """Bound every request's database time: before the request's first statement, the connection
    gets ``SET statement_timeout`` (``CRUCIBLE_DB_STATEMENT_TIMEOUT_MS``), so PostgreSQL cancels
    any statement of the request that runs longer. Set by requests, not when connecting:
    migrations and management commands are not bounded, and a request that runs no query pays
    nothing. The setting stays on the connection, so it is sent again only when the connection
    is new or the wanted value changed, or when the last SET ran inside a transaction (which may
    have rolled it back): a kept-alive connection pays for it once, not per request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timeout_ms = int(settings.DB_STATEMENT_TIMEOUT_MS)
        if timeout_ms <= 0:
            return self.get_response(request)
        with ExitStack() as stack:
            # the read replica's statements are bounded the same way (crucible.db_router)
            for conn in [connection] + ([connections["replica"]] if "replica" in connections.settings else []):
                stack.enter_context(conn.execute_wrapper(partial(_bounded, [True], timeout_ms)))
            return self.get_response(request)


def _bounded(pending, timeout_ms, execute, sql, params, many, context):
    if pending:
        pending.clear()
        with context["connection"].wrap_database_errors:
            _ensure_statement_timeout(context["connection"], timeout_ms)
    return execute(sql, params, many, context)


def _ensure_statement_timeout(wrapper, timeout_ms: int) -> None:
    from psycopg.pq import TransactionStatus

    raw = wrapper.connection  # the raw connection: the cursor may be a server-side one
    if getattr(wrapper, "_crucible_statement_timeout", None) == (raw, timeout_ms):
        return
    outside_transaction = raw.info.transaction_status == TransactionStatus.IDLE
    raw.execute(f"SET statement_timeout = {timeout_ms}")
    # Outside a transaction the SET is committed at once and lasts as long as the connection.
    wrapper._crucible_statement_timeout = (raw, timeout_ms) if outside_transaction else None


def statement_timeout_clear(wrapper=connection) -> None:
    """Take the request bound off ``wrapper``'s connection (for code that reuses a request's
    connection for unbounded work, such as a test's database flush)."""
    wrapper._crucible_statement_timeout = None
    with wrapper.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")


class ReleaseApiObjectsMiddleware:
    """Let reference counting free an API request's parsed body and its response data as soon as
    the response is closed. DRF links the view, its Request and its Response in reference cycles
    (``request.parser_context["request"]``, ``view.request``, ``view.response``, the response's
    ``renderer_context["response"]``), so a 1,000-event batch and its 1,000 results outlived the request
    until the next full garbage collection, which a busy worker rarely runs: a worker grew from
    86 MB to 287-366 MB under repeated ingests. The links are cut when the server closes the
    response (``response.data`` itself stays readable, for tests)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if getattr(response, "renderer_context", None) is not None:
            response._resource_closers.append(partial(_unlink_drf_objects, response))
        return response


def _unlink_drf_objects(response) -> None:
    context = response.renderer_context or {}
    view, drf_request = context.get("view"), context.get("request")
    if drf_request is not None and isinstance(getattr(drf_request, "parser_context", None), dict):
        drf_request.parser_context.clear()  # held the Request itself, and the view
    if view is not None:
        vars(view).clear()  # request, response, args, kwargs, headers: the view is done
    context.clear()  # view, request, and the response itself (set by the renderer)


class SkippedByApiKeyCalls:
    """For the middleware of browser state (sessions, ``request.user``, messages): an API request
    carrying an API key skips it (issue 16: work on every API call for state such a request never
    has). Django's CSRF middleware stays as it is (DRF's views are exempt from it; DRF's session
    authentication enforces CSRF itself).

    Skipped only when DRF's ``ApiKeyAuthentication`` decides the request on its own: an ``/api/``
    path with an ``Authorization: Bearer ...`` header (a valid key authenticates, anything else is
    a 401; the session is never consulted). Every other request, the session-authenticated API
    included, runs each of them as Django does."""

    def __call__(self, request):
        if decided_by_api_key(request):
            return self.get_response(request)
        return super().__call__(request)


def decided_by_api_key(request) -> bool:
    decided = getattr(request, "_crucible_api_key_call", None)
    if decided is None:
        from rest_framework.authentication import get_authorization_header

        header = get_authorization_header(request).split() if is_api_path(request.path) else None
        decided = request._crucible_api_key_call = bool(header) and header[0].lower() == b"bearer"
    return decided


class SessionMiddleware(SkippedByApiKeyCalls, session_middleware.SessionMiddleware):
    pass


class AuthenticationMiddleware(SkippedByApiKeyCalls, auth_middleware.AuthenticationMiddleware):
    pass


class MessageMiddleware(SkippedByApiKeyCalls, message_middleware.MessageMiddleware):
    pass


_CSP_PER_RESPONSE = (
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)


class CSPMiddleware(csp_middleware.CSPMiddleware):
    """django-csp's middleware, building each policy header once per process instead of per
    response (a fifth of a small API call's middleware time; issue 16) when the response is the
    common case: no per-view policy (``@csp_update`` and friends) and no nonce used. Anything
    else, and the exemptions, go through django-csp unchanged. The cache is keyed by the
    settings' policy objects, so a changed setting (a test's override) builds anew."""

    _built: tuple = (None, None, "", "")

    def process_response(self, request, response):
        if getattr(request, "_csp_nonce", None) is not None or any(
            getattr(response, name, None) is not None for name in _CSP_PER_RESPONSE
        ):
            return super().process_response(request, response)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None)
        report_only = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        built = self._built
        if built[0] is not policy or built[1] is not report_only:
            built = (policy, report_only, csp_build_policy(), csp_build_policy(report_only=True))
            CSPMiddleware._built = built
        # The same header, or none, as django-csp's own process_response would write.
        header, header_ro = built[2], built[3]
        if response.status_code in (500, 404) and settings.DEBUG:
            return response
        for value, name, config, exempt in (
            (header, csp_constants.HEADER, policy, "_csp_exempt"),
            (header_ro, csp_constants.HEADER_REPORT_ONLY, report_only, "_csp_exempt_ro"),
        ):
            prefixes = tuple((config or {}).get("EXCLUDE_URL_PREFIXES", None) or ())
            if (
                value
                and name not in response
                and getattr(response, exempt, False) is False
                and not request.path_info.startswith(prefixes)
            ):
                response[name] = value
        request.csp_nonce = csp_middleware.CheckableLazyObject(self._csp_nonce_post_response)
        return response
