from django.contrib import admin

from teammemory import deletion
from teammemory.models import (
    Build,
    BuildAgent,
    BuildAgentDailyRollup,
    BuildDailyRollup,
    BuildError,
    BuildErrorDailyRollup,
    QualityTrendWatch,
)


class _ViewOnly:
    """A build's agents and errors feed the daily rollups: they change only through build reports."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BuildAgentInline(_ViewOnly, admin.TabularInline):
    model = BuildAgent
    extra = 0
    raw_id_fields = ["agent", "agent_version"]


class BuildErrorInline(_ViewOnly, admin.TabularInline):
    model = BuildError
    extra = 0


@admin.register(Build)
class BuildAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "team",
        "project_name",
        "client_build_id",
        "stack_key",
        "status",
        "quality",
        "duration_ms",
        "tokens",
        "cost",
        "started_at",
    ]
    list_filter = ["status", "team", ("started_at", admin.DateFieldListFilter)]
    search_fields = ["client_build_id", "project_name", "stack_key", "requirements"]
    date_hierarchy = "started_at"
    readonly_fields = [
        "team",
        "client_build_id",
        "project_name",
        "requirements",
        "stack",
        "components",
        "stack_key",
        "status",
        "quality",
        "started_at",
        "finished_at",
        "duration_ms",
        "tokens",
        "cost",
        "reported_by",
        "api_key",
        "created_at",
        "requirements_hash",
    ]
    list_select_related = ["team"]
    inlines = [BuildAgentInline, BuildErrorInline]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False  # builds arrive as reports (API, services.build_record), not typed in

    def delete_model(self, request, obj):
        deletion.builds_delete(builds=[obj])  # recomputes the rollups of the build's team-day

    def delete_queryset(self, request, queryset):
        deletion.builds_delete(builds=queryset)

    def get_deleted_objects(self, objs, request):
        # A build's agents and errors cannot be deleted on their own, but go with their build.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed -= {BuildAgent._meta.verbose_name, BuildError._meta.verbose_name}
        return deleted, counts, perms_needed, protected


@admin.register(BuildError)
class BuildErrorAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ["id", "error_type", "short_message", "build"]
    list_filter = ["build__team", "build__status"]
    search_fields = ["error_type", "message", "build__client_build_id"]
    raw_id_fields = ["build"]
    list_select_related = ["build"]

    @admin.display(description="Message")
    def short_message(self, obj):
        return obj.message[:100]


@admin.register(BuildAgent)
class BuildAgentAdmin(_ViewOnly, admin.ModelAdmin):
    list_display = ["id", "build", "agent", "agent_version"]
    list_filter = ["build__team", "build__status"]
    search_fields = ["agent__slug", "agent__name", "agent_version__version", "build__client_build_id"]
    raw_id_fields = ["build", "agent", "agent_version"]
    list_select_related = ["build", "agent__team", "agent_version__agent__team"]


class _RollupAdmin(_ViewOnly, admin.ModelAdmin):
    """Rollups are written by build reports and `manage.py teammemory_rollups`: read-only here."""

    list_filter = ["team", ("day", admin.DateFieldListFilter)]
    date_hierarchy = "day"
    list_select_related = ["team"]
    show_full_result_count = False


@admin.register(BuildDailyRollup)
class BuildDailyRollupAdmin(_RollupAdmin):
    list_display = [
        "day",
        "team",
        "stack_key",
        "builds",
        "succeeded",
        "failed",
        "cancelled",
        "scored",
        "duration_sum_ms",
        "tokens",
        "cost",
    ]
    search_fields = ["stack_key"]


@admin.register(BuildAgentDailyRollup)
class BuildAgentDailyRollupAdmin(_RollupAdmin):
    list_display = ["day", "team", "agent", "agent_version_id", "builds", "succeeded", "failed", "cancelled", "scored"]
    list_select_related = ["team", "agent"]
    search_fields = ["agent__slug", "agent__name"]


@admin.register(BuildErrorDailyRollup)
class BuildErrorDailyRollupAdmin(_RollupAdmin):
    list_display = ["day", "team", "error_type", "occurrences", "builds", "failed_builds"]
    search_fields = ["error_type"]


@admin.register(QualityTrendWatch)
class QualityTrendWatchAdmin(admin.ModelAdmin):
    """The last quality trend direction seen per team (written by the hourly check only)."""

    list_display = ["team", "direction", "changed_at", "slope_per_week", "p_value"]
    list_filter = ["direction"]
    search_fields = ["team__slug"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
