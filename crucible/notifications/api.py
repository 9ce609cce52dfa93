"""The notifications API: the caller's inbox, the team's webhooks, deliveries and subscriptions."""

from __future__ import annotations

from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crucible import access
from crucible.api.serializers import OutputModelSerializer, ShapeOnlyMixin, StrictFieldsMixin
from crucible.api.viewsets import TeamScopedMixin
from crucible.filters import BooleanFilter, IdFilter
from crucible.notifications import selectors, services
from crucible.notifications.kinds import KIND_CHOICES
from crucible.notifications.models import (
    DeliveryStatus,
    Notification,
    Subscription,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)


class EventSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="uid")
    kind = serializers.CharField()
    title = serializers.CharField()
    body = serializers.CharField()
    url = serializers.CharField()
    payload = serializers.JSONField()
    created_at = serializers.DateTimeField()


class NotificationSerializer(OutputModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    event = EventSerializer(read_only=True)
    is_read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "team", "event", "created_at", "read_at", "is_read"]

    def get_is_read(self, row) -> bool:
        return row.read_at is not None


class MarkReadSerializer(StrictFieldsMixin, serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), max_length=500)


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications changed from unread to read.")
    unread = serializers.IntegerField(help_text="The caller's unread notifications now.")


class UnreadSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class NotificationFilterSet(filters.FilterSet):
    unread = BooleanFilter(field_name="read_at", lookup_expr="isnull", label="Unread only")
    kind = filters.CharFilter(field_name="event__kind")
    team = filters.CharFilter(field_name="team__slug")

    class Meta:
        model = Notification
        fields = ["unread", "kind", "team"]


class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's own inbox (a person's; an API key has none), in the teams they belong to.
    Marking read changes only the caller's rows, so every role may do it."""

    serializer_class = NotificationSerializer
    filterset_class = NotificationFilterSet
    ordering_fields = ["created_at"]
    write_action = access.READ

    def get_queryset(self):
        user = access.actor_user(self.request)
        if user is None:
            return Notification.objects.none()
        return selectors.notification_list(user=user, team_ids=access.readable_team_ids(self.request))

    def _counts(self, marked: int) -> Response:
        return Response({"marked": marked, "unread": self.get_queryset().filter(read_at__isnull=True).count()})

    @extend_schema(request=MarkReadSerializer, responses={200: MarkedSerializer})
    @action(detail=False, methods=["post"])
    def read(self, request):
        data = MarkReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = list(self.get_queryset().filter(pk__in=data.validated_data["ids"]).values_list("pk", flat=True))
        user = access.actor_user(request)
        return self._counts(services.notification_mark_read(user=user, ids=ids) if user else 0)

    @extend_schema(request=None, responses={200: MarkedSerializer})
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        ids = list(self.get_queryset().filter(read_at__isnull=True).values_list("pk", flat=True))
        user = access.actor_user(request)
        return self._counts(services.notification_mark_read(user=user, ids=ids) if user else 0)

    @extend_schema(responses={200: UnreadSerializer})
    @action(detail=False, methods=["get"])
    def unread(self, request):
        return Response({"unread": self.get_queryset().filter(read_at__isnull=True).count()})


# --- webhooks ----------------------------------------------------------------------------------


class WebhookSerializer(OutputModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    kinds = serializers.ListField(child=serializers.ChoiceField(choices=KIND_CHOICES))

    class Meta:
        model = Webhook
        fields = [
            "id",
            "team",
            "name",
            "url",
            "kinds",
            "body_format",
            "is_active",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_at",
        ]


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(help_text="The signing secret (whsec_...). Shown once: store it now.")

    class Meta(WebhookSerializer.Meta):
        fields = WebhookSerializer.Meta.fields + ["secret"]


class WebhookInputSerializer(ShapeOnlyMixin, StrictFieldsMixin, serializers.Serializer):
    # Shape only: the service checks the values and names every bad field in one answer.
    name = serializers.CharField(max_length=100, allow_blank=True)
    url = serializers.CharField(
        max_length=2000, allow_blank=True, help_text="http(s) URL; must resolve to a public address."
    )
    kinds = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Kinds to send; empty or missing: every kind."
    )
    body_format = serializers.CharField(required=False, help_text="standard (default) or slack.")
    is_active = serializers.BooleanField(required=False)


class WebhookFilterSet(filters.FilterSet):
    is_active = BooleanFilter()

    class Meta:
        model = Webhook
        fields = ["is_active", "body_format"]


