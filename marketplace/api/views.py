"""Marketplace API (thin: validate input, call a service or selector, serialize)."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from django_filters.utils import translate_validation
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ParseError, ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from crucible import access
from crucible.api.pagination import PageNumberPagination
from crucible.api.query import StrictFilterBackend, StrictOrderingFilter
from crucible.api.viewsets import TeamScopedMixin
from marketplace import conf, selectors
from marketplace.api import serializers as s
from marketplace.api.evidence import EVIDENCE_SCHEMA, evidence_response
from marketplace.api.pagination import AgentSearchPaginationMixin
from marketplace.diff import version_diff
from marketplace.filters import AgentFilterSet, AgentVersionFilterSet
from marketplace.models import Agent, AgentVersion, Installation
from marketplace.services.agents import agent_create, agent_update
from marketplace.services.forks import agent_fork
from marketplace.services.installs import agent_install, installation_uninstall, version_download
from marketplace.services.ratings import rating_set
from marketplace.services.reports import report_create
from marketplace.services.versions import version_publish, version_unyank, version_yank


def request_body(request) -> dict:
    """The JSON body, where an empty body means "no options" (install and upgrade take none). A body
    of JSON ``null`` is not empty: the serializer refuses it (the schema says object)."""
    try:
        return request.data
    except ParseError:
        # request.body cannot be read once the parser has read the stream (a 500 for a multipart
        # body without its boundary); the declared length says whether there was a body.
        if request.META.get("CONTENT_LENGTH") not in (None, "", "0") or "HTTP_TRANSFER_ENCODING" in request.META:
            raise
        return {}


def actor(request):
    """The person behind the request (session user, or the API key's creator), or None."""
    return access.actor_user(request)


def install_response(installation, outcome, request):
    body = {
        "outcome": outcome,
        "installation": s.InstallationSerializer(installation, context={"request": request}).data,
    }
    code = status.HTTP_201_CREATED if outcome in ("installed", "reinstalled") else status.HTTP_200_OK
    return Response(body, status=code)


def installation_loaded(pk):
    return Installation.objects.select_related(
        "team", "agent__team", "agent__latest_version", "version", "installed_by"
    ).get(pk=pk)


class AgentPagination(AgentSearchPaginationMixin, PageNumberPagination):
    """Counts up to ``CRUCIBLE_MARKETPLACE_LIST_COUNT_CAP`` (10,000): a list of agents stops there."""

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count"] = {
            "type": "integer",
            "description": (
                f"Number of agents listed: exact up to {conf.LIST_COUNT_CAP:,} (CRUCIBLE_MARKETPLACE_LIST_COUNT_CAP), "
                "where the list stops; a text search lists at most its best matches "
                f"({conf.SEARCH_MAX_RESULTS:,} of each kind: CRUCIBLE_MARKETPLACE_SEARCH_MAX_RESULTS)."
            ),
        }
        return response


