from django.db.models import Count
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from crucible import access, services
from crucible.api.serializers import OutputModelSerializer, StrictFieldsMixin
from crucible.api.viewsets import TeamScopedMixin
from crucible.filters import BooleanFilter
from crucible.models import API_KEY_ROLES, ApiKey, Role, Team


class TeamSerializer(OutputModelSerializer):
    role = serializers.SerializerMethodField()
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Team
        fields = ["id", "name", "slug", "is_verified", "role", "member_count", "created_at"]

    @extend_schema_field(serializers.ChoiceField(choices=Role.choices, allow_null=True))
    def get_role(self, team) -> str | None:
        return access.role_for(self.context["request"], team.pk)


class TeamFilterSet(filters.FilterSet):
    name = filters.CharFilter(lookup_expr="icontains")
    is_verified = BooleanFilter()

    class Meta:
        model = Team
        fields = ["name", "slug", "is_verified"]


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    """The teams the caller belongs to (an API key: its own team), with the caller's role."""

    serializer_class = TeamSerializer
    filterset_class = TeamFilterSet
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    def get_queryset(self):
        return Team.objects.filter(pk__in=access.readable_team_ids(self.request)).annotate(
            member_count=Count("memberships")
        )


class ApiKeySerializer(OutputModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    created_by = serializers.StringRelatedField()
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "team",
            "name",
            "prefix",
            "role",
            "created_by",
            "created_at",
            "last_used_at",
            "revoked_at",
            "is_active",
        ]


class ApiKeyCreateSerializer(StrictFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=API_KEY_ROLES, default=Role.MEMBER)


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The key itself. Shown once: store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = ApiKeySerializer.Meta.fields + ["key"]


class ApiKeyFilterSet(filters.FilterSet):
    active = BooleanFilter(field_name="revoked_at", lookup_expr="isnull", label="Active (not revoked)")

    class Meta:
        model = ApiKey
        fields = ["role", "active"]


class ApiKeyViewSet(
    TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """API keys of the active team. Listing needs any role; creating and revoking need admin.
    The key is returned once, on creation; only its hash is stored."""

    write_action = access.MANAGE
    serializer_class = ApiKeySerializer
    filterset_class = ApiKeyFilterSet
    ordering_fields = ["created_at", "last_used_at", "name"]

    def base_queryset(self):
        return ApiKey.objects.select_related("team", "created_by")

    def scope_queryset(self, queryset):
        team = self.team
        if team is None or (access.api_key_of(self.request) is not None and self.request.method in SAFE_METHODS):
            # Keys never read keys, so a leaked key cannot list its siblings (a write by a key is
            # refused with 403: no key holds the admin role).
            return queryset.none()
        return queryset.filter(team=team)

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request, *args, **kwargs):
        data = ApiKeyCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key, raw = services.api_key_create(team=self.team, created_by=access.actor_user(request), **data.validated_data)
        body = ApiKeySerializer(key, context={"request": request}).data | {"key": raw}
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        key = services.api_key_revoke(key=self.get_object())
        return Response(ApiKeySerializer(key, context={"request": request}).data)
