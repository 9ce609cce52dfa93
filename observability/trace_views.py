"""Trace pages: the traces list (filters, text search), one trace (span tree, waterfall, the
selected span's input and output), sessions, a session as a conversation, end users."""

from __future__ import annotations

import json
from urllib.parse import quote

from django.http import Http404, HttpResponse
from django.utils import dateformat, timezone
from django.views.generic import TemplateView
from rest_framework.renderers import JSONRenderer

from crucible import formatting
from crucible.lists import FilteredListView
from crucible.pages import TeamPageMixin
from observability import drilldown, export
from observability.api.trace_serializers import TraceSerializer
from observability.filters import EndUserFilterSet, SessionFilterSet, TraceFilterSet
from observability.selectors import sessions, traces
from observability.selectors.trace_json import trace_tree_json

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


def span_rows(spans: list[dict], *, scale: float, selected_id: int | None) -> list[dict]:
    """The tree's rows for the template's loop. A 1,000-span tree is 1,000 rows, and each value a
    row shows costs the template engine a lookup and an escape, so each span gets here, once, what
    the loop would otherwise compute or filter a row at a time, as text (never HTML): its classes
    (``row_class``, ``bar_class``), ``label`` (name, else kind), ``indent``, its waterfall bar
    (``bar_x``, ``bar_w`` in the SVG's units), ``flag`` (orphan or failed: the badges to show),
    its figures as shown (``crucible.formatting``, the rules of the template filters: ``offset``,
    ``duration``, ``tokens`` as "in / out", ``cost_text``, empty when the span has none) and its
    execution page (the route reversed once)."""
    execution_url = drilldown.execution_url_maker()
    duration, number = formatting.duration, formatting.number
    for span in spans:
        error = span["status"] == "error"
        span["error"] = error
        span["flag"] = error or span["orphan"]
        span["row_class"] = (
            "span-row" + (" span-error" if error else "") + (" span-selected" if span["id"] == selected_id else "")
        )
        span["bar_class"] = f"bar bar-{span['kind']} bar-error" if error else f"bar bar-{span['kind']}"
        span["label"] = span["name"] or span["kind"]
        span["indent"] = min(span["depth"], MAX_INDENT)
        span["bar_x"] = round(span["offset_ms"] * scale, 1)
        span["bar_w"] = max(round(span["duration_ms"] * scale, 1), 2)
        span["offset"] = duration(span["offset_ms"])
        span["duration"] = duration(span["duration_ms"])
        in_tokens, out_tokens = span["input_tokens"], span["output_tokens"]
        span["tokens"] = f"{number(in_tokens)} / {number(out_tokens)}" if in_tokens or out_tokens else ""
        span["cost_text"] = formatting.money(span["cost"]) if span["cost"] is not None else ""
        span["execution_url"] = execution_url(span["id"])
    return spans


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

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        trace_rows(context["listing"])
        context["empty"] = formatting.EMPTY
        return context


def trace_rows(listed) -> None:
    """The traces list's rows for the template's loop, as ``observability.views.execution_rows``
    gives the executions list's: each trace gets, once, its links (``url``, ``session_url``,
    ``user_url``: each route reversed once a page), ``started`` (as the ``date`` filter shows it),
    ``title`` (its name, else its id), ``agent_text`` and its figures as the template filters show
    them (``crucible.formatting``), ``errors_text`` ("2 errors"), as text the template escapes."""
    trace_url, session_url = drilldown.trace_url_maker(), drilldown.session_url_maker()
    duration, number, money = formatting.duration, formatting.number, formatting.money
    for trace in listed:
        trace.url = trace_url(trace.trace_id)
        trace.started = dateformat.format(timezone.localtime(trace.started_at), "Y-m-d H:i:s")
        trace.title = trace.name or trace.trace_id
        trace.agent_text = formatting.or_empty(trace.agent_name)
        trace.duration_text = duration(trace.duration_ms)
        trace.spans_text = number(trace.span_count)
        trace.errors_text = f"{number(trace.error_count)} error{'' if trace.error_count == 1 else 's'}"
        trace.tokens = f"{number(trace.input_tokens)} / {number(trace.output_tokens)}"
        trace.cost_text = money(trace.cost)
        trace.session_url = session_url(trace.session_id) if trace.session_id else ""
        trace.user_url = f"?user={quote(trace.end_user_id, safe='/')}" if trace.end_user_id else ""


class TraceExportView(export.ListExportMixin, TraceListView):
    """The traces list with its filters, search and order, as a streamed CSV or JSON Lines file."""

    def export_response(self, queryset, file_format):
        return export.export_response(
            traces.traces_export_rows(queryset),
            file_format=file_format,
            name="traces",
            fields=traces.TRACE_EXPORT_FIELDS,
        )


class TraceView(TeamPageMixin, TemplateView):
    """One trace: its span tree with a waterfall; ``?span=<id>`` selects a span (the root when none);
    ``?download=json`` gives the whole trace (spans with their inputs and outputs) as a JSON file,
    the tree API's document."""

    template_name = "observability/trace.html"

    def trace(self):
        trace = traces.trace_get(team_ids=[self.team.pk], trace_id=self.kwargs["trace_id"])
        if trace is None:
            raise Http404("No trace of this team has this id.")
        return trace

    def get(self, request, *args, **kwargs):
        if request.GET.get("download") == "json":
            return self.download()
        return super().get(request, *args, **kwargs)

    def download(self) -> HttpResponse:
        trace = self.trace()
        trace_json = JSONRenderer().render(TraceSerializer(trace).data).decode()
        response = HttpResponse(
            trace_tree_json(trace=trace, trace_json=trace_json, payloads=True), content_type="application/json"
        )
        safe_id = "".join(c if c.isalnum() else "_" for c in trace.trace_id)[:64]
        response["Content-Disposition"] = f'attachment; filename="trace-{safe_id}.json"'
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        trace = self.trace()
        tree = traces.trace_tree(trace=trace, detail=False)
        scale = WATERFALL_WIDTH / tree.total_ms if tree.total_ms > 0 else 0
        selected = self._selected(tree)
        selected_id = selected["tree"]["id"] if selected else None
        context.update(
            trace=trace,
            tree=tree,
            spans=span_rows(tree.spans, scale=scale, selected_id=selected_id),
            selected=selected,
        )
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
        span = traces.span_get(team_ids=[self.team.pk], span_pk=wanted, started_at=tree.by_id[wanted]["started_at"])
        payload = getattr(span, "payload", None)
        return {
            "span": span,
            "execution_url": drilldown.execution_url(span.pk),
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
