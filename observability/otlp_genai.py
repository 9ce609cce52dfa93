"""What a GenAI span carries beyond usage: kind, messages, tool calls, session, user, tags.

Read from the OpenTelemetry GenAI semantic conventions (current and older forms) and from the
OpenInference attributes that Arize Phoenix instrumentations send:

- kind: ``gen_ai.operation.name`` (invoke_agent/create_agent -> agent; chat, text_completion,
  generate_content -> llm; execute_tool -> tool; embeddings -> embedding), else
  ``openinference.span.kind`` (AGENT, LLM, TOOL, RETRIEVER, RERANKER, CHAIN, EMBEDDING,
  GUARDRAIL, EVALUATOR), else llm for a span naming a model or reporting tokens, else agent;
- input: ``gen_ai.system_instructions`` + ``gen_ai.input.messages``; the older per-message span
  events (``gen_ai.system.message``, ``gen_ai.user.message``, ``gen_ai.assistant.message``,
  ``gen_ai.tool.message``); ``gen_ai.prompt.N.*`` attributes; OpenInference
  ``llm.input_messages.N.message.role/content`` or ``input.value``; a tool's
  ``gen_ai.tool.call.arguments``;
- output: ``gen_ai.output.messages``; ``gen_ai.choice`` events; ``gen_ai.completion.N.*``;
  ``llm.output_messages.N.*`` or ``output.value``; a tool's ``gen_ai.tool.call.result``;
- session: ``session.id`` (else ``gen_ai.conversation.id``); end user: ``user.id`` or
  ``enduser.id``; tags: ``tag.tags``; request parameters: ``gen_ai.request.*`` (temperature,
  max_tokens, top_p, ...) or OpenInference ``llm.invocation_parameters``.
The attributes turned into the input and output are not repeated in the span's attributes.
"""

from __future__ import annotations

import json
import re

OPERATION_KINDS = {
    "invoke_agent": "agent",
    "create_agent": "agent",
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "execute_tool": "tool",
    "embeddings": "embedding",
}
OPENINFERENCE_KINDS = {
    "AGENT": "agent",
    "LLM": "llm",
    "TOOL": "tool",
    "RETRIEVER": "retrieval",
    "RERANKER": "retrieval",
    "CHAIN": "chain",
    "EMBEDDING": "embedding",
    "GUARDRAIL": "guardrail",
    "EVALUATOR": "evaluator",
}
MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
REQUEST_PARAMS = (
    "temperature",
    "max_tokens",
    "top_p",
    "top_k",
    "frequency_penalty",
    "presence_penalty",
    "stop_sequences",
    "seed",
    "choice.count",
)
INDEXED = re.compile(r"^(?P<prefix>[a-z_.]+?)\.(?P<n>\d+)\.(?P<rest>.+)$")
PAYLOAD_PREFIXES = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.prompt.",
    "gen_ai.completion.",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "llm.input_messages.",
    "llm.output_messages.",
    "input.value",
    "output.value",
    "llm.invocation_parameters",
)


def is_genai(attrs: dict) -> bool:
    return any(
        key.startswith(("gen_ai.", "llm.", "openinference.")) or key in ("input.value", "output.value") for key in attrs
    )