@extend_schema_view(
    list=extend_schema(
        summary="Search and browse agents",
        description=(
            "Full-text search (`q`, typo tolerant on names), filters and `sort` (relevance, rating, installs, "
            "trending_day, trending_week, trending_month, newest, updated). Private agents appear only to their team."
        ),
    ),
    retrieve=extend_schema(responses=s.AgentDetailSerializer),
    update=extend_schema(request=s.AgentUpdateSerializer, responses=s.AgentDetailSerializer),
    partial_update=extend_schema(request=s.AgentUpdateSerializer, responses=s.AgentDetailSerializer),
)
class AgentViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Agents: your team's (any visibility) and other teams' public ones."""

    # Install, rate and report read any agent you can see and write for the active team.
    team_actions = ("install", "uninstall", "rate", "report", "fork")
    serializer_class = s.AgentSerializer
    pagination_class = AgentPagination
    filterset_class = AgentFilterSet
    ordering_fields = [
        "name",
        "created_at",
        "updated_at",
        "install_count",
        "download_count",
        "rating_count",
        "weighted_rating",
    ]

    @property
    def throttle_scope(self):
        # A search (`q`) is an expensive read with its own budget per key (crucible.api.throttling).
        request = getattr(self, "request", None)
        return "expensive" if request is not None and request.query_params.get("q") else None

    def base_queryset(self):
        listed = selectors.with_listing_annotations(Agent.objects.all())
        if self.action == "list":  # the search adds the evidence the caller may see
            return listed
        return selectors.with_search_evidence(listed, team_ids=access.readable_team_ids(self.request))

    def scope_queryset(self, queryset):
        # Search and browse show listed agents; a detail URL also reaches agents your teams installed.
        return queryset.filter(
            selectors.visible_q(access.readable_team_ids(self.request), installed=self.action != "list")
        )

    def filter_queryset(self, queryset):
        # A detail URL names one agent; the list searches, orders and counts in ``list``.
        return queryset

    def list(self, request, *args, **kwargs):
        """The search (through the FilterSet, validated as every list's filters), ordered by
        ``ordering=`` when given, paginated with the count the search knows."""
        queryset = self.get_queryset()
        filterset = StrictFilterBackend().get_filterset(request, queryset, self)
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        search = filterset.search()
        search = search.ordered(StrictOrderingFilter().filter_queryset(request, search.queryset, self))
        page = self.paginator.paginate_search(search, request, view=self)
        if page is None:  # no page size: the whole list
            return Response(self.get_serializer(search.queryset, many=True).data)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def get_serializer_class(self):
        if self.action in ("retrieve", "update", "partial_update"):
            return s.AgentDetailSerializer
        return s.AgentSerializer

    def detail_response(self, agent, code=status.HTTP_200_OK):
        agent = self.get_queryset().get(pk=agent.pk)
        return Response(s.AgentDetailSerializer(agent, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request=s.AgentCreateSerializer, responses={201: s.AgentDetailSerializer})
    def create(self, request, *args, **kwargs):
        data = s.AgentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent = agent_create(team=self.team, created_by=actor(request), **data.validated_data)
        return self.detail_response(agent, status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        agent = self.get_object()
        data = s.AgentUpdateSerializer(data=request.data, partial=kwargs.get("partial", False))
        data.is_valid(raise_exception=True)
        agent = agent_update(agent=agent, **data.validated_data)
        return self.detail_response(agent)

    @extend_schema(
        request=s.InstallSerializer,
        responses={200: s.InstallResultSerializer, 201: s.InstallResultSerializer},
        summary="Install for the active team (idempotent; a version pins it)",
    )
    @action(detail=True, methods=["post"])
    def install(self, request, pk=None):
        agent = self.get_object()
        data = s.InstallSerializer(data=request_body(request))
        data.is_valid(raise_exception=True)
        installation, outcome = agent_install(
            agent=agent, team=self.team, version=data.validated_data["version"], user=actor(request)
        )
        return install_response(installation_loaded(installation.pk), outcome, request)

    @extend_schema(request=None, responses=s.InstallationSerializer, summary="Uninstall from the active team")
    @action(detail=True, methods=["post"])
    def uninstall(self, request, pk=None):
        agent = self.get_object()
        installation = get_object_or_404(Installation, team=self.team, agent=agent)
        installation_uninstall(installation=installation)
        return Response(
            s.InstallationSerializer(installation_loaded(installation.pk), context={"request": request}).data
        )

    @extend_schema(
        request=s.RateSerializer,
        responses={200: s.RatingSerializer, 201: s.RatingSerializer},
        summary="Rate (1-5) and review; re-rating replaces your rating",
    )
    @action(detail=True, methods=["post"])
    def rate(self, request, pk=None):
        agent = self.get_object()
        data = s.RateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rating, created = rating_set(agent=agent, user=actor(request), team=self.team, **data.validated_data)
        return Response(
            s.RatingSerializer(rating).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    @extend_schema(
        request=s.ReportCreateSerializer,
        responses={201: s.ReportSerializer},
        summary="Report an agent to the moderators",
    )
    @action(detail=True, methods=["post"])
    def report(self, request, pk=None):
        agent = self.get_object()
        data = s.ReportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = report_create(agent=agent, reporter=actor(request), team=self.team, **data.validated_data)
        return Response(s.ReportSerializer(report).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.ForkSerializer,
        responses={201: s.AgentDetailSerializer},
        summary="Fork into the active team: a new agent (private by default) that links to this one and version",
    )
    @action(detail=True, methods=["post"])
    def fork(self, request, pk=None):
        agent = self.get_object()
        data = s.ForkSerializer(data=request_body(request))
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        if "version" in values:
            values["version"] = selectors.version_for_agent(agent=agent, version=values["version"])
            if values["version"] is None:
                raise ValidationError({"version": ["This agent has no such version."]})
        fork = agent_fork(agent=agent, team=self.team, created_by=actor(request), **values)
        return self.detail_response(fork, status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter("from", str, description="Left version (default: your installed one, else the previous)."),
            OpenApiParameter("to", str, description="Right version (default: the latest)."),
        ],
        responses={200: s.VersionDiffSerializer, 400: OpenApiResponse(description="Unknown version")},
        summary="Diff two versions: system prompt, input and output schemas, model hints",
    )
    @action(detail=True, methods=["get"])
    def diff(self, request, pk=None):
        agent = self.get_object()
        try:
            old, new = selectors.versions_to_compare(
                agent=agent,
                team=access.active_team(request),
                left=request.query_params.get("from"),
                right=request.query_params.get("to"),
            )
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from None
        return Response(s.VersionDiffSerializer(version_diff(old=old, new=new)).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "unit",
                str,
                description="The unit of the run: an end user, a session or a trace id (sticky). Without one, "
                "the run is its own unit: a fresh key is drawn and returned.",
            )
        ],
        responses={
            200: s.RunVersionSerializer,
            400: OpenApiResponse(description="Unit too long"),
            404: OpenApiResponse(description="No such agent, or it has no version to run (every version yanked)"),
        },
        summary="Which version to run for a unit: your pin, else stable or a guarded rollout's candidate",
    )
    @action(detail=True, methods=["get"], url_path="run-version")
    def run_version(self, request, pk=None):
        agent = self.get_object()
        unit = (request.query_params.get("unit") or "").strip() or f"run-{uuid.uuid4().hex}"
        if len(unit) > 200:
            raise ValidationError({"unit": ["A unit has at most 200 characters."]})
        version, reason = selectors.version_to_run(team=access.active_team(request), agent=agent, unit=unit)
        if version is None:  # a read of something that is not there, not bad input (schemathesis)
            raise NotFound("This agent has no version to run: every version is yanked.")
        body = {"agent": agent.pk, "unit": unit, "reason": reason, "version_id": version.pk, "version": version.version}
        body |= {
            "channel": version.channel,
            "system_prompt": version.system_prompt,
            "model_hints": version.model_hints,
            "input_schema": version.input_schema,
            "output_schema": version.output_schema,
        }
        return Response(s.RunVersionSerializer(body).data)

    @extend_schema(
        responses=s.AgentStatsSerializer, summary="Popularity: installs per day, downloads, rating histogram"
    )
    @action(detail=True, methods=["get"])
    def stats(self, request, pk=None):
        return Response(s.AgentStatsSerializer(selectors.agent_stats(agent=self.get_object())).data)


@extend_schema_view(
    create=extend_schema(
        request=s.AgentVersionCreateSerializer,
        responses={201: s.AgentVersionSerializer},
        summary="Publish a new version of one of your team's agents",
    ),
)
class AgentVersionViewSet(
    TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Immutable versions of the agents you can see, newest first per agent."""

    team_field = "agent__team"
    serializer_class = s.AgentVersionSerializer
    filterset_class = AgentVersionFilterSet
    ordering_fields = ["created_at", "download_count", "major", "minor", "patch"]

    def base_queryset(self):
        return AgentVersion.objects.select_related("agent__team", "published_by")

    def scope_queryset(self, queryset):
        return queryset.filter(
            selectors.visible_q(access.readable_team_ids(self.request), installed=True, prefix="agent__")
        )

    def create(self, request, *args, **kwargs):
        data = s.AgentVersionCreateSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        agent = values.pop("agent")
        version = version_publish(agent=agent, published_by=actor(request), **values)
        version = self.base_queryset().get(pk=version.pk)
        return Response(s.AgentVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.YankSerializer,
        responses=s.AgentVersionSerializer,
        summary="Yank a version: never installed by default again; pinned installs still work",
    )
    @action(detail=True, methods=["post"])
    def yank(self, request, pk=None):
        version = self.get_object()
        data = s.YankSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        version = version_yank(version=version, reason=data.validated_data["reason"])
        return Response(s.AgentVersionSerializer(version).data)

    @extend_schema(
        request=None,
        responses=s.AgentVersionSerializer,
        summary="Undo a yank: the version can be the default again (idempotent)",
    )
    @action(detail=True, methods=["post"])
    def unyank(self, request, pk=None):
        version = version_unyank(version=self.get_object())
        return Response(s.AgentVersionSerializer(version).data)

    @extend_schema(
        responses=s.AgentVersionDefinitionSerializer,
        summary="The full definition (with system prompt); counts one download per team, version and day",
    )
    @action(detail=True, methods=["get"])
    def definition(self, request, pk=None):
        version = self.get_object()
        team = access.active_team(request)
        if team is not None:
            version_download(version=version, team=team)
            version.refresh_from_db(fields=["download_count"])
        return Response(s.AgentVersionDefinitionSerializer(version).data)

    @EVIDENCE_SCHEMA
    @action(detail=True, methods=["get"])
    def evidence(self, request, pk=None):
        return evidence_response(request, self.get_object())
