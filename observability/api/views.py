from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import parsers, renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from crucible import access, periods
from crucible.api.pagination import CursorPagination
from crucible.api.parsers import JSONParser, PayloadTooLarge, json_loads, read_body
from crucible.api.viewsets import TeamScopedMixin
from observability import conf, export, ingest, otlp, selectors, services
from observability.api import serializers as s
from observability.experiments import recommendation_experiment_start
from observability.filters import ExecutionFilterSet, ModelPriceFilterSet
from observability.models import Execution, ExecutionSource, ModelPrice
from observability.selectors.executions import executions_export_rows

ERROR = OpenApiResponse(description="Error in the project's error shape {code, message, fields}.")


class _ExportRenderer(renderers.BaseRenderer):
    """Lets a client ask for an export by its media type (``Accept: text/csv``); the file itself is
    a streamed response, and an error still answers in the JSON error shape."""

    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        # An error (``?format=jsonl&export_format=x``) is JSON, and says so: DRF set the header to
        # this renderer's media type before rendering.
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return renderers.JSONRenderer().render(data)


class CsvRenderer(_ExportRenderer):
    media_type = "text/csv"
    format = "csv"


class JsonLinesRenderer(_ExportRenderer):
    media_type = "application/x-ndjson"
    format = "jsonl"


def export_action(rows: str):
    """The ``export`` action of a list viewset: GET, unpaginated, rendered as CSV or JSON Lines
    (errors as JSON), documented with its parameter and answers. ``rows`` names one row."""

    def decorate(view):
        view = action(
            detail=False,
            methods=["get"],
            pagination_class=None,
            renderer_classes=[renderers.JSONRenderer, CsvRenderer, JsonLinesRenderer],
        )(view)
        return extend_schema(
            parameters=[
                OpenApiParameter(
                    export.FORMAT_PARAMETER,
                    str,
                    enum=list(export.FORMATS),
                    description=f"csv (a header row, then one row per {rows}) or jsonl (one JSON object a line).",
                )
            ],
            responses={
                (200, "text/csv"): OpenApiTypes.STR,
                (200, "application/x-ndjson"): OpenApiTypes.STR,
                (400, "application/json"): ERROR,
            },
        )(view)

    return decorate


def export_format(request) -> str:
    """The export's file format from ``export_format`` (csv by default); a 400 naming it otherwise."""
    for value in request.query_params.getlist("format"):  # DRF's renderer override, read before the view
        if value not in ("json", *export.FORMATS):
            raise ValidationError({"format": [f"Choose one of json, {', '.join(export.FORMATS)}, or leave it out."]})
    given = request.query_params.getlist(export.FORMAT_PARAMETER)
    if len(given) > 1:
        raise ValidationError({export.FORMAT_PARAMETER: ["Give this parameter once."]})
    file_format = given[0] if given else export.CSV
    if file_format not in export.FORMATS:
        raise ValidationError({export.FORMAT_PARAMETER: [f"Choose one of {', '.join(export.FORMATS)}."]})
    return file_format


class ExecutionViewSet(TeamScopedMixin, viewsets.ReadOnlyModelViewSet):
    """Raw executions of the caller's teams, newest first (cursor pagination: constant cost per
    page however many rows there are). Raw rows are kept `CRUCIBLE_OBS_RETENTION_DAYS` days."""

    serializer_class = s.ExecutionSerializer
    filterset_class = ExecutionFilterSet
    pagination_class = CursorPagination
    ordering_fields = ["started_at", "duration_ms"]
    ordering = ["-started_at"]

    def base_queryset(self):
        return Execution.objects.select_related("team")

    @export_action("execution")
    def export(self, request):
        """Every execution of the filtered list (same filters and `ordering` as the list), streamed
        as CSV or JSON Lines: the file starts at once and the server's memory does not grow with
        the number of rows."""
        file_format = export_format(request)
        queryset = self.filter_queryset(self.get_queryset())
        return export.export_response(executions_export_rows(queryset), file_format=file_format)


class ModelPriceViewSet(viewsets.ReadOnlyModelViewSet):
    """Model prices (USD per million tokens) used to cost executions that bring no cost of their
    own. Prices are shared by all teams and edited by operators in the admin."""

    serializer_class = s.ModelPriceSerializer
    filterset_class = ModelPriceFilterSet
    ordering_fields = ["pattern", "effective_from"]
    ordering = ["pattern", "-effective_from"]

    def get_queryset(self):
        return ModelPrice.objects.all()


def active_team_or_404(request):
    team = access.active_team(request)
    if team is None:
        raise NotFound("You are not a member of any team.")
    return team


