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


# (field, check, value when left out or null, rules). Checked in this order; a field that is left
# out costs no call (most events send few of them, and this runs for each event of a batch).
REQUIRED = object()
HEAD_RULES = [
    ("id", v.text, REQUIRED, {"max_length": limits.LABEL_CHARS, "required": True}),
    ("agent_ref", _agent_ref, None, {}),
]
FIELD_RULES = [
    ("duration_ms", v.number, REQUIRED, {"low": 0, "high": limits.MAX_DURATION_MS, "required": True}),
    ("status", _status, "success", {}),
    *((name, v.whole, 0, {"low": 0, "high": limits.MAX_TOKENS}) for name in TOKEN_FIELDS),
    ("cost", v.money, None, {"places": COST_PLACES, "high": limits.MAX_COST}),
    ("variant_id", _variant_id, None, {}),
    ("error_type", v.text, "", {"max_length": limits.LABEL_CHARS}),
    ("error_message", v.text, "", {"max_length": limits.ERROR_MESSAGE_CHARS}),
    ("agent_version", v.text, "", {"max_length": limits.VERSION_CHARS}),
    ("model", v.text, "", {"max_length": limits.LABEL_CHARS}),
    ("operation", v.text, "", {"max_length": 64}),
    ("trace_id", _hex, "", {"length": 32}),
    ("span_id", _hex, "", {"length": 16}),
    ("quality", v.number, None, {"low": limits.MIN_QUALITY, "high": limits.MAX_QUALITY}),
]


def _apply(rules, event: dict, clean: dict, errors: v.Errors) -> None:
    for name, check, default, kwargs in rules:
        value = event.get(name)
        if value is None and default is not REQUIRED:
            clean[name] = default
            continue
        try:
            clean[name] = check(value, **kwargs)
        except v.Invalid as exc:
            errors.add(name, exc.message)


def event_validate(event, *, oldest, newest, errors: v.Errors) -> dict | None:
    """Clean values of one event, or None with every bad field filed in ``errors``."""
    if not isinstance(event, dict):
        errors.add(None, "Each event must be a JSON object.")
        return None
    for key in event:
        if key not in EVENT_FIELDS:
            errors.add(str(key), "Unknown field.")
    clean = {}
    _apply(HEAD_RULES, event, clean, errors)
    # The agent's name is needed unless a (valid) marketplace reference names the agent.
    agent_required = clean.get("agent_ref") is None and "agent_ref" not in errors
    clean["agent"] = errors.check(
        "agent", v.text, event.get("agent"), max_length=limits.LABEL_CHARS, required=agent_required
    )
    try:
        clean["started_at"] = _started_at(event.get("started_at"), oldest=oldest, newest=newest)
    except v.Invalid as exc:
        errors.add("started_at", exc.message)
    _apply(FIELD_RULES, event, clean, errors)
    tokens = {name: clean.get(name) for name in TOKEN_FIELDS}
    if tokens["input_tokens"] is not None and tokens["output_tokens"] is not None:
        if tokens["input_tokens"] + tokens["output_tokens"] > limits.MAX_TOKENS:
            errors.add("output_tokens", f"input_tokens + output_tokens is at most {limits.MAX_TOKENS}.")
        if (tokens["cached_input_tokens"] or 0) > tokens["input_tokens"]:
            errors.add("cached_input_tokens", "Cannot exceed input_tokens (input tokens include cached ones).")
        if (tokens["reasoning_tokens"] or 0) > tokens["output_tokens"]:
            errors.add("reasoning_tokens", "Cannot exceed output_tokens (output tokens include reasoning ones).")
    if errors:
        return None
    error_type = clean["error_type"]
    if clean["status"] == "error" and not error_type:
        error_type = "error"
    return {
        "client_id": clean["id"],
        "agent_name": clean["agent"],
        "agent_ref": clean["agent_ref"],
        "version": clean["agent_version"],
        "model": clean["model"],
        "operation": clean["operation"],
        "variant_id": clean["variant_id"],
        "trace_id": clean["trace_id"],
        "span_id": clean["span_id"],
        "started_at": clean["started_at"],
        "duration_ms": clean["duration_ms"],
        "status": clean["status"],
        "error_type": error_type,
        "error_message": clean["error_message"],
        **tokens,
        "cost": clean["cost"],
        "quality": clean["quality"],
    }
