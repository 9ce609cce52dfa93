"""Routes of the earlier implementation, with the same meaning, on top of the services.

- ``POST /api/marketplace/create-agent``: create an agent (``prompt`` or ``system_prompt``).
- ``GET /api/marketplace/search?query=&category=&min_rating=``: search (paginated, ``agents``).
- ``POST /api/marketplace/install/{id}``: install for the caller's team (``id``: agent id, slug
  or ``team/slug``).
- ``POST /api/marketplace/rate/{id}``: rate 1-5 (``rating``), optional ``review``.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from crucible import access
from crucible.api.pagination import PageNumberPagination
from marketplace import selectors, services
from marketplace.api import serializers as s
from marketplace.api.views import actor, request_body
from marketplace.models import Agent, Visibility

LEGACY_TAG = ["marketplace (earlier routes)"]


class LegacySearchPagination(PageNumberPagination):
    page_size = 20

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
    agent = selectors.agent_for_team(team=team, ref=ref) if team else None
    if agent is None:
        raise Http404("No agent with this id is available to your team.")
    return agent


def _listed(agent_id) -> Agent:
    return selectors.with_listing_annotations(Agent.objects.filter(pk=agent_id)).get()


class LegacyCreateAgentView(APIView):
    @extend_schema(
        tags=LEGACY_TAG,
        request=s.LegacyCreateAgentSerializer,
        responses={201: s.LegacyCreatedSerializer},
        summary="Create an agent (earlier route)",
    )
    def post(self, request):
        data = s.LegacyCreateAgentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        agent = services.agent_create(
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
        body = {"success": True, "agent_id": agent.pk, "agent": s.LegacyAgentSerializer(_listed(agent.pk)).data}
        return Response(body, status=status.HTTP_201_CREATED)


class LegacySearchView(APIView):
    pagination_class = LegacySearchPagination
    throttle_scope = "expensive"  # its own budget per key (crucible.api.throttling)

    @extend_schema(
        tags=LEGACY_TAG,
        summary="Search agents (earlier route)",
        parameters=[
            OpenApiParameter("query", str, description="Words to look for (typo tolerant on names)."),
            OpenApiParameter("category", str, enum=[c for c in s.Category.values]),
            OpenApiParameter("min_rating", float, description="Minimum average stars, 0-5."),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses=s.LegacyAgentSerializer(many=True),
    )
    def get(self, request):
        query = request.query_params.dict()
        query.pop("format", None)  # DRF's renderer switch, not a search parameter
        params = s.LegacySearchQuerySerializer(data=query)
        params.is_valid(raise_exception=True)
        v = params.validated_data
        queryset = selectors.agent_search(
            team_ids=access.readable_team_ids(request),
            q=v.get("query", ""),
            category=v.get("category"),
            min_rating=v.get("min_rating"),
            with_description=True,
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response(s.LegacyAgentSerializer(page, many=True).data)


class LegacyInstallView(APIView):
    @extend_schema(
        tags=LEGACY_TAG,
        request=s.LegacyInstallSerializer,
        responses={200: s.LegacyInstallResultSerializer, 201: s.LegacyInstallResultSerializer},
        summary="Install an agent for your team (earlier route)",
    )
    def post(self, request, ref):
        agent = _agent_or_404(request, ref)
        data = s.LegacyInstallSerializer(data=request_body(request))
        data.is_valid(raise_exception=True)
        installation, outcome = services.agent_install(
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
        request=s.LegacyRateSerializer,
        responses={200: s.LegacyRateResultSerializer, 201: s.LegacyRateResultSerializer},
        summary="Rate an agent your team installed (earlier route)",
    )
    def post(self, request, ref):
        agent = _agent_or_404(request, ref)
        data = s.LegacyRateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _, created = services.rating_set(
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
