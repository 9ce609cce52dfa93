"""Team memory API: builds (list, detail, idempotent report), insights, stack suggestions and
recommendations for the active team; the legacy /api/team/... routes for a team named in the path."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from crucible import access, periods
from crucible.api.pagination import CursorPagination
from crucible.api.parsers import JSONParser
from crucible.api.viewsets import TeamScopedMixin
from teammemory import services
from teammemory.api.serializers import (
    BuildRecommendationExperimentInputSerializer,
    BuildRecommendationExperimentSerializer,
    BuildRecommendationsSerializer,
    BuildReportSerializer,
    BuildSerializer,
    InsightsRangeQuerySerializer,
    StackSuggestionRequestSerializer,
    StackSuggestionResultSerializer,
    TeamInsightsSerializer,
)
from teammemory.experiments import recommendation_experiment_start
from teammemory.filters import BuildFilterSet
from teammemory.selectors import PERIOD_RULES
from teammemory.selectors import builds as build_selectors
from teammemory.selectors import insights as insight_selectors
from teammemory.selectors import recommendations as recommendation_selectors
from teammemory.selectors import suggestions as suggestion_selectors


class BuildCursorPagination(CursorPagination):
    ordering = "-started_at"


class BuildViewSet(
    TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Builds of the caller's teams. POST reports a build for the active team: a report whose
    ``client_build_id`` the team already has is not stored again (200 with the stored build)."""

    serializer_class = BuildSerializer
    filterset_class = BuildFilterSet
    pagination_class = BuildCursorPagination
    ordering_fields = ["started_at", "finished_at", "created_at"]
    ordering = ["-started_at"]

    def base_queryset(self):
        return build_selectors.build_detail_queryset(team_ids=access.readable_team_ids(self.request))

    def scope_queryset(self, queryset):
        return queryset  # build_detail_queryset is already limited to the caller's teams

    @extend_schema(
        request=BuildReportSerializer,
        responses={
            201: BuildSerializer,
            200: OpenApiResponse(BuildSerializer, description="Already reported: the stored build."),
        },
    )
    def create(self, request, *args, **kwargs):
        data = BuildReportSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        build, created = services.build_record(
            team=self.team,
            reported_by=access.actor_user(request),
            api_key=access.api_key_of(request),
            **data.validated_data,
        )
        build = self.base_queryset().get(pk=build.pk)
        body = BuildSerializer(build, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


def _range(request) -> dict:
    params = request.query_params.dict()
    params.pop("format", None)  # DRF's renderer switch, not a filter
    query = InsightsRangeQuerySerializer(data=params)
    query.is_valid(raise_exception=True)
    return query.validated_data


RANGE_PARAMETERS = periods.period_parameters(PERIOD_RULES)


def _active_team_or_404(request):
    team = access.active_team(request)
    if team is None:
        raise Http404("You are not a member of any team.")
    return team


# The three responses below are shared with the earlier implementation's routes (legacy/views.py),
# which name the team in the path instead of acting for the active team.


def insights_response(request, team):
    period = _range(request)["period"]
    data = insight_selectors.team_insights(team=team, since=period.start, until=period.end)
    return Response(TeamInsightsSerializer(data).data)


def recommendations_response(request, team):
    period = _range(request)["period"]
    data = recommendation_selectors.team_recommendations(team=team, since=period.start, until=period.end)
    return Response(BuildRecommendationsSerializer(data).data)


def suggestions_response(request, team):
    body = StackSuggestionRequestSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    data = suggestion_selectors.stack_suggest(team=team, **body.validated_data)
    return Response(StackSuggestionResultSerializer(data).data)


class InsightsView(APIView):
    """Key figures of the active team's builds in a time range: counts, success and failure rate,
    median and p90 duration, quality, tokens and cost per build; by stack and component; top
    error types; the weekly quality trend with its slope test; agent versions and outcomes."""

    throttle_scope = "expensive"  # its own budget per key (crucible.api.throttling)
    replica_reads = True  # may read from the read replica (crucible.db_router)

    @extend_schema(parameters=RANGE_PARAMETERS, responses=TeamInsightsSerializer, operation_id="teammemory_insights")
    def get(self, request):
        return insights_response(request, _active_team_or_404(request))


class RecommendationsView(APIView):
    """Findings from the active team's builds, each with evidence and a suggested action."""

    throttle_scope = "expensive"  # its own budget per key (crucible.api.throttling)

    @extend_schema(
        parameters=RANGE_PARAMETERS, responses=BuildRecommendationsSerializer, operation_id="teammemory_recommendations"
    )
    def get(self, request):
        return recommendations_response(request, _active_team_or_404(request))


class SuggestionsView(APIView):
    """Stacks for a new project's requirements, ranked from the team's own successful history,
    with their evidence; a labelled fallback when there is too little similar history."""

    throttle_scope = "expensive"  # its own budget per key (crucible.api.throttling)
    write_action = access.READ  # computing suggestions changes nothing: viewers and read-only keys may POST
    # JSON only: its lists of words cannot be told from numbers in a form's text parts.
    parser_classes = [JSONParser]

    @extend_schema(
        request=StackSuggestionRequestSerializer,
        responses=StackSuggestionResultSerializer,
        operation_id="teammemory_suggestions",
    )
    def post(self, request):
        return suggestions_response(request, _active_team_or_404(request))


class RecommendationExperimentView(APIView):
    """Start the experiment a recommendation suggests (a worse agent version against the team's
    alternative); the findings of the range are recomputed and the one named is used."""

    throttle_scope = "expensive"

    @extend_schema(
        parameters=RANGE_PARAMETERS,
        request=BuildRecommendationExperimentInputSerializer,
        responses={200: BuildRecommendationExperimentSerializer, 201: BuildRecommendationExperimentSerializer},
        operation_id="teammemory_recommendation_experiment",
    )
    def post(self, request):
        period = _range(request)["period"]
        data = BuildRecommendationExperimentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team = _active_team_or_404(request)
        recommendations = recommendation_selectors.team_recommendations(
            team=team, since=period.start, until=period.end
        )["recommendations"]
        experiment, created = recommendation_experiment_start(
            team=team, recommendations=recommendations, user=access.actor_user(request), **data.validated_data
        )
        body = {
            "experiment_id": experiment.pk,
            "experiment": experiment.name,
            "status": experiment.status,
            "created": created,
        }
        return Response(
            BuildRecommendationExperimentSerializer(body).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