def _json_or_text(value):
    """Messages arrive as JSON text (the conventions' recommended form) or as structured values."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("[", "{"):
            try:
                return json.loads(text)
            except ValueError:
                return value
    return value


def _indexed(attrs: dict, prefix: str) -> list[dict]:
    """``prefix.N.a.b`` attributes as a list of ``{"a.b": value}`` ordered by N."""
    items: dict[int, dict] = {}
    for key, value in attrs.items():
        if not key.startswith(prefix + "."):
            continue
        match = INDEXED.match(key)
        if match and match["prefix"] == prefix:
            items.setdefault(int(match["n"]), {})[match["rest"]] = value
    return [items[n] for n in sorted(items)]


def _openinference_messages(attrs: dict, prefix: str) -> list[dict] | None:
    messages = []
    for item in _indexed(attrs, prefix):
        message = {"role": item.get("message.role", "")}
        if "message.content" in item:
            message["content"] = item["message.content"]
        tool_calls = [
            {"name": value, "arguments": item.get(key.replace("function.name", "function.arguments"))}
            for key, value in item.items()
            if key.startswith("message.tool_calls.") and key.endswith("function.name")
        ]
        if tool_calls:
            message["tool_calls"] = tool_calls
        messages.append(message)
    return messages or None


def _legacy_messages(attrs: dict, prefix: str) -> list[dict] | None:
    messages = [{"role": item.get("role", ""), "content": item.get("content")} for item in _indexed(attrs, prefix)]
    return messages or None


def _event_messages(span, attr_values) -> tuple[list | None, list | None]:
    inputs, outputs = [], []
    for event in span.events:
        if event.name in MESSAGE_EVENTS:
            values = attr_values(event.attributes)
            message = {"role": values.get("role") or MESSAGE_EVENTS[event.name]}
            content = values.get("content", values.get("gen_ai.event.content"))
            if content is not None:
                message["content"] = _json_or_text(content)
            if values.get("tool_calls") is not None:
                message["tool_calls"] = _json_or_text(values["tool_calls"])
            inputs.append(message)
        elif event.name == "gen_ai.choice":
            values = attr_values(event.attributes)
            choice = _json_or_text(values.get("message", values.get("gen_ai.event.content")))
            if isinstance(choice, dict):
                outputs.append(choice)
            else:
                outputs.append({"role": "assistant", "content": choice})
    return inputs or None, outputs or None


def span_kind(attrs: dict) -> str:
    operation = attrs.get("gen_ai.operation.name")
    if operation in OPERATION_KINDS:
        return OPERATION_KINDS[operation]
    openinference = str(attrs.get("openinference.span.kind") or "").upper()
    if openinference in OPENINFERENCE_KINDS:
        return OPENINFERENCE_KINDS[openinference]
    if operation:
        return "other"
    if any(k in attrs for k in ("gen_ai.request.model", "gen_ai.response.model", "llm.model_name")) or any(
        k.startswith(("gen_ai.usage.", "llm.token_count.")) for k in attrs
    ):
        return "llm"
    return "agent"


def span_fields(span, attrs: dict, attr_values) -> dict:
    """The span fields of a batch event (``kind``, ``input``, ``output``, ``attributes``, ...)."""
    kind = span_kind(attrs)
    event_in, event_out = _event_messages(span, attr_values)
    system = _json_or_text(attrs.get("gen_ai.system_instructions"))
    messages = (
        _json_or_text(attrs.get("gen_ai.input.messages"))
        or event_in
        or _openinference_messages(attrs, "llm.input_messages")
        or _legacy_messages(attrs, "gen_ai.prompt")
    )
    if system is not None:
        system_message = {"role": "system", "parts": system if isinstance(system, list) else [system]}
        messages = [system_message, *(messages if isinstance(messages, list) else [messages] if messages else [])]
    output = (
        _json_or_text(attrs.get("gen_ai.output.messages"))
        or event_out
        or _openinference_messages(attrs, "llm.output_messages")
        or _legacy_messages(attrs, "gen_ai.completion")
    )
    if kind == "tool":
        messages = messages or _json_or_text(attrs.get("gen_ai.tool.call.arguments"))
        output = output or _json_or_text(attrs.get("gen_ai.tool.call.result"))
    if messages is None and attrs.get("input.value") is not None:
        messages = _json_or_text(attrs["input.value"])
    if output is None and attrs.get("output.value") is not None:
        output = _json_or_text(attrs["output.value"])

    params = {name: attrs[f"gen_ai.request.{name}"] for name in REQUEST_PARAMS if f"gen_ai.request.{name}" in attrs}
    invocation = _json_or_text(attrs.get("llm.invocation_parameters"))
    if not params and isinstance(invocation, dict):
        params = invocation
    tags = attrs.get("tag.tags")
    fields = {
        "kind": kind,
        "name": (span.name or "")[:200],
        "attributes": {k: v for k, v in attrs.items() if not k.startswith(PAYLOAD_PREFIXES)},
        "request_params": params,
        "session_id": str(attrs.get("session.id") or attrs.get("gen_ai.conversation.id") or "")[:200],
        "user_id": str(attrs.get("user.id") or attrs.get("enduser.id") or "")[:200],
    }
    if isinstance(tags, list):
        fields["tags"] = [str(tag)[:64] for tag in tags if str(tag).strip()][:50]
    if messages is not None:
        fields["input"] = messages
    if output is not None:
        fields["output"] = output
    return fields
