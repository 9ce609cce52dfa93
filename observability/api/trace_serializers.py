"""Output shapes of the trace, span, session and end-user API (read-only)."""

from __future__ import annotations

from rest_framework import serializers

from crucible.api.fields import MoneyField
from crucible.api.serializers import OutputModelSerializer, OutputSerializer
from observability.models import Execution, SpanKind, SpanPayload, Trace
from observability.selectors import traces


class TraceSerializer(OutputModelSerializer):
    cost = MoneyField(help_text="USD of the trace's LLM and embedding spans, counted once; 8 decimal places.")

    class Meta:
        model = Trace
        fields = list(traces.TRACE_EXPORT_FIELDS)  # one list: the API's trace and an export row


def trace_document(tree: traces.TraceTree) -> dict:
    """A trace tree as the API gives it (``TraceTreeSerializer``'s shape): the JSON of the tree
    API and of the trace page's download."""
    return {
        "trace": TraceSerializer(tree.trace).data,
        "spans": [traces.span_as_json(span) for span in tree.spans],
        "orphans": tree.orphans,
        "truncated": tree.truncated,
        "total_ms": tree.total_ms,
    }


class SpanPayloadSerializer(serializers.ModelSerializer):
    input = serializers.JSONField(allow_null=True, help_text="Chat messages, tool arguments, any JSON or text.")
    output = serializers.JSONField(allow_null=True)

    class Meta:
        model = SpanPayload
        fields = ["input", "output", "input_truncated", "output_truncated", "redacted"]


class TreeSpanSerializer(serializers.Serializer):
    """One span of a trace tree (documentation of the shape: the tree is built as plain data)."""

    id = serializers.IntegerField(help_text="The span's row id: /api/v1/observability/spans/<id>/.")
    span_id = serializers.CharField()
    parent_span_id = serializers.CharField(help_text="Empty for a root span.")
    depth = serializers.IntegerField(help_text="0 for roots; spans are listed depth-first, children by start.")
    orphan = serializers.BooleanField(help_text="Its parent has not arrived (shown under the root).")
    children = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=SpanKind.choices)
    name = serializers.CharField()
    agent_name = serializers.CharField()
    model = serializers.CharField()
    status = serializers.CharField()
    error_type = serializers.CharField()
    error_message = serializers.CharField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField()
    offset_ms = serializers.FloatField(help_text="Milliseconds from the trace's first start (the waterfall).")
    duration_ms = serializers.FloatField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cached_input_tokens = serializers.IntegerField()
    reasoning_tokens = serializers.IntegerField()
    cost = MoneyField(allow_null=True)
    counts_usage = serializers.BooleanField(help_text="Its tokens and cost count in the trace's totals.")
    time_to_first_token_ms = serializers.FloatField(allow_null=True)
    attributes = serializers.JSONField()
    request_params = serializers.JSONField()
    agent_id = serializers.IntegerField(allow_null=True)
    agent_version_id = serializers.IntegerField(allow_null=True)
    variant_id = serializers.IntegerField(allow_null=True)
    build_id = serializers.IntegerField(allow_null=True)
    session_id = serializers.CharField()
    end_user_id = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    payload = SpanPayloadSerializer(allow_null=True, help_text="With ?payloads=true; null when none is stored.")


class TraceTreeSerializer(serializers.Serializer):
    trace = TraceSerializer()
    spans = TreeSpanSerializer(many=True)
    orphans = serializers.IntegerField(help_text="Spans whose parent has not arrived.")
    truncated = serializers.BooleanField(
        help_text="More spans than CRUCIBLE_OBS_TRACE_MAX_SPANS; the rest are left out."
    )
    total_ms = serializers.FloatField(help_text="From the first span's start to the last span's end.")


class SpanLinksSerializer(serializers.Serializer):
    agent_id = serializers.IntegerField(allow_null=True)
    agent_version_id = serializers.IntegerField(allow_null=True)
    variant_id = serializers.IntegerField(allow_null=True)
    experiment_id = serializers.IntegerField(allow_null=True)
    build_id = serializers.IntegerField(allow_null=True)


class SpanDetailSerializer(OutputModelSerializer):
    cost = MoneyField(allow_null=True)
    payload = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Execution
        fields = [
            "id",
            "trace_id",
            "span_id",
            "parent_span_id",
            "kind",
            "name",
            "agent_name",
            "version",
            "model",
            "operation",
            "status",
            "error_type",
            "error_message",
            "started_at",
            "duration_ms",
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "reasoning_tokens",
            "cost",
            "counts_usage",
            "time_to_first_token_ms",
            "attributes",
            "request_params",
            "session_id",
            "end_user_id",
            "tags",
            "payload",
            "links",
        ]

    def get_payload(self, span) -> SpanPayloadSerializer(allow_null=True):
        payload = getattr(span, "payload", None)  # None when no payload is stored (or it expired)
        return SpanPayloadSerializer(payload).data if payload is not None else None

    def get_links(self, span) -> SpanLinksSerializer:
        return traces.span_links(span=span)


class GroupFiguresSerializer(OutputSerializer):
    traces = serializers.IntegerField()
    errors = serializers.IntegerField(help_text="Traces that ended in error.")
    spans = serializers.IntegerField()
    input_tokens = serializers.IntegerField()
    output_tokens = serializers.IntegerField()
    cost = MoneyField()
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()


class SessionSerializer(GroupFiguresSerializer):
    session_id = serializers.CharField()
    end_user_id = serializers.CharField(help_text="The session's end user (the greatest id when several).")
    agents = serializers.IntegerField(help_text="Distinct agents in the session.")


class MessageSerializer(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.JSONField()


class TurnSerializer(serializers.Serializer):
    trace = TraceSerializer()
    span_id = serializers.IntegerField(allow_null=True, help_text="The root span's row id.")
    messages = MessageSerializer(many=True, help_text="New input messages of this turn, then its output.")


class SessionDetailSerializer(serializers.Serializer):
    session = SessionSerializer()
    turns = TurnSerializer(many=True)


class EndUserSerializer(GroupFiguresSerializer):
    end_user_id = serializers.CharField()
    sessions = serializers.IntegerField()
