"""Ingest, step 1: one event -> clean values, every bad field of it named at once.

Plain Python, no query: this runs for each of up to a thousand events per request. Limits come
from ``crucible.limits`` (the same as for experiment results and build reports).
"""

from __future__ import annotations

from crucible import limits
from crucible import validation as v
from observability import conf
from observability.models import SpanKind

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
        # Spans (see docs/observability.md, "Traces and spans")
        "parent_span_id",
        "kind",
        "name",
        "ended_at",
        "input",
        "output",
        "attributes",
        "request_params",
        "time_to_first_token_ms",
        "session_id",
        "user_id",
        "tags",
    }
)
SPAN_KINDS = tuple(SpanKind.values)
MAX_TAGS = 50
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


def _kind(value):
    if value not in SPAN_KINDS:
        raise v.Invalid(f"Must be one of: {', '.join(SPAN_KINDS)}.")
    return value


def _tags(value):
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise v.Invalid(f"Must be a list of at most {MAX_TAGS} tags.")
    tags = [v.text(tag, max_length=64, required=True) for tag in value]
    return sorted(set(tags))


def _json_object(value):
    if not isinstance(value, dict):
        raise v.Invalid("Must be a JSON object.")
    return value


def _any_json(value):
    return value


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
    ("agent_ref", _agent_ref, None, {}),
]
FIELD_RULES = [
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
SPAN_RULES = [
    ("parent_span_id", _hex, "", {"length": 16}),
    ("kind", _kind, SpanKind.AGENT.value, {}),
    ("name", v.text, "", {"max_length": limits.LABEL_CHARS}),
    ("time_to_first_token_ms", v.number, None, {"low": 0, "high": limits.MAX_DURATION_MS}),
    ("session_id", v.text, "", {"max_length": limits.LABEL_CHARS}),
    ("user_id", v.text, "", {"max_length": limits.LABEL_CHARS}),
    ("tags", _tags, [], {}),
    ("attributes", _json_object, {}, {}),
    ("request_params", _json_object, {}, {}),
    ("input", _any_json, None, {}),
    ("output", _any_json, None, {}),
]
SPAN_FIELDS = frozenset(name for name, *_ in SPAN_RULES)


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
    """Clean values of one event, or None with every bad field filed in ``errors``.

    Most events are valid: ``_event_fast`` checks only the fields the event sent, with the same
    checks, and stops at the first problem; then the full pass below runs and names every bad
    field (so the messages and their order are the full pass's, always)."""
    if type(event) is dict:
        row = _event_fast(event, oldest, newest)
        if row is not None:
            return row
    if not isinstance(event, dict):
        errors.add(None, "Each event must be a JSON object.")
        return None
    _keys_and_text(event, errors)
    clean = {}
    # A span sent with its trace and span ids may leave out its own id (they identify it).
    spanned = bool(event.get("trace_id")) and bool(event.get("span_id"))
    clean["id"] = errors.check("id", v.text, event.get("id"), max_length=limits.LABEL_CHARS, required=not spanned)
    _apply(HEAD_RULES, event, clean, errors)
    _apply(SPAN_RULES, event, clean, errors)
    # The agent's name is needed unless a (valid) marketplace reference names the agent, or the
    # span has a parent (it is then the agent of its ancestors, see ingest.spans).
    agent_required = clean.get("agent_ref") is None and "agent_ref" not in errors and not event.get("parent_span_id")
    clean["agent"] = errors.check(
        "agent", v.text, event.get("agent"), max_length=limits.LABEL_CHARS, required=agent_required
    )
    try:
        clean["started_at"] = _started_at(event.get("started_at"), oldest=oldest, newest=newest)
    except v.Invalid as exc:
        errors.add("started_at", exc.message)
    _apply(FIELD_RULES, event, clean, errors)
    _duration(event, clean, errors)
    if clean.get("parent_span_id") and not event.get("trace_id"):
        errors.add("parent_span_id", "A span with a parent needs its trace_id.")
    elif clean.get("parent_span_id") and clean["parent_span_id"] == clean.get("span_id"):
        errors.add("parent_span_id", "A span cannot be its own parent (a cycle).")
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
    return _row(clean)


# The rules by field name, and every rule field's value when the event leaves it out.
_RULES = {name: (check, kwargs) for name, check, _, kwargs in (*HEAD_RULES, *SPAN_RULES, *FIELD_RULES)}
_DEFAULTS = {name: default for name, _, default, _ in (*HEAD_RULES, *SPAN_RULES, *FIELD_RULES)}
_OWN_CHECKS = frozenset({"id", "agent", "started_at", "duration_ms", "ended_at"})
# The commonest checks written out for the fast pass (the same outcome as ``v.text``, ``_hex``
# and ``v.whole`` on the values they accept; any other value goes to the check function).
_TEXT_LIMITS = {name: kwargs["max_length"] for name, (check, kwargs) in _RULES.items() if check is v.text}
assert all(set(kwargs) == {"max_length"} for check, kwargs in _RULES.values() if check is v.text)
_HEX_LENGTHS = {name: kwargs["length"] for name, (check, kwargs) in _RULES.items() if check is _hex}
_STR_FAST = frozenset(_TEXT_LIMITS) | frozenset(_HEX_LENGTHS)
_WHOLE_BOUNDS = {name: (kwargs["low"], kwargs["high"]) for name, (check, kwargs) in _RULES.items() if check is v.whole}


class _Refused(Exception):
    """The fast pass met something it leaves to the full pass."""


def _event_fast(event: dict, oldest, newest) -> dict | None:
    """``event_validate`` for a valid event: the row, or None at the first problem (the full
    pass then names them all). The same checks, for the fields sent only (text, hexadecimal ids
    and whole numbers written out, the others by their check function)."""
    clean = _DEFAULTS.copy()
    rules = _RULES
    try:
        for name, value in event.items():
            kind = type(value)
            if kind is str:
                if not value.isascii() and not _encodable(value):
                    return None
                if name in _STR_FAST and _text_fast(name, value, clean):
                    continue
            elif kind is int and name in _WHOLE_BOUNDS:
                low, high = _WHOLE_BOUNDS[name]
                if not low <= value <= high:
                    return None
                clean[name] = value
                continue
            rule = rules.get(name)
            if rule is None:
                if name not in _OWN_CHECKS:
                    return None  # an unknown field
                continue
            if value is not None:
                clean[name] = rule[0](value, **rule[1])
        get = event.get
        spanned = bool(get("trace_id")) and bool(get("span_id"))
        clean["id"] = v.text(get("id"), max_length=limits.LABEL_CHARS, required=not spanned)
        agent_required = clean["agent_ref"] is None and not get("parent_span_id")
        clean["agent"] = v.text(get("agent"), max_length=limits.LABEL_CHARS, required=agent_required)
        clean["started_at"] = _started_at(get("started_at"), oldest=oldest, newest=newest)
        if get("ended_at") is None:
            clean["duration_ms"] = v.number(get("duration_ms"), low=0, high=limits.MAX_DURATION_MS, required=True)
        else:
            problems = v.Errors()
            _duration(event, clean, problems)
            if problems:
                raise _Refused
        parent = clean["parent_span_id"]
        if parent and (not get("trace_id") or parent == clean["span_id"]):
            raise _Refused
        inp, out = clean["input_tokens"], clean["output_tokens"]
        if inp + out > limits.MAX_TOKENS or clean["cached_input_tokens"] > inp or clean["reasoning_tokens"] > out:
            raise _Refused
    except (v.Invalid, _Refused):
        return None
    return _row(clean)


def _text_fast(name: str, value: str, clean: dict) -> bool:
    """A text or hexadecimal field checked as ``v.text`` and ``_hex`` would (True: done; False:
    not such a field). Raises ``_Refused`` for a value they refuse."""
    limit = _TEXT_LIMITS.get(name)
    if limit is not None:
        value = value.strip()
        if "\x00" in value or len(value) > limit:
            raise _Refused
        clean[name] = value
        return True
    limit = _HEX_LENGTHS.get(name)
    if limit is not None:
        value = value.strip()
        if "\x00" in value or len(value) > limit or not HEX.issuperset(value):
            raise _Refused
        clean[name] = value.lower()
        return True
    return False


def _row(clean: dict) -> dict:
    """The row of a valid event, from its clean values."""
    tokens = {name: clean[name] for name in TOKEN_FIELDS}
    error_type = clean["error_type"]
    if clean["status"] == "error" and not error_type:
        error_type = "error"
    client_id = clean["id"] or f"span:{clean['trace_id']}:{clean['span_id']}"
    return {
        "client_id": client_id,
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
        "parent_span_id": clean["parent_span_id"],
        "kind": clean["kind"],
        "name": clean["name"],
        "time_to_first_token_ms": clean["time_to_first_token_ms"],
        "session_id": clean["session_id"],
        "end_user_id": clean["user_id"],
        "tags": clean["tags"],
        "attributes": clean["attributes"],
        "request_params": clean["request_params"],
        "input": clean["input"],
        "output": clean["output"],
        # Whether the client named the trace and the span (else both are derived from the id).
        "trace_named": bool(clean["trace_id"]),
        "span_named": bool(clean["span_id"]),
    }


def _keys_and_text(event: dict, errors: v.Errors) -> None:
    """Unknown fields, and text that is not UTF-8 (ASCII text, most of it, cannot be)."""
    if not EVENT_FIELDS.issuperset(event):
        for key in event:
            if key not in EVENT_FIELDS:
                errors.add(str(key), "Unknown field.")
    for key, value in event.items():
        if isinstance(value, str) and not value.isascii() and not _encodable(value):
            errors.add(str(key), "Is not valid UTF-8 (a lone surrogate).")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _duration(event: dict, clean: dict, errors: v.Errors) -> None:
    """``duration_ms``, or ``ended_at`` (a span's end; before its start is an error)."""
    if event.get("duration_ms") is None and event.get("ended_at") is not None:
        try:
            ended = v.timestamp(event["ended_at"], required=True)
        except v.Invalid as exc:
            errors.add("ended_at", exc.message)
            return
        started = clean.get("started_at")
        if started is None:
            return
        if ended < started:
            errors.add("ended_at", "Is before started_at (a span cannot end before it starts).")
            return
        duration = (ended - started).total_seconds() * 1000
        if duration > limits.MAX_DURATION_MS:
            errors.add("ended_at", f"The span lasts more than {limits.MAX_DURATION_MS} ms.")
            return
        clean["duration_ms"] = duration
        return
    if event.get("ended_at") is not None:
        errors.add("ended_at", "Send duration_ms or ended_at, not both.")
    clean["duration_ms"] = errors.check(
        "duration_ms", v.number, event.get("duration_ms"), low=0, high=limits.MAX_DURATION_MS, required=True
    )
