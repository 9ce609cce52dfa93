"""OTLP/HTTP traces -> spans, following the OpenTelemetry GenAI semantic conventions and
OpenInference (kinds, messages and tool calls: ``observability.otlp_genai``).

A GenAI span carries ``gen_ai.*``, ``llm.*``, ``openinference.*``, ``input.value`` or
``output.value`` attributes. Other spans (HTTP handlers, database calls) are kept, as spans of
kind ``other``, when they sit below a GenAI span of the same export request (an HTTP call made
by a tool is part of the agent's tree); the others are accepted and ignored. A GenAI span whose
parent is such an ignored span (the web request around an agent) is the root of its tree: its
original parent id stays in the attribute ``crucible.otel_parent_span_id``. A span of kind
``other`` is never an execution. Mapping:

- id: ``otlp:<trace id>:<span id>`` (so an exporter's retry is stored once)
- agent: ``gen_ai.agent.name``, else the resource's ``service.name``, else the span name
- model: ``gen_ai.response.model``, else ``gen_ai.request.model``
- operation: ``gen_ai.operation.name``
- tokens: ``gen_ai.usage.input_tokens`` / ``gen_ai.usage.output_tokens`` (older
  ``gen_ai.usage.prompt_tokens`` / ``gen_ai.usage.completion_tokens`` too), cached input from
  ``gen_ai.usage.cache_read.input_tokens`` (or ``gen_ai.usage.input_tokens.cached``,
  ``gen_ai.usage.cache_read_input_tokens``), reasoning from ``gen_ai.usage.reasoning.output_tokens``
  (or ``gen_ai.usage.output_tokens.reasoning``)
- status: span status ERROR -> error, with ``error.type`` (else the exception event's
  ``exception.type``) and the status message (else ``exception.message``)
- Crucible links (optional): ``crucible.agent.ref``, ``crucible.agent.version`` (or
  ``gen_ai.agent.version``), ``crucible.variant.id``, ``crucible.quality``, ``crucible.cost``.
"""

from __future__ import annotations

import base64
import datetime as dt

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from crucible import limits
from observability import conf
from observability.ingest import executions_ingest
from observability.models import ExecutionSource
from observability.otlp_genai import is_genai, span_fields

INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
OUTPUT_TOKENS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")
CACHED_TOKENS = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.input_tokens.cached",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
REASONING_TOKENS = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.output_tokens.reasoning",
    "gen_ai.usage.reasoning_tokens",
)


class OtlpError(Exception):
    pass


class TooManySpans(OtlpError):
    pass


def _hex_ids_to_base64(data):
    """OTLP/JSON writes trace and span ids as hex; protobuf's JSON mapping expects base64."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if key in ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id") and isinstance(
                value, str
            ):
                try:
                    value = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise OtlpError(f"{key} must be hexadecimal.") from None
            else:
                value = _hex_ids_to_base64(value)
            out[key] = value
        return out
    if isinstance(data, list):
        return [_hex_ids_to_base64(item) for item in data]
    return data


def parse_protobuf(body: bytes) -> ExportTraceServiceRequest:
    message = ExportTraceServiceRequest()
    try:
        message.ParseFromString(body)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise OtlpError(f"The body is not an OTLP ExportTraceServiceRequest protobuf: {exc}") from None
    return message


def parse_json(data) -> ExportTraceServiceRequest:
    if not isinstance(data, dict):
        raise OtlpError("The body must be an OTLP ExportTraceServiceRequest JSON object.")
    message = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(_hex_ids_to_base64(data), message, ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise OtlpError(f"Malformed OTLP JSON: {exc}") from None
    return message


def _value(any_value):
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    if kind == "bytes_value":
        return any_value.bytes_value.hex()
    return getattr(any_value, kind)


def _attrs(key_values) -> dict:
    return {kv.key: _value(kv.value) for kv in key_values}


def _first(attrs: dict, names):
    for name in names:
        if name in attrs and attrs[name] is not None:
            return attrs[name]
    return None


def _int_or_raw(value):
    """Token counts as ints (OTLP/JSON may carry them as strings); anything else is left for the
    event validator to reject with a per-span error."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


