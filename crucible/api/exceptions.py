"""One error shape for every API error:

    {"code": "invalid", "message": "Some fields are not valid.", "fields": {"name": ["…"]}}

``fields`` maps each offending field (dotted paths for nested ones, ``non_field_errors`` for
the whole object) to its messages; it is ``{}`` when no field is to blame.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError, OperationalError
from django.http import Http404
from psycopg.errors import QueryCanceled
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from crucible.api.conflicts import CONFLICT_MESSAGE, conflict_fields

NON_FIELD_ERRORS = api_settings.NON_FIELD_ERRORS_KEY
CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "throttled",
    503: "service_unavailable",
}


def flatten_fields(detail, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into {"a.b.0.c": ["message", ...]}. A nested object's or
    list's own error ("no more than 1000 elements", "not a dictionary") names the field that holds
    it (``results``, ``variants.0``), not ``results.non_field_errors``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == NON_FIELD_ERRORS and prefix:
                path = prefix
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for name, messages in flatten_fields(value, path).items():
                out.setdefault(name, []).extend(messages)
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                if item:
                    out.update(flatten_fields(item, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def suspicious_request_message(exc: SuspiciousOperation) -> str:
    if isinstance(exc, TooManyFieldsSent):
        return f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} form fields."
    if isinstance(exc, TooManyFilesSent):
        return f"The request has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files."
    return "The request could not be read."


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}


def error_response(status_code: int, message: str, fields: dict | None = None, code: str | None = None) -> Response:
    return Response(error_body(code or CODES.get(status_code, "error"), message, fields), status=status_code)


def is_query_timeout(exc) -> bool:
    """PostgreSQL cancelled a statement (``CRUCIBLE_DB_STATEMENT_TIMEOUT_MS`` ran out)."""
    return isinstance(exc, OperationalError) and isinstance(exc.__cause__, QueryCanceled)


QUERY_TIMEOUT_MESSAGE = (
    "This request needed more database time than allowed; narrow it down (a shorter text, a smaller range)."
)


def exception_handler(exc, context):
    if is_query_timeout(exc):
        return error_response(503, QUERY_TIMEOUT_MESSAGE, code="query_timeout")
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, IntegrityError):
        exc = exceptions.ValidationError(conflict_fields(exc))
        exc.status_code = status.HTTP_409_CONFLICT
    elif isinstance(exc, OperationalError):
        response = error_response(503, "The database is not reachable right now; try again shortly.")
        response["Retry-After"] = "5"
        return response
    elif isinstance(exc, DatabaseError):
        # e.g. a value PostgreSQL refuses (numeric overflow, a NUL byte): the caller's input.
        return error_response(400, "The database refused a value in this request.", code="invalid")
    elif isinstance(exc, RequestDataTooBig):
        return error_response(413, "The request body is too large.")
    elif isinstance(exc, SuspiciousOperation):
        # e.g. a form body with more than DATA_UPLOAD_MAX_NUMBER_FIELDS fields or
        # DATA_UPLOAD_MAX_NUMBER_FILES files: Django would answer its HTML "Bad Request" page.
        return error_response(400, suspicious_request_message(exc))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if str(exc) else None)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    detail = getattr(exc, "detail", None)
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_fields(detail)
        if list(fields) == ["non_field_errors"]:
            message = fields["non_field_errors"][0]
        elif response.status_code == 409:
            message = CONFLICT_MESSAGE[:-1] + ": " + ", ".join(sorted(fields)) + "."
        else:
            message = "Some fields are not valid: " + ", ".join(sorted(fields)) + "."
        code = "conflict" if response.status_code == 409 else "invalid"
        response.data = error_body(code, message, fields)
    else:
        message = str(detail) if detail is not None else str(exc)
        code = getattr(exc, "default_code", None) or CODES.get(response.status_code, "error")
        response.data = error_body(code, message)
    return response
