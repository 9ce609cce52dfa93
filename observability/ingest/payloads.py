"""Ingest of a span's payloads: input, output, attributes and request parameters.

Each value is walked once: every string is checked (no lone surrogate, no NUL: PostgreSQL's
``jsonb`` refuses them) and redacted (``observability.redaction``); then the value is measured as
JSON and cut to ``CRUCIBLE_TRACE_PAYLOAD_MAX_BYTES`` with a flag. A value over the cap is
truncated, never refused: a string keeps its first bytes, a structure is stored as the first
bytes of its JSON text (a string). Attributes over the cap keep their first keys that fit, plus
``"crucible.truncated": true``.
"""

from __future__ import annotations

import hashlib
import json

from observability import conf
from observability.redaction import Redactor

TRUNCATED_KEY = "crucible.truncated"
# One encoder each, made once (``json.dumps`` with options builds a new one per call).
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


class BadText(Exception):
    pass


def _clean(value, redactor: Redactor, flags: list):
    if isinstance(value, str):
        if "\x00" in value:
            raise BadText("Text cannot contain NUL characters.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadText("Is not valid UTF-8 (a lone surrogate).") from None
        out, changed = redactor.redact(value)
        if changed:
            flags[0] = True
        return out
    if isinstance(value, dict):  # keys are names (checked, not redacted)
        return {_key(k): _clean(v, redactor, flags) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(item, redactor, flags) for item in value]
    return value


def _key(key) -> str:
    key = str(key)
    if "\x00" in key:
        raise BadText("Text cannot contain NUL characters.")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise BadText("Is not valid UTF-8 (a lone surrogate).") from None
    return key


def _cut(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _dumps(value) -> str:
    return _COMPACT.encode(value)


def payload_fit(value, limit: int):
    """(value, truncated, JSON text): ``value`` if its JSON is within ``limit`` bytes, else a cut
    string (the text is what is stored: it is made once, here)."""
    if value is None:
        return None, False, None
    if isinstance(value, str):
        if len(value) * 4 > limit and len(value.encode("utf-8")) > limit:
            value = _cut(value, limit)
            return value, True, _dumps(value)
        return value, False, _dumps(value)
    text = _dumps(value)
    if len(text) * 4 <= limit or len(text.encode("utf-8")) <= limit:
        return value, False, text
    cut = _cut(text, limit)
    return cut, True, _dumps(cut)


def attributes_fit(value: dict, limit: int) -> dict:
    if not value:
        return value
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode("utf-8")) <= limit:
        return value
    kept, size = {TRUNCATED_KEY: True}, 30
    for key, item in value.items():
        item_size = len(json.dumps({key: item}, ensure_ascii=False).encode("utf-8"))
        if size + item_size > limit:
            continue
        kept[key] = item
        size += item_size
    return kept


def payloads_prepare(row: dict, redactor: Redactor) -> dict[str, str]:
    """Redact and cap the row's payload fields in place; returns the problems by field name
    (then nothing of the row may be stored)."""
    problems = {}
    flags = [False]
    limit = conf.TRACE_PAYLOAD_MAX_BYTES
    for name in ("input", "output", "attributes", "request_params"):
        if row[name] is None or row[name] == {}:
            continue  # nothing to check (most events send no payload)
        try:
            row[name] = _clean(row[name], redactor, flags)
        except BadText as exc:
            problems[name] = str(exc)
    if problems:
        return problems
    row["input"], row["input_truncated"], row["input_json"] = payload_fit(row["input"], limit)
    row["output"], row["output_truncated"], row["output_json"] = payload_fit(row["output"], limit)
    row["attributes"] = attributes_fit(row["attributes"], limit)
    row["request_params"] = attributes_fit(row["request_params"], limit)
    if row["error_message"]:  # stack traces carry e-mail addresses and keys too
        row["error_message"], changed = redactor.redact(row["error_message"])
        flags[0] = flags[0] or changed
    row["redacted"] = flags[0]
    return problems


def content_hash(event: dict) -> str:
    """The digest of what a span sent, its own id left out: the same span sent again (with or
    without an id) has the same digest; other content under the same span id does not."""
    content = event.copy()  # sorted when encoded: the order of the keys does not matter
    content.pop("id", None)
    text = _CANONICAL.encode(content)
    return hashlib.md5(text.encode("utf-8", errors="surrogatepass"), usedforsecurity=False).hexdigest()
