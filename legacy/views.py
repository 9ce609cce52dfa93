"""Views of the earlier routes: each adapts one route onto the v1 services and selectors (or the
v1 view's own helpers), with the earlier meaning and response shape.

- ``POST /api/marketplace/create-agent``: create an agent (``prompt`` or ``system_prompt``).
- ``GET /api/marketplace/search?query=&category=&min_rating=``: search (paginated, ``agents``).
- ``POST /api/marketplace/install/{id}``: install for the caller's team (``id``: agent id, slug
  or ``team/slug``).
- ``POST /api/marketplace/rate/{id}``: rate 1-5 (``rating``), optional ``review``.
- ``GET /api/team/insights/{team}``, ``GET /api/team/recommendations/{team}``,
  ``POST /api/team/suggest-stack/{team}``: the v1 team memory answers for the team in the path.
- ``GET /api/dashboard/agents``: per-agent performance, bottlenecks, recommendations.
- ``POST /api/improve/test-variant``, ``GET /api/improve/report/{name}``: prompt variants.
"""

from __future__ import annotations

import re

from django.db.models import Q
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from crucible import access
from crucible.api.pagination import PageNumberPagination
from crucible.models import Team
from legacy import selectors, services
from legacy import serializers as s
from marketplace import selectors as marketplace_selectors
from marketplace import services as marketplace_services
from marketplace.api.pagination import AgentSearchPaginationMixin
from marketplace.api.views import actor, request_body
from marketplace.models import Agent, Visibility
from observability.api import views as observability_v1
from teammemory.api import serializers as teammemory_serializers
from teammemory.api import views as teammemory_v1

# --- marketplace -----------------------------------------------------------------------------

LEGACY_TAG = ["marketplace (earlier routes)"]


