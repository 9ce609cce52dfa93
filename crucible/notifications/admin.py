"""Admin screens of notifications (registered by crucible/admin.py). Webhooks are created through
the service, so the secret is generated and shown once; deliveries are redelivered through it."""

from __future__ import annotations

from django.contrib import admin, messages

from crucible.notifications import services
from crucible.notifications.models import (
    EmailDelivery,
    Event,
    Notification,
    Subscription,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["title", "kind", "team", "created_at"]
    list_filter = ["kind", "team"]
    search_fields = ["title", "dedupe_key"]
    readonly_fields = ["uid", "team", "kind", "title", "body", "url", "payload", "dedupe_key", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["event", "user", "team", "created_at", "read_at"]
    list_filter = ["team"]
    search_fields = ["user__username", "event__title"]
    raw_id_fields = ["user", "event", "team"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ["team", "user", "kinds", "channels", "updated_at"]
    list_filter = ["team"]
    raw_id_fields = ["user", "team"]


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "url", "body_format", "is_active", "consecutive_failures", "created_at"]
    list_filter = ["is_active", "body_format", "team"]
    search_fields = ["name", "url"]
    readonly_fields = ["consecutive_failures", "disabled_at", "disabled_reason", "created_by", "created_at"]
    raw_id_fields = ["team"]

    def save_model(self, request, obj, form, change):
        fields = {f: form.cleaned_data.get(f) for f in ("name", "url", "kinds", "body_format")}
        if change:
            services.webhook_update(webhook=obj, is_active=form.cleaned_data.get("is_active"), **fields)
            return
        hook, secret = services.webhook_create(team=form.cleaned_data["team"], created_by=request.user, **fields)
        obj.pk = hook.pk
        messages.warning(request, f"Signing secret of {hook.name} (shown once): {secret}")


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "manual", "started_at", "status_code", "duration_ms", "error", "response_excerpt"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "webhook", "status", "attempts", "last_status_code", "created_at", "delivered_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    inlines = [AttemptInline]
    actions = ["redeliver"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Redeliver now (same webhook-id)")
    def redeliver(self, request, queryset):
        for delivery in queryset:
            services.webhook_delivery_redeliver(delivery=delivery)
        self.message_user(request, f"{queryset.count()} delivery(ies) queued.")


@admin.register(EmailDelivery)
class EmailDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "address", "status", "attempts", "sent_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in EmailDelivery._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(admin.ModelAdmin):
    list_display = ["delivery", "number", "manual", "started_at", "status_code", "duration_ms"]
    list_filter = ["manual"]
    readonly_fields = [f.name for f in WebhookAttempt._meta.fields]

    def has_add_permission(self, request):
        return False