class WebhookViewSet(
    TeamScopedMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The team's webhooks. Any role reads them (never the secret); admins create, change, test
    and delete them. The secret is returned once, on creation."""

    write_action = access.MANAGE
    serializer_class = WebhookSerializer
    filterset_class = WebhookFilterSet
    ordering_fields = ["name", "created_at"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def base_queryset(self):
        return Webhook.objects.select_related("team")

    @extend_schema(request=WebhookInputSerializer, responses={201: WebhookCreatedSerializer})
    def create(self, request, *args, **kwargs):
        data = WebhookInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = {k: v for k, v in data.validated_data.items() if k != "is_active"}
        hook, secret = services.webhook_create(team=self.team, created_by=access.actor_user(request), **fields)
        return Response(WebhookSerializer(hook).data | {"secret": secret}, status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookInputSerializer, responses={200: WebhookSerializer})
    def partial_update(self, request, *args, **kwargs):
        data = WebhookInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        hook = services.webhook_update(webhook=self.get_object(), **data.validated_data)
        return Response(WebhookSerializer(hook).data)

    @extend_schema(exclude=True)
    def update(self, request, *args, **kwargs):
        return self.partial_update(request, *args, **kwargs)

    @extend_schema(request=None, responses={202: OpenApiResponse(description="A test event was queued.")})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        delivery = services.webhook_test_send(webhook=self.get_object())
        return Response({"delivery": delivery.pk}, status=status.HTTP_202_ACCEPTED)


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "manual", "started_at", "status_code", "duration_ms", "error", "response_excerpt"]


class DeliverySerializer(serializers.ModelSerializer):
    webhook_id = serializers.CharField(source="message_id", help_text="The webhook-id header of every attempt.")
    webhook = serializers.PrimaryKeyRelatedField(read_only=True)
    event = EventSerializer(read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "webhook",
            "webhook_id",
            "event",
            "status",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_duration_ms",
            "last_error",
            "created_at",
            "delivered_at",
        ]


class DeliveryDetailSerializer(DeliverySerializer):
    request_body = serializers.CharField(help_text="The body sent (the same on every attempt).")
    log = AttemptSerializer(many=True, read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = DeliverySerializer.Meta.fields + ["request_body", "log"]


class DeliveryFilterSet(filters.FilterSet):
    # An id from 1 to the largest bigint, as the schema says; one the team does not have finds
    # nothing. A choice among the webhooks was a 400 for ids the schema allowed (?webhook=0).
    webhook = IdFilter(field_name="webhook_id", label="Webhook id")
    status = filters.ChoiceFilter(choices=DeliveryStatus.choices)
    kind = filters.CharFilter(field_name="event__kind")

    class Meta:
        model = WebhookDelivery
        fields = ["webhook", "status", "kind"]


class WebhookDeliveryViewSet(
    TeamScopedMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """The delivery log of the team's webhooks; admins redeliver (same webhook-id)."""

    team_field = "webhook__team"
    write_action = access.MANAGE
    filterset_class = DeliveryFilterSet
    ordering_fields = ["created_at", "attempts"]

    def base_queryset(self):
        queryset = WebhookDelivery.objects.select_related("webhook__team", "event")
        if self.action == "retrieve":
            queryset = queryset.prefetch_related("log")
        return queryset

    def get_serializer_class(self):
        return DeliveryDetailSerializer if self.action in ("retrieve", "redeliver") else DeliverySerializer

    @extend_schema(request=None, responses={202: DeliveryDetailSerializer})
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        delivery = services.webhook_delivery_redeliver(delivery=self.get_object())
        return Response(DeliveryDetailSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


# --- subscriptions -----------------------------------------------------------------------------


class SubscriptionSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    user = serializers.StringRelatedField(
        allow_null=True, help_text="The subscriber's username; null for the team's default (scope 'team')."
    )
    scope = serializers.SerializerMethodField()

    class Meta:
        model = Subscription
        fields = ["id", "team", "scope", "user", "kinds", "channels", "updated_at"]

    def get_scope(self, row) -> str:
        return "team" if row.user_id is None else "user"


class SubscriptionInputSerializer(StrictFieldsMixin, serializers.Serializer):
    scope = serializers.ChoiceField(
        choices=[("user", "The caller's own"), ("team", "The team's default (admins)")], default="user"
    )
    kinds = serializers.ListField(child=serializers.CharField(), required=False, help_text="Empty: every kind.")
    channels = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="in_app and/or email; default: in_app."
    )


class SubscriptionViewSet(TeamScopedMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The active team's default subscription and the caller's own. POST sets one (upsert):
    ``scope=user`` for yourself (member or above), ``scope=team`` for the team's default (admin)."""

    def base_queryset(self):
        return Subscription.objects.select_related("team", "user")

    def scope_queryset(self, queryset):
        team = self.team
        if team is None:
            return queryset.none()
        user = access.actor_user(self.request)
        mine = queryset.filter(team=team, user__isnull=True)
        return mine | queryset.filter(team=team, user=user) if user else mine

    def get_serializer_class(self):
        return SubscriptionSerializer

    @extend_schema(request=SubscriptionInputSerializer, responses={200: SubscriptionSerializer})
    def create(self, request):
        data = SubscriptionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        team = access.acting_team_for(request, access.MANAGE if values["scope"] == "team" else access.WRITE)
        user = access.actor_user(request)
        if values["scope"] == "user" and user is None:
            raise serializers.ValidationError({"scope": ["An API key has no inbox: use scope 'team'."]})
        row = services.subscription_set(
            team=team,
            user=user if values["scope"] == "user" else None,
            kinds=values.get("kinds"),
            channels=values.get("channels"),
        )
        return Response(SubscriptionSerializer(row).data)
