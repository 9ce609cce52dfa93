from django.contrib import admin, messages
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateWorker

from crucible import keycache, services
from crucible.models import ApiKey, Membership, RateCounter, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_verified", "member_count", "created_at"]
    list_filter = ["is_verified"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
    actions = ["mark_verified", "unmark_verified"]

    @admin.display(description="Members")
    def member_count(self, obj):
        return obj.memberships.count()

    @admin.action(description="Mark as verified publisher")
    def mark_verified(self, request, queryset):
        updated = queryset.update(is_verified=True)
        self.message_user(request, f"{updated} team(s) marked verified.")

    @admin.action(description="Remove verified mark")
    def unmark_verified(self, request, queryset):
        updated = queryset.update(is_verified=False)
        self.message_user(request, f"{updated} team(s) no longer verified.")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role", "team"]
    search_fields = ["user__username", "user__email", "team__name"]
    autocomplete_fields = ["user", "team"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created here with a name and team; the key itself is shown once in the message."""

    list_display = ["name", "team", "display", "role", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["role", "team", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "team__name"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at", "created_by"]
    fields = ["team", "name", "role", "prefix", "created_by", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return
        key, raw = services.api_key_create(team=obj.team, name=obj.name, role=obj.role, created_by=request.user)
        obj.pk = key.pk
        obj.prefix = key.prefix
        self.message_user(request, f"New API key (shown once, copy it now): {raw}", messages.WARNING)

    @admin.action(description="Revoke selected keys")
    def revoke(self, request, queryset):
        updated = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        for key_id in queryset.values_list("pk", flat=True):
            keycache.forget(key_id=key_id)  # other processes: within API_KEY_CACHE_SECONDS
        self.message_user(request, f"{updated} key(s) revoked.")


@admin.register(RateCounter)
class RateCounterAdmin(admin.ModelAdmin):
    """Rate-limit windows (API throttles, failed logins); deleting one lifts that limit now."""

    list_display = ["key", "count", "expires_at"]
    search_fields = ["key"]
    readonly_fields = ["key", "count", "expires_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ProcrastinateWorker)
class WorkerAdmin(admin.ModelAdmin):
    """The background workers' heartbeats (procrastinate's own table; read-only here)."""

    list_display = ["id", "last_heartbeat", "heartbeat_age"]
    ordering = ["-last_heartbeat"]

    @admin.display(description="Seconds since heartbeat")
    def heartbeat_age(self, obj):
        return round((timezone.now() - obj.last_heartbeat).total_seconds(), 1)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


from crucible.notifications import admin as notifications_admin  # noqa: E402, F401  (registers its screens)
