import datetime as dt

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from observability import deletion, services
from observability.models import (
    DailyRollup,
    DayBlockRollup,
    ErrorRollup,
    Execution,
    HourBlockRollup,
    HourlyRollup,
    MinuteRollup,
    ModelPrice,
    RedactionRule,
    SpanPayload,
    Trace,
)
from observability.redaction import pattern_check


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    list_display = [
        "pattern",
        "effective_from",
        "input_per_million",
        "cached_input_per_million",
        "output_per_million",
        "reasoning_per_million",
        "notes",
        "updated_at",
    ]
    search_fields = ["pattern", "notes"]
    list_filter = ["effective_from"]
    ordering = ["pattern", "-effective_from"]


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    """Raw executions are append-only evidence: viewable and deletable, not editable (an edit would
    not reach the rollups; fix data by re-ingesting and rebuilding rollups). Deleting goes through
    ``deletion.executions_delete``, which takes the executions out of the rollups too."""

    list_display = [
        "started_at",
        "team",
        "agent_name",
        "version",
        "model",
        "status",
        "error_type",
        "duration_ms",
        "input_tokens",
        "output_tokens",
        "cost",
        "source",
    ]
    list_filter = ["status", "source", "cost_source", "team"]
    search_fields = ["client_id", "agent_name", "model", "trace_id", "error_type"]
    list_select_related = ["team"]
    raw_id_fields = ["agent", "agent_version", "variant", "build", "api_key"]
    show_full_result_count = False  # no COUNT(*) over millions of rows

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        deletion.executions_delete(executions=[obj])

    def delete_queryset(self, request, queryset):
        deletion.executions_delete(executions=queryset)


class _DerivedRows:
    """Rollup rows are derived from raw executions: rebuilt, never added, edited or deleted by hand
    (a deleted row would make the dashboards and ``observability_rollups --verify-only`` disagree)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RollupAdmin(_DerivedRows, admin.ModelAdmin):
    list_display = [
        "bucket",
        "team",
        "agent_name",
        "model",
        "version",
        "status",
        "executions",
        "duration_sum_ms",
        "input_tokens",
        "output_tokens",
        "cost",
        "unpriced",
    ]
    list_filter = ["status", "team"]
    search_fields = ["agent_name", "model", "version"]
    list_select_related = ["team"]
    show_full_result_count = False
    actions = ["rebuild_days"]

    @admin.action(description="Rebuild the rollups of the selected rows' days from raw executions")
    def rebuild_days(self, request, queryset):
        days = {}
        for row in queryset.select_related("team"):
            day, _ = services.whole_days(row.bucket, row.bucket + dt.timedelta(seconds=1))
            days[(row.team_id, day)] = row.team
        for (_, day), team in sorted(days.items(), key=lambda item: item[0]):
            services.rollups_rebuild(start=day, end=day + dt.timedelta(days=1), team=team)
        self.message_user(request, f"Rebuilt {len(days)} team-day(s) from raw executions.")


admin.site.register(HourlyRollup, RollupAdmin)
admin.site.register(DailyRollup, RollupAdmin)
admin.site.register(MinuteRollup, RollupAdmin)


@admin.register(DayBlockRollup)
class DayBlockRollupAdmin(_DerivedRows, admin.ModelAdmin):
    """Day blocks are compacted from the daily rollups by a job (observability.blocks): read-only."""

    list_display = ["day", "days", "team", "total", "agent_name", "model", "version", "executions", "cost"]
    list_filter = ["total", "team"]
    search_fields = ["agent_name", "model", "version"]
    list_select_related = ["team"]
    show_full_result_count = False


@admin.register(HourBlockRollup)
class HourBlockRollupAdmin(DayBlockRollupAdmin):
    """Hour blocks are compacted from the hourly rollups by the same job: read-only."""

    list_display = ["hour", "hours", "team", "total", "agent_name", "model", "version", "executions", "cost"]


@admin.register(ErrorRollup)
class ErrorRollupAdmin(_DerivedRows, admin.ModelAdmin):
    list_display = ["bucket", "team", "agent_name", "error_type", "executions"]
    list_filter = ["team"]
    search_fields = ["agent_name", "error_type"]
    list_select_related = ["team"]
    show_full_result_count = False


@admin.register(Trace)
class TraceAdmin(_DerivedRows, admin.ModelAdmin):
    """Trace summaries are kept by the span ingest (deleting spans updates them): read-only here."""

    list_display = [
        "started_at",
        "team",
        "trace_id",
        "name",
        "agent_name",
        "status",
        "span_count",
        "error_count",
        "duration_ms",
        "cost",
        "session_id",
        "end_user_id",
    ]
    list_filter = ["status", "team"]
    search_fields = ["=trace_id", "=session_id", "=end_user_id", "agent_name"]
    list_select_related = ["team"]
    show_full_result_count = False


@admin.register(SpanPayload)
class SpanPayloadAdmin(_DerivedRows, admin.ModelAdmin):
    """Span inputs and outputs as stored (after redaction and truncation): read-only; they go with
    their span (deleted with it, or by payload retention)."""

    list_display = ["execution", "team", "started_at", "input_truncated", "output_truncated", "redacted"]
    list_filter = ["redacted", "team"]
    list_select_related = ["team", "execution"]
    show_full_result_count = False


class RedactionRuleForm(forms.ModelForm):
    class Meta:
        model = RedactionRule
        fields = ["team", "name", "pattern", "replacement", "enabled"]

    def clean_pattern(self):
        try:
            pattern_check(self.cleaned_data["pattern"])  # the rule the API and the page apply
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["pattern"]) from None
        return self.cleaned_data["pattern"]


@admin.register(RedactionRule)
class RedactionRuleAdmin(admin.ModelAdmin):
    """A team's redaction rules (applied at ingest, before storage, after the built-in rules)."""

    form = RedactionRuleForm
    list_display = ["name", "team", "pattern", "replacement", "enabled", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "pattern", "team__slug"]
