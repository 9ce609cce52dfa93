"""The one JSON parser of the API (every app's views use it, directly or through DRF's settings).

``read_body`` and ``json_loads`` are the parser's two halves, for views that must look at the raw
bytes first (the OTLP endpoint decompresses gzip before parsing)."""

import io
import json

import orjson
from django.conf import settings
from django.utils.http import parse_header_parameters
from rest_framework import exceptions, parsers, status


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def read_body(stream) -> bytes:
    """The request body, at most ``CRUCIBLE_API_MAX_BODY_BYTES`` (413 beyond, also when no
    Content-Length is sent)."""
    limit = settings.API_MAX_BODY_BYTES
    raw = stream.read(limit + 1) if stream is not None else b""
    if len(raw) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
    return raw


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(literal):
    # 1e999999 would otherwise become inf and reach the fields as a number or the text "inf".
    value = float(literal)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {literal[:30]} is out of range")
    return value


def _check_depth(data, max_depth: int) -> None:
    """Refuse nesting deeper than ``max_depth``. Only containers are visited: an ingest body is
    thousands of scalar fields, and visiting each of them cost more than the rest of the parse."""
    stack = [(data, 1)] if isinstance(data, (dict, list)) else []
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise exceptions.ParseError(f"The JSON document is nested deeper than {max_depth} levels.")
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
            elif depth + 1 > max_depth:
                raise exceptions.ParseError(f"The JSON document is nested deeper than {max_depth} levels.")


# orjson turns a whole number of more than 64 bits into a float; a body that may hold one (a run
# of 19 digits after ':', '[' or ',': a value) takes the standard parser, which keeps it whole, as
# does any body orjson refuses (the standard parser's message). Found with bytes methods: a
# regular expression over a 1,000-event body costs more than orjson's whole parse.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_RUN = b"0" * 19


def _may_hold_long_number(raw: bytes) -> bool:
    digits = raw.translate(_DIGITS_AS_ZERO)
    start = digits.find(_RUN)
    while start != -1:
        before = raw[max(0, start - 64) : start].rstrip()
        if before.endswith(b"-"):
            before = before[:-1].rstrip()
        if not before or before[-1:] in (b":", b"[", b","):
            return True
        start = digits.find(_RUN, start + 1)
    return False


def json_loads(raw: bytes):
    """Decode a JSON body with the project's rules: not empty, strict UTF-8, no NaN/Infinity (nor
    numbers that overflow to infinity), nesting depth at most ``CRUCIBLE_API_MAX_JSON_DEPTH``.

    orjson parses first (a quarter of the time of ``json``; it refuses what the rules refuse);
    a body it refuses is parsed again by ``json``, whose result or message is the answer (a lone
    surrogate escape, for one, is text ``json`` accepts and the fields then refuse by name)."""
    if not raw.strip():
        raise exceptions.ParseError("The request body is empty; send a JSON document.")
    if not _may_hold_long_number(raw):
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            _check_depth(data, settings.API_MAX_JSON_DEPTH)
            return data
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise exceptions.ParseError(f"The request body is not valid UTF-8 (byte {exc.start}).") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise exceptions.ParseError("The JSON document is nested too deeply.") from None
    except ValueError as exc:
        raise exceptions.ParseError(f"Malformed JSON: {exc}") from None
    _check_depth(data, settings.API_MAX_JSON_DEPTH)
    return data


class JSONParser(parsers.JSONParser):
    """JSON with limits: body size, nesting depth, strict UTF-8, and no NaN/Infinity."""

    def parse(self, stream, media_type=None, parser_context=None):
        return json_loads(read_body(stream))


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing a body that does not open with its boundary (Django's
    parser reads such a body as an empty form, so a create with defaults succeeded on garbage)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = read_body(stream)
        boundary = parse_header_parameters(media_type or "")[1].get("boundary", "")
        if raw.strip() and not raw.lstrip(b"\r\n").startswith(b"--" + boundary.encode("latin-1", "replace")):
            raise exceptions.ParseError("Malformed multipart body: it does not start with its boundary.")
        parsed = super().parse(io.BytesIO(raw), media_type, parser_context)
        closing = b"--" + boundary.encode("latin-1", "replace") + b"--"
        if not parsed.data and not parsed.files and raw.strip() not in (b"", closing):
            # parts Django skipped (no Content-Disposition): not an empty form, a broken one
            raise exceptions.ParseError("Malformed multipart body: no part names a field.")
        return parsed
