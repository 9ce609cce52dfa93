"""Redaction rules of a team over the API: anyone in the team reads them, team admins change them."""

from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from crucible import access
from crucible.api.serializers import OutputModelSerializer, ShapeOnlyMixin, StrictFieldsMixin
from crucible.api.viewsets import TeamScopedMixin
from crucible.filters import BooleanFilter
from observability import services
from observability.models import RedactionRule

ERROR = OpenApiResponse(description="Error in the project's error shape {code, message, fields}.")


class RedactionRuleSerializer(OutputModelSerializer):
    class Meta:
        model = RedactionRule
        fields = ["id", "name", "pattern", "replacement", "enabled", "created_at"]
        read_only_fields = fields


class RedactionRuleWriteSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=200, help_text="Unique in the team.")
    pattern = serializers.CharField(max_length=500, help_text="A Python regular expression.")
    replacement = serializers.CharField(max_length=200, required=False, allow_blank=True, default="[REDACTED]")
    enabled = serializers.BooleanField(required=False, default=True)


class RedactionRuleFilterSet(filters.FilterSet):
    enabled = BooleanFilter()
    name = filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = RedactionRule
        fields = ["enabled", "name"]


class RedactionRuleViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The active team's redaction rules: applied to span inputs, outputs, attributes and error
    messages at ingest, before storage, after the built-in rules (API keys and tokens, e-mail
    addresses, card numbers). Any role reads them; creating, changing and deleting need admin."""

    write_action = access.MANAGE
    serializer_class = RedactionRuleSerializer
    filterset_class = RedactionRuleFilterSet
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def base_queryset(self):
        return RedactionRule.objects.select_related("team")

    @extend_schema(
        request=RedactionRuleWriteSerializer, responses={201: RedactionRuleSerializer, 400: ERROR, 403: ERROR}
    )
    def create(self, request, *args, **kwargs):
        data = RedactionRuleWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        rule = services.redaction_rule_create(team=self.team, **data.validated_data)
        return Response(RedactionRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=RedactionRuleWriteSerializer(partial=True),
        responses={200: RedactionRuleSerializer, 400: ERROR, 403: ERROR, 404: ERROR},
    )
    def partial_update(self, request, *args, **kwargs):
        data = RedactionRuleWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        rule = services.redaction_rule_update(rule=self.get_object(), **data.validated_data)
        return Response(RedactionRuleSerializer(rule).data)

    def perform_destroy(self, instance):
        services.redaction_rule_delete(rule=instance)
