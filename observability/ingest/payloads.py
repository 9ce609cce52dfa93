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
    if isinstance(value, dict):
        return {_clean(str(k), redactor, flags): _clean(v, redactor, flags) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(item, redactor, flags) for item in value]
    return value


def _cut(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def payload_fit(value, limit: int):
    """(value, truncated): ``value`` if its JSON is within ``limit`` bytes, else a cut string."""
    if value is None:
        return None, False
    if isinstance(value, str):
        if len(value) * 4 <= limit or len(value.encode("utf-8")) <= limit:
            return value, False
        return _cut(value, limit), True
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if len(text.encode("utf-8")) <= limit:
        return value, False
    return _cut(text, limit), True


def attributes_fit(value: dict, limit: int) -> dict:
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
        try:
            row[name] = _clean(row[name], redactor, flags)
        except BadText as exc:
            problems[name] = str(exc)
    if problems:
        return problems
    row["input"], row["input_truncated"] = payload_fit(row["input"], limit)
    row["output"], row["output_truncated"] = payload_fit(row["output"], limit)
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
    content = {key: value for key, value in event.items() if key != "id"}
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.md5(text.encode("utf-8", errors="surrogatepass"), usedforsecurity=False).hexdigest()
