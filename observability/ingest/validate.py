"""Ingest, step 1: one event -> clean values, every bad field of it named at once.

Plain Python, no query: this runs for each of up to a thousand events per request. Limits come
from ``crucible.limits`` (the same as for experiment results and build reports).
"""

from __future__ import annotations

from crucible import limits
from crucible import validation as v
from observability import conf

HEX = frozenset("0123456789abcdefABCDEF")

EVENT_FIELDS = frozenset(
    {
        "id",
        "agent",
        "agent_ref",
        "agent_version",
        "model",
        "operation",
        "variant_id",
        "trace_id",
        "span_id",
        "started_at",
        "duration_ms",
        "status",
        "error_type",
        "error_message",
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "reasoning_tokens",
        "cost",
        "quality",
    }
)
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens")
STATUSES = ("success", "error")
# Cost of one execution as stored (numeric(18, 8)).
COST_PLACES = 8


def _agent_ref(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)) or (isinstance(value, str) and not value.strip()):
        raise v.Invalid("Must be an agent id, 'slug' or 'team-slug/slug'.")
    return v.text(str(value), max_length=limits.LABEL_CHARS)


def _hex(value, *, length):
    value = v.text(value, max_length=length)
    if value and not set(value) <= HEX:
        raise v.Invalid("Must be hexadecimal.")
    return value.lower()


def _started_at(value, *, oldest, newest):
    when = v.timestamp(value, required=True)
    if when > newest:
        raise v.Invalid(f"Is more than {conf.MAX_FUTURE_SECONDS} seconds in the future.")
    if when < oldest:
        raise v.Invalid(f"Is older than the retention period ({conf.RETENTION_DAYS} days).")
    return when


def _variant_id(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise v.Invalid("Must be a positive whole number.")
    return value


def _status(value):
    if value not in STATUSES:
        raise v.Invalid("Must be 'success' or 'error'.")
    return value


def event_validate(event, *, oldest, newest, errors: v.Errors) -> dict | None:
    """Clean values of one event, or None with every bad field filed in ``errors``."""
    if not isinstance(event, dict):
        errors.add(None, "Each event must be a JSON object.")
        return None
    for key in sorted(str(key) for key in event if key not in EVENT_FIELDS):
        errors.add(key, "Unknown field.")
    get = event.get
    check = errors.check
    client_id = check("id", v.text, get("id"), max_length=limits.LABEL_CHARS, required=True)
    agent_ref = check("agent_ref", _agent_ref, get("agent_ref"))
    agent = check(
        "agent",
        v.text,
        get("agent"),
        max_length=limits.LABEL_CHARS,
        required="agent_ref" not in event or get("agent_ref") is None,
    )
    started_at = check("started_at", _started_at, get("started_at"), oldest=oldest, newest=newest)
    duration = check("duration_ms", v.number, get("duration_ms"), low=0, high=limits.MAX_DURATION_MS, required=True)
    status = check("status", _status, get("status", "success"))
    tokens = {name: check(name, v.whole, get(name), low=0, high=limits.MAX_TOKENS, default=0) for name in TOKEN_FIELDS}
    if tokens["input_tokens"] is not None and tokens["output_tokens"] is not None:
        if tokens["input_tokens"] + tokens["output_tokens"] > limits.MAX_TOKENS:
            errors.add("output_tokens", f"input_tokens + output_tokens is at most {limits.MAX_TOKENS}.")
    if (tokens["cached_input_tokens"] or 0) > (tokens["input_tokens"] or 0) and tokens["input_tokens"] is not None:
        errors.add("cached_input_tokens", "Cannot exceed input_tokens (input tokens include cached ones).")
    if (tokens["reasoning_tokens"] or 0) > (tokens["output_tokens"] or 0) and tokens["output_tokens"] is not None:
        errors.add("reasoning_tokens", "Cannot exceed output_tokens (output tokens include reasoning ones).")
    cost = check("cost", v.money, get("cost"), places=COST_PLACES, high=limits.MAX_COST)
    variant_id = check("variant_id", _variant_id, get("variant_id"))
    error_type = check("error_type", v.text, get("error_type"), max_length=limits.LABEL_CHARS)
    error_message = check("error_message", v.text, get("error_message"), max_length=limits.ERROR_MESSAGE_CHARS)
    version = check("agent_version", v.text, get("agent_version"), max_length=limits.VERSION_CHARS)
    model = check("model", v.text, get("model"), max_length=limits.LABEL_CHARS)
    operation = check("operation", v.text, get("operation"), max_length=64)
    trace_id = check("trace_id", _hex, get("trace_id"), length=32)
    span_id = check("span_id", _hex, get("span_id"), length=16)
    quality = check("quality", v.number, get("quality"), low=limits.MIN_QUALITY, high=limits.MAX_QUALITY)
    if errors:
        return None
    if status == "error" and not error_type:
        error_type = "error"
    return {
        "client_id": client_id,
        "agent_name": agent,
        "agent_ref": agent_ref,
        "version": version,
        "model": model,
        "operation": operation,
        "variant_id": variant_id,
        "trace_id": trace_id,
        "span_id": span_id,
        "started_at": started_at,
        "duration_ms": duration,
        "status": status,
        "error_type": error_type,
        "error_message": error_message,
        **tokens,
        "cost": cost,
        "quality": quality,
    }
