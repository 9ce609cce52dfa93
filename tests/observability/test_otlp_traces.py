"""OTLP through the official OpenTelemetry SDK to a live server: a realistic agent trace with
messages and tool calls, the older message events, OpenInference attributes, and non-GenAI spans."""

import json

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

from crucible import services as core_services
from observability.models import Execution, HourlyRollup, ModelPrice, SpanPayload, Trace

pytestmark = pytest.mark.django_db(transaction=True)

PATH = "/api/v1/observability/otlp/v1/traces"


@pytest.fixture
def sdk(live_server, team):
    """(tracer, flush): spans go through the SDK's batch processor and OTLP/HTTP protobuf exporter."""
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
    exporter = OTLPSpanExporter(endpoint=live_server.url + PATH, headers={"Authorization": f"Bearer {key}"})
    provider = TracerProvider(resource=Resource.create({"service.name": "support-service"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    yield provider.get_tracer("support"), lambda: provider.force_flush(10_000)
    provider.shutdown()


def _chat(tracer, messages, answer, *, tokens):
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.set_attribute("gen_ai.request.temperature", 0.2)
        span.set_attribute("gen_ai.usage.input_tokens", tokens[0])
        span.set_attribute("gen_ai.usage.output_tokens", tokens[1])
        span.set_attribute("gen_ai.input.messages", json.dumps(messages))
        span.set_attribute("gen_ai.output.messages", json.dumps(answer))


def test_sdk_agent_trace_with_messages_and_tool_calls(sdk, team):
    tracer, flush = sdk
    question = [{"role": "user", "parts": [{"type": "text", "content": "Where is order 42? Mail a@example.com"}]}]
    call = [{"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "lookup_order"}]}]
    answer = [{"role": "assistant", "parts": [{"type": "text", "content": "It shipped."}]}]
    with tracer.start_as_current_span("POST /chat"):  # the web request around the agent: not stored
        with tracer.start_as_current_span("invoke_agent support-agent") as agent:
            agent.set_attribute("gen_ai.operation.name", "invoke_agent")
            agent.set_attribute("gen_ai.agent.name", "support-agent")
            agent.set_attribute("session.id", "conv-7")
            agent.set_attribute("user.id", "customer-99")
            agent.set_attribute("gen_ai.system_instructions", json.dumps([{"type": "text", "content": "Be brief."}]))
            _chat(tracer, question, call, tokens=(120, 20))
            with tracer.start_as_current_span("execute_tool lookup_order") as tool:
                tool.set_attribute("gen_ai.operation.name", "execute_tool")
                tool.set_attribute("gen_ai.tool.name", "lookup_order")
                tool.set_attribute("gen_ai.tool.call.id", "call_1")
                tool.set_attribute("gen_ai.tool.call.arguments", json.dumps({"order": 42}))
                tool.set_attribute("gen_ai.tool.call.result", json.dumps({"status": "shipped"}))
                with tracer.start_as_current_span("GET /orders/42"):  # an HTTP call of the tool: kept
                    pass
            _chat(tracer, question + call, answer, tokens=(180, 15))
    assert flush()

    spans = {e.name: e for e in Execution.objects.filter(team=team)}
    assert set(spans) == {
        "invoke_agent support-agent",
        "chat gpt-4o",
        "execute_tool lookup_order",
        "GET /orders/42",
    }  # both chats share a name: the dict kept one; counted below
    assert Execution.objects.filter(team=team).count() == 5
    agent = spans["invoke_agent support-agent"]
    tool = spans["execute_tool lookup_order"]
    assert agent.kind == "agent" and agent.parent_span_id == ""  # its web request was not stored
    assert agent.attributes["crucible.otel_parent_span_id"]
    assert (tool.kind, tool.parent_span_id) == ("tool", agent.span_id)
    assert (spans["GET /orders/42"].kind, spans["GET /orders/42"].parent_span_id) == ("other", tool.span_id)
    chats = Execution.objects.filter(team=team, kind="llm").order_by("started_at")
    assert [c.parent_span_id for c in chats] == [agent.span_id] * 2
    assert {e.agent_name for e in Execution.objects.filter(team=team)} == {"support-agent"}  # inherited
    assert chats[0].request_params == {"temperature": 0.2}
    first = SpanPayload.objects.get(execution=chats[0])
    assert first.input == question_redacted(question) and first.output == call
    assert SpanPayload.objects.get(execution=tool).input == {"order": 42}
    assert SpanPayload.objects.get(execution=tool).output == {"status": "shipped"}
    assert SpanPayload.objects.get(execution=agent).input == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]}
    ]
    trace = Trace.objects.get(team=team)
    assert (trace.span_count, trace.session_id, trace.end_user_id) == (5, "conv-7", "customer-99")
    assert (trace.input_tokens, trace.output_tokens, trace.root_span_id) == (300, 35, agent.span_id)
    hourly = HourlyRollup.objects.filter(team=team)
    assert sum(r.executions for r in hourly) == 1  # one agent run, not five spans
    assert sum(r.input_tokens for r in hourly) == 300


def question_redacted(question):
    text = question[0]["parts"][0]["content"].replace("a@example.com", "[REDACTED:email]")
    return [{"role": "user", "parts": [{"type": "text", "content": text}]}]


def test_sdk_older_message_events_and_errors(sdk, team):
    tracer, flush = sdk
    with tracer.start_as_current_span("chat gpt-4o-mini") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.request.model", "gpt-4o-mini")
        span.add_event("gen_ai.system.message", {"content": "You are terse."})
        span.add_event("gen_ai.user.message", {"content": "Hi"})
        span.add_event("gen_ai.choice", {"index": 0, "message": json.dumps({"role": "assistant", "content": "Hello"})})
        span.set_status(Status(StatusCode.ERROR, "Traceback (most recent call last):\n  File agent.py\nTimeoutError"))
        span.set_attribute("error.type", "TimeoutError")
    assert flush()
    execution = Execution.objects.get(team=team)
    assert (execution.kind, execution.status, execution.error_type) == ("llm", "error", "TimeoutError")
    assert "Traceback" in execution.error_message
    payload = SpanPayload.objects.get(execution=execution)
    assert payload.input == [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}]
    assert payload.output == [{"role": "assistant", "content": "Hello"}]


def test_sdk_openinference_attributes(sdk, team):
    tracer, flush = sdk
    with tracer.start_as_current_span("Agent.run") as agent:
        agent.set_attribute("openinference.span.kind", "AGENT")
        agent.set_attribute("input.value", "What is 2+2?")
        agent.set_attribute("output.value", json.dumps({"answer": 4}))
        agent.set_attribute("input.mime_type", "text/plain")
        agent.set_attribute("session.id", "s-1")
        agent.set_attribute("user.id", "u-1")
        agent.set_attribute("tag.tags", ["math", "demo"])
        with tracer.start_as_current_span("ChatCompletion") as llm:
            llm.set_attribute("openinference.span.kind", "LLM")
            llm.set_attribute("llm.model_name", "gpt-4o")
            llm.set_attribute("llm.token_count.prompt", 30)
            llm.set_attribute("llm.token_count.completion", 5)
            llm.set_attribute("llm.invocation_parameters", json.dumps({"temperature": 0}))
            llm.set_attribute("llm.input_messages.0.message.role", "system")
            llm.set_attribute("llm.input_messages.0.message.content", "Add numbers.")
            llm.set_attribute("llm.input_messages.1.message.role", "user")
            llm.set_attribute("llm.input_messages.1.message.content", "What is 2+2?")
            llm.set_attribute("llm.output_messages.0.message.role", "assistant")
            llm.set_attribute("llm.output_messages.0.message.content", "4")
        with tracer.start_as_current_span("search") as retriever:
            retriever.set_attribute("openinference.span.kind", "RETRIEVER")
    assert flush()
    agent = Execution.objects.get(team=team, kind="agent")
    llm = Execution.objects.get(team=team, kind="llm")
    assert Execution.objects.get(team=team, name="search").kind == "retrieval"
    assert (llm.model, llm.input_tokens, llm.output_tokens, llm.request_params) == ("gpt-4o", 30, 5, {"temperature": 0})
    assert llm.parent_span_id == agent.span_id and llm.cost is not None
    assert SpanPayload.objects.get(execution=llm).input == [
        {"role": "system", "content": "Add numbers."},
        {"role": "user", "content": "What is 2+2?"},
    ]
    assert SpanPayload.objects.get(execution=llm).output == [{"role": "assistant", "content": "4"}]
    payload = SpanPayload.objects.get(execution=agent)
    assert (payload.input, payload.output) == ("What is 2+2?", {"answer": 4})
    trace = Trace.objects.get(team=team)
    assert (trace.session_id, trace.end_user_id, trace.tags) == ("s-1", "u-1", ["demo", "math"])
    assert (trace.input_tokens, trace.output_tokens) == (30, 5)


def test_spans_without_genai_are_ignored(sdk, team):
    tracer, flush = sdk
    with tracer.start_as_current_span("GET /health"):
        with tracer.start_as_current_span("SELECT 1"):
            pass
    assert flush()
    assert not Execution.objects.filter(team=team).exists()