def ingest_response(results: list[dict]) -> Response:
    counts = {"stored": 0, "duplicate": 0, "error": 0}
    for result in results:
        counts[result["status"]] += 1
    body = {
        "stored": counts["stored"],
        "duplicates": counts["duplicate"],
        "errors": counts["error"],
        "results": results,
    }
    return Response(body, status=status.HTTP_207_MULTI_STATUS if counts["error"] else status.HTTP_200_OK)


class IngestView(APIView):
    """Batch ingest of execution events (up to `CRUCIBLE_OBS_MAX_BATCH_EVENTS` per request).

    Each event carries your own `id`; a retried event is stored once (`duplicate`). Valid events
    are stored even when others in the batch are not: the answer is then 207 with one result per
    event (`index`, `status` stored/duplicate/error, `field`, `message`). A malformed body stores
    nothing (400); an oversized batch is refused (413)."""

    parser_classes = [JSONParser]

    @extend_schema(
        request=s.IngestRequestDocSerializer,
        responses={200: s.IngestResponseSerializer, 207: s.IngestResponseSerializer, 400: ERROR, 413: ERROR},
    )
    def post(self, request):
        events = ingest.batch_events(request.data)
        if len(events) > conf.MAX_BATCH_EVENTS:
            raise PayloadTooLarge(f"At most {conf.MAX_BATCH_EVENTS} events per batch; this one has {len(events)}.")
        results = services.executions_ingest(
            team=active_team_or_404(request),
            events=events,
            api_key=access.api_key_of(request),
            source=ExecutionSource.API,
        )
        return ingest_response(results)


class SpanIngestView(IngestView):
    """Batch ingest of spans (the ingest endpoint under the name that reads better for traces).

    A span carries `trace_id`, `span_id` and `parent_span_id` (hex), `kind`, `name`, `input`,
    `output`, `attributes`, `request_params`, `time_to_first_token_ms`, `session_id`, `user_id`
    and `tags`, beside the execution fields; `id` may be left out (the trace and span ids identify
    it). Spans may arrive in any order and in different requests. The same span sent again is a
    `duplicate`; the same span id with other content, a cycle, a parent in another trace, an end
    before the start or text that is not UTF-8 is an error of that span. Inputs and outputs over
    `CRUCIBLE_TRACE_PAYLOAD_MAX_BYTES` are truncated (flagged), and redacted before storage."""


class OtlpBody(bytes):
    """The raw OTLP request body and its media type (parsed in the view, after any gzip)."""

    media_type = ""


class OtlpParser(parsers.BaseParser):
    media_type = "application/x-protobuf"

    def parse(self, stream, media_type=None, parser_context=None):
        body = OtlpBody(read_body(stream))
        body.media_type = self.media_type
        return body


class OtlpJSONParser(OtlpParser):
    media_type = "application/json"


def _gunzip(raw: bytes) -> bytes:
    import zlib

    from django.conf import settings

    limit = settings.API_MAX_BODY_BYTES
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        out = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise ParseError(f"The gzip body cannot be decompressed: {exc}") from None
    if len(out) > limit:
        raise PayloadTooLarge(f"The decompressed body is larger than {limit} bytes.")
    return out


class OtlpTracesView(APIView):
    """OTLP/HTTP trace export (`application/x-protobuf` or `application/json`). Point an
    OpenTelemetry exporter at this URL with `Authorization: Bearer <key>`. Spans with GenAI
    semantic-convention attributes (`gen_ai.*`) are stored as executions; other spans are ignored.
    Invalid GenAI spans are counted in `partialSuccess.rejectedSpans`; a malformed body is a 400."""

    parser_classes = [OtlpParser, OtlpJSONParser]

    @extend_schema(
        request={"application/x-protobuf": OpenApiTypes.BINARY, "application/json": OpenApiTypes.OBJECT},
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "application/x-protobuf"): OpenApiTypes.BINARY,
            400: ERROR,
            413: ERROR,
            415: ERROR,
        },
    )
    def post(self, request):
        body = request.data
        if not isinstance(body, OtlpBody):
            raise ParseError("Send an OTLP ExportTraceServiceRequest as application/x-protobuf or application/json.")
        as_json = body.media_type == "application/json"
        raw = bytes(body)
        encoding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if encoding == "gzip":
            raw = _gunzip(raw)
        elif encoding not in ("", "identity"):
            raise ParseError(f"Unsupported Content-Encoding '{encoding}'; use gzip or none.")
        try:
            message = otlp.parse_json(json_loads(raw)) if as_json else otlp.parse_protobuf(raw)
        except otlp.OtlpError as exc:
            raise ParseError(str(exc)) from None
        try:
            rejected, message_text = otlp.export_ingest(
                team=active_team_or_404(request), request=message, api_key=access.api_key_of(request)
            )
        except otlp.TooManySpans as exc:
            raise PayloadTooLarge(str(exc)) from None
        body = otlp.response(rejected=rejected, message=message_text, as_json=as_json)
        if as_json:
            return Response(body)
        return HttpResponse(body, content_type="application/x-protobuf")


