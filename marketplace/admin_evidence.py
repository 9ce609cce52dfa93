"""Admin screens of measured evidence (imported by ``marketplace.admin``)."""

from __future__ import annotations

from django.contrib import admin

from marketplace.admin import ReadOnlyAdminMixin
from marketplace.models import (
    AgentEvidenceWithoutTeam,
    EvidenceSharing,
    TeamBuildDaily,
    VersionEvidenceDaily,
    VersionEvidenceHistogram,
    VersionExperimentOutcome,
)
from marketplace.services.evidence import evidence_sharing_set


@admin.register(EvidenceSharing)
class EvidenceSharingAdmin(admin.ModelAdmin):
    list_display = ["team", "share_evidence", "updated_by", "updated_at"]
    list_filter = ["share_evidence"]
    search_fields = ["team__slug", "team__name"]
    fields = ["team", "share_evidence", "updated_by", "updated_at"]
    readonly_fields = ["updated_by", "updated_at"]
    autocomplete_fields = ["team"]

    def save_model(self, request, obj, form, change):
        # The same service as the page and the API (the search figures are refreshed with it).
        evidence_sharing_set(team=obj.team, share_evidence=obj.share_evidence, user=request.user)


@admin.register(VersionEvidenceDaily)
class VersionEvidenceDailyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["day", "version", "team", "executions", "successes", "priced", "builds", "build_successes"]
    list_filter = ["day"]
    list_select_related = ["version__agent__team", "team"]
    raw_id_fields = ["version", "agent", "team"]
    show_full_result_count = False


@admin.register(VersionEvidenceHistogram)
class VersionEvidenceHistogramAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The worker's merged period histograms (derived rows: read-only; the job rewrites them)."""

    list_display = ["through_day", "days", "version", "team", "computed_at"]
    list_filter = ["days", "through_day"]
    list_select_related = ["version__agent__team", "team"]
    raw_id_fields = ["version", "team"]
    show_full_result_count = False


@admin.register(TeamBuildDaily)
class TeamBuildDailyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["day", "team", "builds", "build_successes", "build_quality_count"]
    list_filter = ["day"]
    list_select_related = ["team"]


@admin.register(VersionExperimentOutcome)
class VersionExperimentOutcomeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["concluded_at", "version", "team", "experiment_id", "outcome", "samples", "low", "high"]
    list_filter = ["outcome"]
    list_select_related = ["version__agent__team", "team"]


@admin.register(AgentEvidenceWithoutTeam)
class AgentEvidenceWithoutTeamAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Search figures as one measuring team sees them (derived rows: read-only; the refresh rewrites them)."""

    list_display = ["agent", "team", "success_rate", "cost_per_run", "teams", "failure_warning"]
    list_filter = ["failure_warning"]
    list_select_related = ["agent__team", "team"]
    raw_id_fields = ["agent", "team"]
    show_full_result_count = False
