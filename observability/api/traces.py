"""Trace API: traces (list, search, tree), spans with their payloads, sessions and end users."""

from __future__ import annotations

from django.db.models import Case, IntegerField, Value, When
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from crucible.api.pagination import CursorPagination, PageNumberPagination
from crucible.api.query import BOOLEAN_VALUES
from crucible.api.viewsets import TeamScopedMixin
from observability import export
from observability.api import trace_serializers as s
from observability.api.views import export_action, export_format
from observability.filters import EndUserFilterSet, SessionFilterSet, TraceFilterSet
from observability.models import Execution, Trace
from observability.selectors import sessions, traces
from observability.selectors.trace_json import trace_tree_json

ERROR = OpenApiResponse(description="Error in the project's error shape {code, message, fields}.")
NOT_FOUND = OpenApiResponse(description="No such object in your teams (error shape).")


def _active_first(view, queryset):
    """One id may name objects of several of the caller's teams: the active team's comes first."""
    team = view.team
    return queryset.annotate(
        _other_team=Case(
            When(team_id=team.pk if team else None, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
    ).order_by("_other_team", "-started_at")


def _payloads_flag(request) -> bool:
    """``?payloads=true|false`` (the schema's boolean), given at most once; absent means false."""
    values = request.query_params.getlist("payloads")
    if len(values) > 1:
        raise ValidationError({"payloads": ["Give this parameter once."]})
    if values and values[0].lower() not in BOOLEAN_VALUES:
        raise ValidationError({"payloads": ["Must be true or false."]})
    return bool(values) and values[0].lower() in ("1", "true")


@extend_schema_view(
    list=extend_schema(
        responses={200: s.TraceSerializer(many=True), 400: ERROR},
        description="Trace summaries, newest first (cursor pagination). `q` searches the inputs and "
        "outputs of the spans started within started_after..started_before (the last 7 days when "
        "not given; at most CRUCIBLE_OBS_SEARCH_MAX_DAYS days).",
    ),
    retrieve=extend_schema(
        parameters=[
            OpenApiParameter("payloads", OpenApiTypes.BOOL, description="Include each span's input and output.")
        ],
        responses={200: s.TraceTreeSerializer, 404: NOT_FOUND},
        description="A trace and its spans as a tree: a flat list in depth-first order, each span with "
        "its parent id and depth. Spans whose parent has not arrived are listed under the root, "
        "flagged `orphan`.",
    ),
)
class TraceViewSet(TeamScopedMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = s.TraceSerializer
    filterset_class = TraceFilterSet
    pagination_class = CursorPagination
    ordering_fields = ["started_at", "duration_ms", "cost", "span_count", "error_count"]
    ordering = ["-started_at"]
    lookup_field = "trace_id"
    lookup_value_regex = "[^/]+"

    def base_queryset(self):
        return Trace.objects.all()

    def get_object(self):
        trace = _active_first(self, self.get_queryset().filter(trace_id=self.kwargs["trace_id"])).first()
        if trace is None:
            raise NotFound("No trace of your teams has this id.")
        return trace

    def retrieve(self, request, trace_id=None):
        payloads = _payloads_flag(request)
        trace = self.get_object()
        if isinstance(request.accepted_renderer, JSONRenderer):  # the document as PostgreSQL writes it
            trace_json = JSONRenderer().render(s.TraceSerializer(trace).data).decode()
            body = trace_tree_json(trace=trace, trace_json=trace_json, payloads=payloads)
            return HttpResponse(body, content_type="application/json")
        return Response(s.trace_document(traces.trace_tree(trace=trace, payloads=payloads)))  # browsable API

    @export_action("trace")
    def export(self, request):
        """Every trace of the filtered list (same filters, `q` and `ordering` as the list),
        streamed as CSV or JSON Lines: memory does not grow with the number of rows."""
        file_format = export_format(request)
        queryset = self.filter_queryset(self.get_queryset())
        return export.export_response(
            traces.traces_export_rows(queryset),
            file_format=file_format,
            name="traces",
            fields=traces.TRACE_EXPORT_FIELDS,
        )


@extend_schema_view(retrieve=extend_schema(responses={200: s.SpanDetailSerializer, 404: NOT_FOUND}))
class SpanViewSet(TeamScopedMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One span with its input and output (null when none is stored, or no longer kept) and the
    ids it links to: marketplace agent and version, the variant's experiment, the build."""

    serializer_class = s.SpanDetailSerializer

    def base_queryset(self):
        return Execution.objects.select_related("payload")


@extend_schema_view(
    list=extend_schema(responses={200: s.SessionSerializer(many=True), 400: ERROR}),
    retrieve=extend_schema(responses={200: s.SessionDetailSerializer, 404: NOT_FOUND}),
)
class SessionViewSet(TeamScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Sessions: traces grouped by session id (the figures count the traces that match the
    filters); a session's turns in order, as a conversation (its latest 500)."""

    serializer_class = s.SessionSerializer
    filterset_class = SessionFilterSet
    pagination_class = PageNumberPagination
    ordering_fields = ["last_seen", "first_seen", "traces", "errors", "cost"]
    ordering = ["-last_seen", "session_id"]
    lookup_field = "session_id"
    lookup_value_regex = ".+"  # any text, "/" included (clients percent-encode the rest)

    def base_queryset(self):
        return Trace.objects.all()

    def retrieve(self, request, session_id=None):
        first = _active_first(self, self.get_queryset().filter(session_id=session_id)).first()
        if first is None:
            raise NotFound("No session of your teams has this id.")
        summary = sessions.session_get(team_ids=[first.team_id], session_id=session_id)
        turns = sessions.session_conversation(
            traces=sessions.session_traces(team_id=first.team_id, session_id=session_id)
        )
        return Response(s.SessionDetailSerializer({"session": summary, "turns": turns}).data)


@extend_schema_view(list=extend_schema(responses={200: s.EndUserSerializer(many=True), 400: ERROR}))
class EndUserViewSet(TeamScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """End users (the `user.id`/`enduser.id` of traces) with their traces, sessions, errors and
    cost; their traces are `/traces/?user=<id>`."""

    serializer_class = s.EndUserSerializer
    filterset_class = EndUserFilterSet
    pagination_class = PageNumberPagination
    ordering_fields = ["last_seen", "first_seen", "traces", "errors", "cost", "sessions", "end_user_id"]
    ordering = ["-last_seen", "end_user_id"]

    def base_queryset(self):
        return Trace.objects.all()
