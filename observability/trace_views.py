"""Trace pages: the traces list (filters, text search), one trace (span tree, waterfall, the
selected span's input and output), sessions, a session as a conversation, end users."""

from __future__ import annotations

import json

from django.http import Http404
from django.views.generic import TemplateView

from crucible.lists import FilteredListView
from crucible.pages import TeamPageMixin
from observability.filters import EndUserFilterSet, SessionFilterSet, TraceFilterSet
from observability.selectors import sessions, traces

# Deeper spans are indented as much as this depth (the depth is still shown).
MAX_INDENT = 16
# Text longer than this is folded (<details>) on the trace and session pages.
FOLD_CHARS = 600
WATERFALL_WIDTH = 1000  # the SVG viewBox width of a waterfall bar


def _folded(text: str) -> dict:
    return {"text": text, "long": len(text) > FOLD_CHARS, "preview": text[:FOLD_CHARS]}


def content_view(content) -> dict:
    """How a message's content or a payload value is shown: text (folded when long) or JSON."""
    if isinstance(content, str):
        return {"kind": "text", **_folded(content)}
    text = json.dumps(content, indent=2, ensure_ascii=False, sort_keys=False)
    return {"kind": "json", **_folded(text)}


def payload_view(value, default_role: str) -> dict | None:
    """A payload's input or output: a conversation (role + content) when it holds chat messages,
    else its text or pretty-printed JSON; None when nothing was stored."""
    if value is None:
        return None
    messages = sessions.chat_messages(value, default_role) if not isinstance(value, str) else None
    if messages:
        return {"messages": [{"role": m["role"], "content": content_view(m["content"])} for m in messages]}
    return {"value": content_view(value)}


class TraceListView(FilteredListView):
    """Traces of the active team; ``q`` searches inputs and outputs within the time window."""

    template_name = "observability/traces.html"
    filterset_class = TraceFilterSet
    per_page = 50
    with_total = False  # traces can number millions: Previous/Next links
    sorts = {
        "started": ("started_at",),
        "duration": ("duration_ms",),
        "cost": ("cost",),
        "spans": ("span_count",),
        "errors": ("error_count",),
    }
    default_ordering = "-started"
    item_name = ("trace", "traces")
    form_fields = ("q", "agent", "status", "started_after", "started_before", "session", "user", "tag")

    def get_queryset(self):
        return traces.trace_list(team_ids=[self.team.pk])


class TraceView(TeamPageMixin, TemplateView):
    """One trace: its span tree with a waterfall; ``?span=<id>`` selects a span (the root when none)."""

    template_name = "observability/trace.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        trace = traces.trace_get(team_ids=[self.team.pk], trace_id=self.kwargs["trace_id"])
        if trace is None:
            raise Http404("No trace of this team has this id.")
        tree = traces.trace_tree(trace=trace, detail=False)
        scale = WATERFALL_WIDTH / tree.total_ms if tree.total_ms > 0 else 0
        for span in tree.spans:
            span["indent"] = min(span["depth"], MAX_INDENT)
            span["bar_x"] = round(span["offset_ms"] * scale, 1)
            span["bar_w"] = max(round(span["duration_ms"] * scale, 1), 2)
        context.update(trace=trace, tree=tree, spans=tree.spans, selected=self._selected(tree))
        return context

    def _selected(self, tree):
        try:
            wanted = int(self.request.GET.get("span", ""))
        except ValueError:
            wanted = None
        if wanted not in tree.by_id:
            wanted = tree.spans[0]["id"] if tree.spans else None
        if wanted is None:
            return None
        span = traces.span_get(team_ids=[self.team.pk], span_pk=wanted)
        payload = getattr(span, "payload", None)
        return {
            "span": span,
            "tree": tree.by_id[wanted],
            "links": traces.span_links(span=span),
            "payload": payload,
            "input": payload_view(payload.input, "user") if payload else None,
            "output": payload_view(payload.output, "assistant") if payload else None,
            "attributes": json.dumps(span.attributes, indent=2, ensure_ascii=False) if span.attributes else "",
            "request_params": json.dumps(span.request_params, indent=2, ensure_ascii=False)
            if span.request_params
            else "",
        }


class SessionListView(FilteredListView):
    template_name = "observability/sessions.html"
    filterset_class = SessionFilterSet
    sorts = {
        "last": ("last_seen",),
        "first": ("first_seen",),
        "traces": ("traces",),
        "errors": ("errors",),
        "cost": ("cost",),
    }
    default_ordering = "-last"
    tiebreak = ("session_id",)
    item_name = ("session", "sessions")

    def get_queryset(self):
        return traces.trace_list(team_ids=[self.team.pk])


class SessionView(TeamPageMixin, TemplateView):
    """A session's traces in order, as a conversation."""

    template_name = "observability/session.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        session_id = self.kwargs["session_id"]
        summary = sessions.session_get(team_ids=[self.team.pk], session_id=session_id)
        if summary is None:
            raise Http404("No session of this team has this id.")
        turns = sessions.session_conversation(
            traces=sessions.session_traces(team_id=self.team.pk, session_id=session_id)
        )
        for turn in turns:
            turn["shown"] = [{"role": m["role"], "content": content_view(m["content"])} for m in turn["messages"]]
        context.update(session=summary, turns=turns)
        return context


class EndUserListView(FilteredListView):
    template_name = "observability/end_users.html"
    filterset_class = EndUserFilterSet
    sorts = {
        "last": ("last_seen",),
        "traces": ("traces",),
        "sessions": ("sessions",),
        "errors": ("errors",),
        "cost": ("cost",),
    }
    default_ordering = "-last"
    tiebreak = ("end_user_id",)
    item_name = ("end user", "end users")

    def get_queryset(self):
        return traces.trace_list(team_ids=[self.team.pk])