class LegacySearchPagination(AgentSearchPaginationMixin, PageNumberPagination):
    page_size = 20  # counts up to a cap, as the v1 list

    def get_paginated_response(self, data):
        return Response(
            {
                "success": True,
                "count": self.page.paginator.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "agents": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["success", "count", "agents"],
            "properties": {
                "success": {"type": "boolean"},
                "count": {"type": "integer"},
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "agents": schema,
            },
        }


def _agent_or_404(request, ref) -> Agent:
    team = access.active_team(request)
    agent = marketplace_selectors.agent_for_team(team=team, ref=ref) if team else None
    if agent is None:
        raise Http404("No agent with this id is available to your team.")
    return agent


def _listed(agent_id) -> Agent:
    return marketplace_selectors.with_listing_annotations(Agent.objects.filter(pk=agent_id)).get()


class LegacyCreateAgentView(APIView):
    @extend_schema(
        tags=LEGACY_TAG,
        request=s.MarketplaceLegacyCreateAgentSerializer,
        responses={201: s.MarketplaceLegacyCreatedSerializer},
        summary="Create an agent (earlier route)",
    )
    def post(self, request):
        data = s.MarketplaceLegacyCreateAgentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        agent = marketplace_services.agent_create(
            team=access.active_team(request),
            name=v["name"],
            description=v["description"],
            summary=v["summary"],
            category=v["category"],
            tags=v["tags"],
            visibility=Visibility.PUBLIC if v["is_public"] else Visibility.PRIVATE,
            version=v["version"],
            system_prompt=v.get("system_prompt") or v.get("prompt"),
            input_schema=v["input_schema"],
            output_schema=v["output_schema"],
            created_by=actor(request),
        )
        body = {
            "success": True,
            "agent_id": agent.pk,
            "agent": s.MarketplaceLegacyAgentSerializer(_listed(agent.pk)).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class LegacySearchView(APIView):
    pagination_class = LegacySearchPagination
    throttle_scope = "expensive"  # its own budget per key (crucible.api.throttling)

    @extend_schema(
        tags=LEGACY_TAG,
        summary="Search agents (earlier route)",
        # The query serializer itself, so the schema has the bounds it enforces (page >= 1, 0-5 stars).
        parameters=[s.MarketplaceLegacySearchQuerySerializer],
        responses=s.MarketplaceLegacyAgentSerializer(many=True),
    )
    def get(self, request):
        query = request.query_params.dict()
        query.pop("format", None)  # DRF's renderer switch, not a search parameter
        params = s.MarketplaceLegacySearchQuerySerializer(data=query)
        params.is_valid(raise_exception=True)
        v = params.validated_data
        search = marketplace_selectors.agent_search(
            team_ids=access.readable_team_ids(request),
            q=v.get("query", ""),
            category=v.get("category"),
            min_rating=v.get("min_rating"),
            with_description=True,
        )
        paginator = self.pagination_class()
        page = paginator.paginate_search(search, request, view=self)
        return paginator.get_paginated_response(s.MarketplaceLegacyAgentSerializer(page, many=True).data)


class LegacyInstallView(APIView):
    @extend_schema(
        tags=LEGACY_TAG,
        request=s.MarketplaceLegacyInstallSerializer,
        responses={200: s.MarketplaceLegacyInstallResultSerializer, 201: s.MarketplaceLegacyInstallResultSerializer},
        summary="Install an agent for your team (earlier route)",
    )
    def post(self, request, ref):
        agent = _agent_or_404(request, ref)
        data = s.MarketplaceLegacyInstallSerializer(data=request_body(request))
        data.is_valid(raise_exception=True)
        installation, outcome = marketplace_services.agent_install(
            agent=agent, team=access.active_team(request), version=data.validated_data["version"], user=actor(request)
        )
        agent.refresh_from_db(fields=["install_count"])
        body = {
            "success": True,
            "agent_id": agent.pk,
            "version": installation.version.version,
            "outcome": outcome,
            "installs": agent.install_count,
        }
        return Response(
            body, status=status.HTTP_201_CREATED if outcome in ("installed", "reinstalled") else status.HTTP_200_OK
        )


class LegacyRateView(APIView):
    @extend_schema(
        tags=LEGACY_TAG,
        request=s.MarketplaceLegacyRateSerializer,
        responses={200: s.MarketplaceLegacyRateResultSerializer, 201: s.MarketplaceLegacyRateResultSerializer},
        summary="Rate an agent your team installed (earlier route)",
    )
    def post(self, request, ref):
        agent = _agent_or_404(request, ref)
        data = s.MarketplaceLegacyRateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _, created = marketplace_services.rating_set(
            agent=agent,
            user=actor(request),
            team=access.active_team(request),
            stars=data.validated_data["rating"],
            review=data.validated_data["review"],
        )
        agent.refresh_from_db(fields=["rating_sum", "rating_count"])
        body = {
            "success": True,
            "agent_id": agent.pk,
            "rating": agent.rating_average or 0.0,
            "rating_count": agent.rating_count,
        }
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


# --- team memory -----------------------------------------------------------------------------


def team_from_path(request, team_id: str) -> Team:
    """A team named by id or slug in the path, among the caller's teams; any other team is 404."""
    lookup = Q(slug=team_id)
    if re.fullmatch(r"[0-9]{1,18}", team_id):  # ASCII digits only ('²'.isdigit() is True), within bigint
        lookup |= Q(pk=int(team_id))
    team = Team.objects.filter(lookup, pk__in=access.readable_team_ids(request)).first()
    if team is None:
        raise Http404("No such team.")
    return team


TEAM_ID_PARAMETER = OpenApiParameter("team_id", str, OpenApiParameter.PATH, description="The team's id or slug.")


class LegacyInsightsView(APIView):
    """Earlier implementation's route: the same insights as /api/v1/teammemory/insights/ for the
    team in the path."""

    throttle_scope = "expensive"  # its own budget per key (crucible.api.throttling)

    @extend_schema(
        parameters=[TEAM_ID_PARAMETER, *teammemory_v1.RANGE_PARAMETERS],
        responses=teammemory_serializers.TeamInsightsSerializer,
        operation_id="legacy_team_insights",
    )
    def get(self, request, team_id):
        return teammemory_v1.insights_response(request, team_from_path(request, team_id))


class LegacySuggestStackView(APIView):
    """Earlier implementation's route: the same as POST /api/v1/teammemory/suggestions/ for the team in the path."""

    throttle_scope = "expensive"  # its own budget per key (crucible.api.throttling)

    # The team is the one in the path (any role there; 404 for others), not the acting team.
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        parameters=[TEAM_ID_PARAMETER],
        request=teammemory_serializers.StackSuggestionRequestSerializer,
        responses=teammemory_serializers.StackSuggestionResultSerializer,
        operation_id="legacy_team_suggest_stack",
    )
    def post(self, request, team_id):
        return teammemory_v1.suggestions_response(request, team_from_path(request, team_id))


class LegacyRecommendationsView(APIView):
    """Earlier implementation's route: the same as /api/v1/teammemory/recommendations/ for the team in the path."""

    throttle_scope = "expensive"  # its own budget per key (crucible.api.throttling)

    @extend_schema(
        parameters=[TEAM_ID_PARAMETER, *teammemory_v1.RANGE_PARAMETERS],
        responses=teammemory_serializers.BuildRecommendationsSerializer,
        operation_id="legacy_team_recommendations",
    )
    def get(self, request, team_id):
        return teammemory_v1.recommendations_response(request, team_from_path(request, team_id))


# --- observability ---------------------------------------------------------------------------


class LegacyDashboardView(APIView):
    """Earlier implementation's performance data: per agent executions, success rate, average and
    p95 duration, tokens, cost, plus bottlenecks and recommendations (default: last 24 hours)."""

    throttle_scope = "expensive"  # its own budget per key (crucible.api.throttling)

    @extend_schema(
        parameters=observability_v1.PERIOD_PARAMS,
        responses={200: s.ObservabilityLegacyDashboardSerializer, 400: observability_v1.ERROR},
    )
    def get(self, request):
        period, _ = observability_v1.period_query(request)
        return Response(
            s.ObservabilityLegacyDashboardSerializer(
                selectors.dashboard_agents(team=observability_v1.active_team_or_404(request), period=period)
            ).data
        )


# --- improvement -----------------------------------------------------------------------------


class TestVariantView(APIView):
    """``POST /api/improve/test-variant``: add a prompt variant to the experiment named
    ``agent_name`` (created, running, if it does not exist). Fields come as query parameters (as
    the earlier clients send them) or in a JSON body."""

    @extend_schema(
        operation_id="legacy_improve_test_variant",
        parameters=[
            OpenApiParameter("agent_name", str, description="Prompt (experiment) name, if not in the body."),
            OpenApiParameter("variant_prompt", str, description="The variant's prompt, if not in the body."),
            OpenApiParameter("variant_name", str, description="Optional variant name (default v<n>)."),
        ],
        request=s.ImprovementLegacyTestVariantBodySerializer,
        responses={200: s.ImprovementLegacyVariantCreatedSerializer},
    )
    def post(self, request):
        known = s.ImprovementLegacyTestVariantSerializer().fields
        unknown = sorted(name for name in request.query_params if name not in known)
        if unknown:  # as an unknown body field is: refused, not ignored
            raise ValidationError({name: ["Unknown parameter."] for name in unknown})
        source = request.data if request.data else request.query_params
        if hasattr(source, "dict"):
            source = source.dict()
        data = s.ImprovementLegacyTestVariantSerializer(data=source)
        data.is_valid(raise_exception=True)
        variant = services.improve_test_variant(
            team=access.active_team(request), user=access.actor_user(request), **data.validated_data
        )
        return Response({"variant_id": str(variant.pk)})


class ReportView(APIView):
    """``GET /api/improve/report/{name}``: the best variant by the evidence, or a message saying
    more data is needed / there is no clear winner yet."""

    @extend_schema(operation_id="legacy_improve_report", responses=s.ImprovementLegacyReportSerializer)
    def get(self, request, name: str):
        team = access.active_team(request)
        experiment = selectors.experiment_by_name(team=team, name=name) if team else None
        if experiment is None:
            return Response({"message": "Need more data: no variants for this prompt yet."})
        return Response(selectors.improve_report(experiment=experiment))
