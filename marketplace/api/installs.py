"""Marketplace API: installations and ratings (thin: validate input, call a service or selector,
serialize)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from crucible import access
from crucible.api.viewsets import TeamScopedMixin
from marketplace import selectors
from marketplace.api import serializers as s
from marketplace.api.views import actor, install_response, installation_loaded, request_body
from marketplace.filters import InstallationFilterSet, RatingFilterSet
from marketplace.models import Installation, Rating
from marketplace.services.installs import agent_install, installation_uninstall, installation_upgrade
from marketplace.services.ratings import rating_delete, rating_set
from marketplace.services.reports import report_create


@extend_schema_view(
    create=extend_schema(
        request=s.InstallationCreateSerializer,
        responses={200: s.InstallResultSerializer, 201: s.InstallResultSerializer},
        summary="Install an agent for the active team (idempotent)",
    ),
    partial_update=extend_schema(
        request=s.InstallSerializer,
        responses=s.InstallationSerializer,
        summary="Upgrade (or pin another version); no version: the latest",
    ),
    destroy=extend_schema(responses={204: OpenApiResponse(description="Uninstalled")}, summary="Uninstall"),
)
class InstallationViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your teams' installations (kept after uninstall, with ``uninstalled_at``)."""

    serializer_class = s.InstallationSerializer
    filterset_class = InstallationFilterSet
    ordering_fields = ["installed_at", "updated_at", "uninstalled_at"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def base_queryset(self):
        return Installation.objects.select_related(
            "team", "agent__team", "agent__latest_version", "version", "installed_by"
        ).order_by("-installed_at", "pk")

    def create(self, request, *args, **kwargs):
        data = s.InstallationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent = selectors.agent_for_team(team=self.team, ref=data.validated_data["agent"])
        if agent is None:
            raise ValidationError({"agent": ["No agent with this id is available to your team."]})
        installation, outcome = agent_install(
            agent=agent, team=self.team, version=data.validated_data["version"], user=actor(request)
        )
        return install_response(installation_loaded(installation.pk), outcome, request)

    def partial_update(self, request, *args, **kwargs):
        installation = self.get_object()
        data = s.InstallSerializer(data=request_body(request))
        data.is_valid(raise_exception=True)
        installation = installation_upgrade(installation=installation, version=data.validated_data["version"])
        return Response(
            s.InstallationSerializer(installation_loaded(installation.pk), context={"request": request}).data
        )

    def perform_destroy(self, instance):
        installation_uninstall(installation=instance)


@extend_schema_view(
    create=extend_schema(
        request=s.RatingCreateSerializer,
        responses={200: s.RatingSerializer, 201: s.RatingSerializer},
        summary="Rate an agent your team installed (re-rating replaces your rating)",
    ),
)
class RatingViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Ratings and reviews of the agents you can see (hidden reviews excluded)."""

    team_actions = ("report",)  # a review of a public agent is reported for the active team
    serializer_class = s.RatingSerializer
    filterset_class = RatingFilterSet
    ordering_fields = ["created_at", "updated_at", "stars"]

    def base_queryset(self):
        return Rating.objects.filter(is_hidden=False).select_related("user", "team").order_by("-updated_at", "pk")

    def scope_queryset(self, queryset):
        return queryset.filter(
            selectors.visible_q(access.readable_team_ids(self.request), installed=True, prefix="agent__")
        )

    def create(self, request, *args, **kwargs):
        data = s.RatingCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        agent = selectors.agent_for_team(team=self.team, ref=values.pop("agent"))
        if agent is None:
            raise ValidationError({"agent": ["No agent with this id is available to your team."]})
        rating, created = rating_set(agent=agent, user=actor(request), team=self.team, **values)
        return Response(
            s.RatingSerializer(rating).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    def check_object_permissions(self, request, obj):
        # A rating belongs to its author, not to a team: only the author may delete it.
        super().check_object_permissions(request, obj)
        if request.method == "DELETE" and (actor(request) is None or obj.user_id != actor(request).pk):
            raise PermissionDenied("Only the author can delete a rating.")

    def perform_destroy(self, instance):
        rating_delete(rating=instance)

    @extend_schema(
        request=s.ReportCreateSerializer,
        responses={201: s.ReportSerializer},
        summary="Report a review to the moderators",
    )
    @action(detail=True, methods=["post"])
    def report(self, request, pk=None):
        rating = self.get_object()
        data = s.ReportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        report = report_create(
            agent=rating.agent, rating=rating, reporter=actor(request), team=self.team, **data.validated_data
        )
        return Response(s.ReportSerializer(report).data, status=status.HTTP_201_CREATED)
