import json

from django.conf import settings
from rest_framework import exceptions, parsers, status


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def _depth(value, limit: int) -> int:
    """Nesting depth of a decoded JSON value, stopping early once past ``limit``."""
    stack = [(value, 1)]
    deepest = 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return deepest


class JSONParser(parsers.JSONParser):
    """JSON with limits: body size (``CRUCIBLE_API_MAX_BODY_BYTES``, also enforced when no
    Content-Length is sent), nesting depth, strict UTF-8, and no NaN/Infinity."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        if not raw.strip():
            raise exceptions.ParseError("The request body is empty; send a JSON document.")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(f"The request body is not valid UTF-8 (byte {exc.start}).") from exc

        def reject_constant(name):
            raise ValueError(f"{name} is not valid JSON")

        def finite_float(literal):
            # 1e999999 would otherwise become inf and reach the fields as a number or the text "inf".
            value = float(literal)
            if value in (float("inf"), float("-inf")):
                raise ValueError(f"the number {literal[:30]} is out of range")
            return value

        try:
            data = json.loads(text, parse_constant=reject_constant, parse_float=finite_float)
        except RecursionError:
            raise exceptions.ParseError("The JSON document is nested too deeply.") from None
        except ValueError as exc:
            raise exceptions.ParseError(f"Malformed JSON: {exc}") from exc
        if _depth(data, settings.API_MAX_JSON_DEPTH) > settings.API_MAX_JSON_DEPTH:
            raise exceptions.ParseError(
                f"The JSON document is nested deeper than {settings.API_MAX_JSON_DEPTH} levels."
            )
        return data