def period_query(request, serializer_class=s.PeriodQuerySerializer):
    query = serializer_class(data=request.query_params)
    query.is_valid(raise_exception=True)
    return query.validated_data["period"], query.validated_data


PERIOD_PARAMS = periods.period_parameters(selectors.PERIOD_RULES)


class DashboardView(APIView):
    """Per-agent executions, success rate, p50/p95/p99 duration, tokens and cost for a period,
    with totals, time series and the models that have no price. Reads rollups only."""

    throttle_scope = "expensive"  # its own budget per key (crucible.api.throttling)
    replica_reads = True  # may read from the read replica (crucible.db_router)

    @extend_schema(
        parameters=[
            *PERIOD_PARAMS,
            OpenApiParameter("agent", str),
            OpenApiParameter("model", str),
            OpenApiParameter("status", str, enum=["success", "error"]),
        ],
        responses={200: s.DashboardSerializer, 400: ERROR},
    )
    def get(self, request):
        period, data = period_query(request, s.DashboardQuerySerializer)
        result = selectors.dashboard(
            team=active_team_or_404(request),
            period=period,
            agent=data.get("agent"),
            model=data.get("model"),
            status=data.get("status"),
        )
        return Response(s.DashboardSerializer(result).data)


class AgentDetailView(APIView):
    """One agent: trends, versions compared, models, errors by type, slowest recent executions."""

    throttle_scope = "expensive"  # its own budget per key (crucible.api.throttling)
    replica_reads = True  # may read from the read replica (crucible.db_router)

    @extend_schema(parameters=PERIOD_PARAMS, responses={200: s.AgentDetailSerializer, 404: ERROR})
    def get(self, request, name):
        period, _ = period_query(request)
        result = selectors.agent_detail(team=active_team_or_404(request), name=name, period=period)
        if result is None:
            raise NotFound(f"No executions of agent '{name}' in this period.")
        return Response(s.AgentDetailSerializer(result).data)


class BottlenecksView(APIView):
    """Agents ranked by share of total time, share of cost and p95 against the fleet, and the
    regressions of the period."""

    throttle_scope = "expensive"  # its own budget per key (crucible.api.throttling)

    @extend_schema(parameters=PERIOD_PARAMS, responses={200: s.BottlenecksSerializer, 400: ERROR})
    def get(self, request):
        period, _ = period_query(request)
        team = active_team_or_404(request)
        compared = selectors.compared(team, period)
        result = selectors.bottlenecks(
            team=team, period=period, current=compared["current"], figures=compared["figures"]
        )
        result["regressions"] = selectors.regressions(team=team, period=period, compared=compared)
        return Response(s.BottlenecksSerializer(result).data)


class RegressionsView(APIView):
    """Agents whose p95, error rate or tokens per execution got clearly worse than in the previous
    period of the same length, or after a new version."""

    throttle_scope = "expensive"  # its own budget per key (crucible.api.throttling)

    @extend_schema(parameters=PERIOD_PARAMS, responses={200: s.RegressionSerializer(many=True), 400: ERROR})
    def get(self, request):
        period, _ = period_query(request)
        return Response(
            s.RegressionSerializer(
                selectors.regressions(team=active_team_or_404(request), period=period), many=True
            ).data
        )


class RecommendationExperimentView(APIView):
    """Start the experiment a recommendation suggests (see docs/improvement.md › Versions as
    variants): the findings of the period are recomputed and the one named is handed to improvement."""

    throttle_scope = "expensive"

    @extend_schema(
        parameters=PERIOD_PARAMS,
        request=s.RecommendationExperimentInputSerializer,
        responses={200: s.RecommendationExperimentSerializer, 201: s.RecommendationExperimentSerializer, 400: ERROR},
    )
    def post(self, request):
        period, _ = period_query(request)
        data = s.RecommendationExperimentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team = active_team_or_404(request)
        experiment, created = recommendation_experiment_start(
            team=team,
            recommendations=selectors.recommendations(team=team, period=period),
            user=access.actor_user(request),
            **data.validated_data,
        )
        body = {
            "experiment_id": experiment.pk,
            "experiment": experiment.name,
            "status": experiment.status,
            "created": created,
        }
        return Response(
            s.RecommendationExperimentSerializer(body).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class RecommendationsView(APIView):
    """Recommendations generated from the data, each with its evidence and a suggested action."""

    throttle_scope = "expensive"  # its own budget per key (crucible.api.throttling)

    @extend_schema(parameters=PERIOD_PARAMS, responses={200: s.RecommendationsSerializer, 400: ERROR})
    def get(self, request):
        period, _ = period_query(request)
        recs = selectors.recommendations(team=active_team_or_404(request), period=period)
        return Response(s.RecommendationsSerializer({"period": period.as_dict(), "recommendations": recs}).data)
