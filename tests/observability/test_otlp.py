"""OTLP/HTTP with the official OpenTelemetry Python SDK and exporter against a live server."""

import json

import pytest
import requests
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.trace import Status, StatusCode

from crucible import services as core_services
from observability.models import Execution, HourlyRollup, ModelPrice

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/api/v1/observability/otlp/v1/traces"


def _provider(url, key, exporter_list=None):
    exporter = OTLPSpanExporter(endpoint=url + PATH, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout-bot"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    if exporter_list is not None:
        exporter_list.append(exporter)
    return provider


def test_sdk_exports_genai_spans_as_executions(live_server, team):
    # Transactional tests flush the tables between tests, seeded prices included: bring our own.
    ModelPrice.objects.get_or_create(
        pattern="gpt-4o*",
        effective_from="2024-01-01",
        defaults={
            "input_per_million": "2.5",
            "cached_input_per_million": "1.25",
            "output_per_million": "10",
            "reasoning_per_million": "10",
        },
    )
    _, key = core_services.api_key_create(team=team, name="otel")
    provider = _provider(live_server.url, key)
    tracer = provider.get_tracer("test-agent")

    with tracer.start_as_current_span("invoke_agent support-agent") as span:
        span.set_attribute("gen_ai.operation.name", "invoke_agent")
        span.set_attribute("gen_ai.agent.name", "support-agent")
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.set_attribute("gen_ai.response.model", "gpt-4o-2024-08-06")
        span.set_attribute("gen_ai.usage.input_tokens", 1200)
        span.set_attribute("gen_ai.usage.output_tokens", 300)
        span.set_attribute("gen_ai.usage.cache_read.input_tokens", 200)
    with tracer.start_as_current_span("chat legacy") as span:
        # older attribute names, and no agent name: the service name is used
        span.set_attribute("gen_ai.system", "openai")
        span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
        span.set_attribute("gen_ai.usage.prompt_tokens", 50)
        span.set_attribute("gen_ai.usage.completion_tokens", 7)
    with tracer.start_as_current_span("chat failing") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.agent.name", "support-agent")
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.set_attribute("error.type", "RateLimitError")
        span.set_status(Status(StatusCode.ERROR, "429 from provider"))
    with tracer.start_as_current_span("GET /health"):
        pass  # not a GenAI span: ignored
    provider.shutdown()

    rows = {e.agent_name + ":" + e.model: e for e in Execution.objects.filter(team=team)}
    assert len(rows) == 3, rows
    agent = rows["support-agent:gpt-4o-2024-08-06"]
    assert agent.source == "otlp" and agent.operation == "invoke_agent"
    assert (agent.input_tokens, agent.output_tokens, agent.cached_input_tokens) == (1200, 300, 200)
    assert agent.cost is not None and agent.cost > 0  # priced by the gpt-4o* price
    assert len(agent.trace_id) == 32 and len(agent.span_id) == 16
    assert agent.duration_ms >= 0
    legacy = rows["checkout-bot:gpt-4o-mini"]
    assert (legacy.input_tokens, legacy.output_tokens) == (50, 7)
    failing = rows["support-agent:gpt-4o"]
    assert failing.status == "error" and failing.error_type == "RateLimitError"
    assert failing.error_message == "429 from provider"
    assert sum(r.executions for r in HourlyRollup.objects.filter(team=team)) == 3


def test_gzip_compressed_export(live_server, team):
    from opentelemetry.exporter.otlp.proto.http import Compression

    _, key = core_services.api_key_create(team=team, name="otel")
    provider = TracerProvider(resource=Resource.create({"service.name": "zipped"}))
    exporter = OTLPSpanExporter(
        endpoint=live_server.url + PATH, headers={"Authorization": f"Bearer {key}"}, compression=Compression.Gzip
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("chat") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.request.model", "claude-sonnet-4-5")
        span.set_attribute("gen_ai.usage.input_tokens", 42)
    provider.shutdown()
    execution = Execution.objects.get(team=team)
    assert execution.agent_name == "zipped" and execution.input_tokens == 42


def test_exporter_retry_is_stored_once(live_server, team):
    _, key = core_services.api_key_create(team=team, name="otel")
    exporters = []
    provider = TracerProvider(resource=Resource.create({"service.name": "svc"}))
    tracer = provider.get_tracer("t")
    span = tracer.start_span("chat")
    span.set_attribute("gen_ai.operation.name", "chat")
    span.set_attribute("gen_ai.request.model", "gpt-4o")
    span.end()
    exporter = OTLPSpanExporter(endpoint=live_server.url + PATH, headers={"Authorization": f"Bearer {key}"})
    exporters.append(exporter)
    assert exporter.export([span]) == SpanExportResult.SUCCESS
    assert exporter.export([span]) == SpanExportResult.SUCCESS  # the same span again
    exporter.shutdown()
    assert Execution.objects.filter(team=team).count() == 1
    assert HourlyRollup.objects.get(team=team).executions == 1


def test_exporter_without_valid_key_is_refused(live_server, team):
    provider = TracerProvider()
    span = provider.get_tracer("t").start_span("chat")
    span.set_attribute("gen_ai.request.model", "gpt-4o")
    span.end()
    exporter = OTLPSpanExporter(endpoint=live_server.url + PATH, headers={"Authorization": "Bearer crk_nope_nope"})
    assert exporter.export([span]) == SpanExportResult.FAILURE
    exporter.shutdown()
    assert Execution.objects.count() == 0


def _json_span(**attrs):
    return {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "chat",
        "startTimeUnixNano": "1",
        "endTimeUnixNano": "2",
        "attributes": [{"key": k, "value": v} for k, v in attrs.items()],
    }


def test_otlp_json_with_partial_rejection(live_server, team):
    import time

    _, key = core_services.api_key_create(team=team, name="otel")
    now_ns = time.time_ns()
    good = _json_span(
        **{
            "gen_ai.request.model": {"stringValue": "gpt-4o"},
            "gen_ai.usage.input_tokens": {"intValue": "10"},
            "gen_ai.usage.output_tokens": {"intValue": "5"},
        }
    )
    good["startTimeUnixNano"], good["endTimeUnixNano"] = str(now_ns - 2_000_000_000), str(now_ns)
    bad = _json_span(
        **{"gen_ai.request.model": {"stringValue": "gpt-4o"}, "gen_ai.usage.input_tokens": {"intValue": "-3"}}
    )
    bad["spanId"] = "eee19b7ec3c1b175"
    bad["startTimeUnixNano"], bad["endTimeUnixNano"] = str(now_ns - 1000), str(now_ns)
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-agent"}}]},
                "scopeSpans": [{"spans": [good, bad]}],
            }
        ]
    }
    response = requests.post(
        live_server.url + PATH,
        data=json.dumps(body),
        timeout=10,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert "input_tokens" in response.json()["partialSuccess"]["errorMessage"]
    execution = Execution.objects.get(team=team)
    assert execution.agent_name == "json-agent" and execution.duration_ms == pytest.approx(2000, abs=1)
    assert execution.trace_id == "5b8efff798038103d269b633813fc60c"


@pytest.mark.parametrize(
    "content_type,body",
    [
        ("application/x-protobuf", b"\xff\xff\xff not a protobuf"),
        ("application/json", b'{"resourceSpans": "nope"}'),
        ("application/json", b"{broken"),
        ("text/plain", b"hello"),
    ],
)
def test_malformed_otlp_is_a_clear_error(live_server, team, content_type, body):
    _, key = core_services.api_key_create(team=team, name="otel")
    response = requests.post(
        live_server.url + PATH,
        data=body,
        timeout=10,
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
    )
    assert response.status_code in (400, 415)
    assert response.json()["code"] in ("parse_error", "unsupported_media_type")
    assert Execution.objects.count() == 0


def test_bad_gzip_and_unknown_encoding(live_server, team):
    _, key = core_services.api_key_create(team=team, name="otel")
    for encoding, body in [("gzip", b"not gzip at all"), ("br", b"\x00")]:
        response = requests.post(
            live_server.url + PATH,
            data=body,
            timeout=10,
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/x-protobuf",
                "Content-Encoding": encoding,
            },
        )
        assert response.status_code == 400, encoding
    assert Execution.objects.count() == 0