def span_events(request: ExportTraceServiceRequest) -> tuple[list[dict], int]:
    """(span events, spans seen) from an export request (see the module docstring)."""
    spans = []  # (span, attrs, resource, genai)
    for resource_spans in request.resource_spans:
        resource = _attrs(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                attrs = _attrs(span.attributes)
                spans.append((span, attrs, resource, is_genai(attrs)))
    by_id = {(item[0].trace_id, item[0].span_id): item for item in spans}

    def below_genai(span) -> bool:
        seen, key = set(), (span.trace_id, span.parent_span_id)
        while key[1] and key in by_id and key not in seen:
            seen.add(key)
            parent, _, _, genai = by_id[key]
            if genai:
                return True
            key = (parent.trace_id, parent.parent_span_id)
        return False

    kept = {(span.trace_id, span.span_id) for span, _, _, genai in spans if genai or below_genai(span)}
    events = []
    for span, attrs, resource, genai in spans:
        if (span.trace_id, span.span_id) not in kept:
            continue
        parent_key = (span.trace_id, span.parent_span_id)
        event = _span_event(span, attrs, resource, genai=genai, parent_in_request=parent_key in kept)
        if span.parent_span_id and parent_key in by_id and parent_key not in kept:
            event.pop("parent_span_id", None)  # below an ignored span: the root of its tree
            event["attributes"]["crucible.otel_parent_span_id"] = span.parent_span_id.hex()
            event["agent"] = event.get("agent") or _agent_of(attrs, resource, span)
        events.append(event)
    return events, len(spans)


def _agent_of(attrs: dict, resource: dict, span) -> str:
    return str(_first(attrs, ("gen_ai.agent.name",)) or resource.get("service.name") or span.name or "unknown")[:200]


def _span_event(span, attrs: dict, resource: dict, *, genai: bool, parent_in_request: bool) -> dict:
    trace_id = span.trace_id.hex()
    span_id = span.span_id.hex()
    start = span.start_time_unix_nano
    end = span.end_time_unix_nano
    event = {
        "id": f"otlp:{trace_id}:{span_id}",
        "model": _first(attrs, ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")) or "",
        "operation": attrs.get("gen_ai.operation.name") or "",
        "trace_id": trace_id,
        "span_id": span_id,
        "started_at": dt.datetime.fromtimestamp(start / 1e9, tz=dt.UTC).isoformat() if start else None,
        "duration_ms": (end - start) / 1e6 if start and end else None,
        "status": "error" if span.status.code == Status.STATUS_CODE_ERROR else "success",
        "input_tokens": _int_or_raw(_first(attrs, INPUT_TOKENS) or 0),
        "output_tokens": _int_or_raw(_first(attrs, OUTPUT_TOKENS) or 0),
        "cached_input_tokens": _int_or_raw(_first(attrs, CACHED_TOKENS) or 0),
        "reasoning_tokens": _int_or_raw(_first(attrs, REASONING_TOKENS) or 0),
    }
    if genai:
        event.update(span_fields(span, attrs, _attrs))
    else:
        event.update(kind="other", name=(span.name or "")[:200], attributes=attrs)
    if span.parent_span_id:
        event["parent_span_id"] = span.parent_span_id.hex()
    # A child's agent is its ancestors' (ingest.spans) unless it names its own.
    if not (parent_in_request and not attrs.get("gen_ai.agent.name")):
        event["agent"] = _agent_of(attrs, resource, span)
    if attrs.get("crucible.time_to_first_token_ms") is not None:
        event["time_to_first_token_ms"] = attrs["crucible.time_to_first_token_ms"]
    if event["status"] == "error":
        exception = next((_attrs(e.attributes) for e in span.events if e.name == "exception"), {})
        event["error_type"] = str(attrs.get("error.type") or exception.get("exception.type") or "error")[:200]
        event["error_message"] = str(span.status.message or exception.get("exception.message") or "")[
            : limits.ERROR_MESSAGE_CHARS
        ]
    ref = attrs.get("crucible.agent.ref")
    if ref is not None:
        event["agent_ref"] = ref
    version = _first(attrs, ("crucible.agent.version", "gen_ai.agent.version"))
    if version is not None:
        event["agent_version"] = str(version)
    variant = attrs.get("crucible.variant.id")
    if variant is not None:
        event["variant_id"] = _int_or_raw(variant)
    for name, key in (("crucible.quality", "quality"), ("crucible.cost", "cost")):
        if attrs.get(name) is not None:
            event[key] = attrs[name]
    return event


def response(*, rejected: int, message: str, as_json: bool):
    reply = ExportTraceServiceResponse()
    if rejected:
        reply.partial_success.rejected_spans = rejected
        reply.partial_success.error_message = message
    if as_json:
        return json_format.MessageToDict(reply)
    return reply.SerializeToString()


def export_ingest(*, team, request: ExportTraceServiceRequest, api_key=None) -> tuple[int, str]:
    """Store the GenAI spans of an export request as executions (in batches of at most
    ``CRUCIBLE_OBS_MAX_BATCH_EVENTS``). Returns (rejected spans, message naming the first few with
    their bad fields). A span that is refused never fails the others."""
    events, seen = span_events(request)
    if seen > conf.MAX_OTLP_SPANS:
        raise TooManySpans(f"At most {conf.MAX_OTLP_SPANS} spans per export request.")
    rejected, messages = 0, []
    for start in range(0, len(events), conf.MAX_BATCH_EVENTS):
        results = executions_ingest(
            team=team,
            events=events[start : start + conf.MAX_BATCH_EVENTS],
            api_key=api_key,
            source=ExecutionSource.OTLP,
        )
        for result in results:
            if result["status"] != "error":
                continue
            rejected += 1
            if len(messages) < 5:
                span_id = events[start + result["index"]]["span_id"]
                problems = "; ".join(f"{field}: {' '.join(texts)}" for field, texts in result.get("fields", {}).items())
                messages.append(f"span {span_id}: {problems or result['message']}")
    return rejected, "; ".join(messages)
