"""Operator screens: the catalogue, versions, installs, ratings and the moderation queue.
Actions call the same services as the API and pages."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q

from marketplace.models import (
    Agent,
    AgentDailyStat,
    AgentVersion,
    Download,
    Installation,
    InstallEvent,
    NameWord,
    Rating,
    Report,
    TagCount,
)
from marketplace.services.agents import AGENT_EDITABLE_FIELDS, agent_set_listed, agent_update
from marketplace.services.ratings import rating_delete, rating_set_hidden
from marketplace.services.reports import report_action, report_resolve
from marketplace.services.versions import version_unyank, version_yank


class ReadOnlyAdminMixin:
    """Immutable or derived rows: viewable, never edited or deleted by hand (installs, downloads
    and their events feed the agents' counters and daily statistics)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AgentVersionInline(admin.TabularInline):
    model = AgentVersion
    extra = 0
    fields = ["version", "is_release", "is_yanked", "yanked_reason", "download_count", "published_by", "created_at"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "team",
        "category",
        "visibility",
        "is_listed",
        "verified_publisher",
        "latest_version",
        "install_count",
        "active_install_count",
        "download_count",
        "rating_count",
        "average",
        "open_reports",
        "fork_count",
        "updated_at",
    ]
    list_filter = ["is_listed", "visibility", "category", "team__is_verified", "team"]
    search_fields = ["name", "slug", "summary", "team__name", "team__slug", "tags_text"]
    list_select_related = ["team", "latest_version"]
    readonly_fields = [
        "team",
        "slug",
        "created_by",
        "latest_version",
        "install_count",
        "active_install_count",
        "download_count",
        "rating_count",
        "rating_sum",
        "rating_1",
        "rating_2",
        "rating_3",
        "rating_4",
        "rating_5",
        "forked_from",
        "forked_from_version",
        "fork_count",
        "created_at",
        "updated_at",
    ]
    fields = [
        "team",
        "name",
        "slug",
        "summary",
        "description",
        "category",
        "tags",
        "visibility",
        "is_listed",
        "unlisted_reason",
        "created_by",
    ] + readonly_fields[3:]
    inlines = [AgentVersionInline]
    actions = ["unlist", "relist"]

    def has_add_permission(self, request):
        return False  # agents are published by teams (pages or API), with a first version

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(open_report_count=Count("reports", filter=Q(reports__status=Report.Status.OPEN)))
        )

    @admin.display(boolean=True, description="Verified", ordering="team__is_verified")
    def verified_publisher(self, obj):
        return obj.team.is_verified

    @admin.display(description="Avg ★")
    def average(self, obj):
        return obj.rating_average

    @admin.display(description="Open reports", ordering="open_report_count")
    def open_reports(self, obj):
        return obj.open_report_count

    def save_model(self, request, obj, form, change):
        agent_update(
            agent=obj,
            **{name: form.cleaned_data[name] for name in AGENT_EDITABLE_FIELDS if name in form.changed_data},
        )
        if "is_listed" in form.changed_data or "unlisted_reason" in form.changed_data:
            agent_set_listed(
                agent=obj, listed=form.cleaned_data["is_listed"], reason=form.cleaned_data.get("unlisted_reason", "")
            )

    @admin.action(description="Unlist: remove from the marketplace")
    def unlist(self, request, queryset):
        for agent in queryset:
            agent_set_listed(agent=agent, listed=False, reason=f"Unlisted by {request.user.get_username()}")
        self.message_user(request, f"{queryset.count()} agent(s) unlisted.", messages.SUCCESS)

    @admin.action(description="List again")
    def relist(self, request, queryset):
        for agent in queryset:
            agent_set_listed(agent=agent, listed=True)
        self.message_user(request, f"{queryset.count()} agent(s) listed.", messages.SUCCESS)


@admin.register(AgentVersion)
class AgentVersionAdmin(admin.ModelAdmin):
    list_display = [
        "agent",
        "version",
        "is_release",
        "is_yanked",
        "yanked_reason",
        "download_count",
        "published_by",
        "created_at",
    ]
    list_filter = ["is_yanked", "is_release", "agent__category"]
    search_fields = ["agent__name", "agent__slug", "version", "changelog"]
    list_select_related = ["agent__team", "published_by"]
    readonly_fields = [f.name for f in AgentVersion._meta.fields if f.name not in ("is_yanked", "yanked_reason")]
    actions = ["deprecate", "undeprecate"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # immutable; yank with the actions

    def has_delete_permission(self, request, obj=None):
        return False  # a version number is never reused, so a version is never deleted

    @admin.action(description="Deprecate (yank): never installed by default")
    def deprecate(self, request, queryset):
        for version in queryset.select_related("agent"):
            version_yank(version=version, reason=f"Deprecated by an operator ({request.user.get_username()})")
        self.message_user(request, f"{queryset.count()} version(s) yanked.", messages.SUCCESS)

    @admin.action(description="Undo yank")
    def undeprecate(self, request, queryset):
        for version in queryset.select_related("agent"):
            version_unyank(version=version)
        self.message_user(request, f"{queryset.count()} version(s) restored.", messages.SUCCESS)


@admin.register(Installation)
class InstallationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["team", "agent", "version", "pinned", "installed_at", "uninstalled_at"]
    list_filter = ["pinned", ("uninstalled_at", admin.EmptyFieldListFilter), "team"]
    search_fields = ["team__name", "agent__name", "agent__slug"]
    list_select_related = ["team", "agent__team", "version__agent__team"]


@admin.register(InstallEvent)
class InstallEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["created_at", "kind", "agent", "team", "version"]
    list_filter = ["kind"]
    search_fields = ["agent__name", "team__name"]
    list_select_related = ["agent__team", "team", "version__agent__team"]
    date_hierarchy = "created_at"


@admin.register(AgentDailyStat)
class AgentDailyStatAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["day", "agent", "installs", "uninstalls", "downloads"]
    search_fields = ["agent__name"]
    list_select_related = ["agent__team"]
    date_hierarchy = "day"


@admin.register(NameWord)
class NameWordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The vocabulary typo-tolerant search corrects queries against (filled from agent names)."""

    list_display = ["word"]
    search_fields = ["word"]


@admin.register(TagCount)
class TagCountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Agents per tag, kept by triggers on the agents table (empty team: the public, listed agents)."""

    list_display = ["tag", "team_id", "agents"]
    search_fields = ["tag"]
    ordering = ["tag", "team_id"]


@admin.register(Download)
class DownloadAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["day", "team", "version"]
    search_fields = ["team__name", "version__agent__name"]
    list_select_related = ["team", "version__agent__team"]
    date_hierarchy = "day"


@admin.register(Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["agent", "user", "team", "stars", "short_review", "is_hidden", "updated_at"]
    list_filter = ["stars", "is_hidden"]
    search_fields = ["agent__name", "user__username", "review"]
    list_select_related = ["agent__team", "user", "team"]
    readonly_fields = ["agent", "user", "team", "stars", "review", "is_hidden", "created_at", "updated_at"]
    actions = ["hide", "unhide"]

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        rating_delete(rating=obj)  # moves the agent's count, sum and histogram

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        for rating in queryset.select_related("agent"):
            rating_delete(rating=rating)

    @admin.display(description="Review")
    def short_review(self, obj):
        return (obj.review[:80] + "…") if len(obj.review) > 80 else obj.review

    @admin.action(description="Hide review (and leave it out of the rating)")
    def hide(self, request, queryset):
        for rating in queryset:
            rating_set_hidden(rating=rating, hidden=True)
        self.message_user(request, f"{queryset.count()} review(s) hidden.", messages.SUCCESS)

    @admin.action(description="Show review again")
    def unhide(self, request, queryset):
        for rating in queryset:
            rating_set_hidden(rating=rating, hidden=False)
        self.message_user(request, f"{queryset.count()} review(s) shown.", messages.SUCCESS)


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """The moderation queue: open reports first. "Take action" hides a reported review or
    unlists a reported agent; "Dismiss" closes the report without changes."""

    list_display = ["created_at", "status", "reason", "target", "agent", "reporter", "reporter_team", "short_text"]
    list_filter = ["status", "reason"]
    search_fields = ["agent__name", "text", "reporter__username"]
    list_select_related = ["agent__team", "rating__user", "reporter", "reporter_team"]
    readonly_fields = [
        "agent",
        "rating",
        "reporter",
        "reporter_team",
        "reason",
        "text",
        "status",
        "resolved_by",
        "resolved_at",
        "created_at",
    ]
    fields = readonly_fields[:6] + ["resolution_note"] + readonly_fields[6:]
    actions = ["take_action", "dismiss"]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("status", "-created_at")

    @admin.display(description="Target")
    def target(self, obj):
        return f"review by {obj.rating.user} ({obj.rating.stars}★)" if obj.rating_id else "agent"

    @admin.display(description="Text")
    def short_text(self, obj):
        return (obj.text[:80] + "…") if len(obj.text) > 80 else obj.text

    @admin.action(description="Take action: hide the review / unlist the agent")
    def take_action(self, request, queryset):
        done = 0
        for report in queryset.filter(status=Report.Status.OPEN).select_related("agent", "rating"):
            report_action(report=report, by=request.user)
            done += 1
        self.message_user(request, f"{done} report(s) actioned.", messages.SUCCESS)

    @admin.action(description="Dismiss")
    def dismiss(self, request, queryset):
        done = 0
        for report in queryset.filter(status=Report.Status.OPEN):
            report_resolve(report=report, status=Report.Status.DISMISSED, by=request.user)
            done += 1
        self.message_user(request, f"{done} report(s) dismissed.", messages.SUCCESS)


# Deleting a person in the admin would delete their ratings by cascade, behind the agents'
# counters: Django's user admin, extended to delete them through ``rating_delete`` first.
User = get_user_model()
_UserAdmin = type(admin.site._registry[User]) if admin.site.is_registered(User) else admin.ModelAdmin


class UserAdmin(_UserAdmin):
    @staticmethod
    def _delete_ratings(users) -> None:
        for rating in Rating.objects.filter(user__in=users).select_related("agent").order_by("pk"):
            rating_delete(rating=rating)

    @transaction.atomic
    def delete_model(self, request, obj):
        self._delete_ratings([obj])
        super().delete_model(request, obj)

    @transaction.atomic
    def delete_queryset(self, request, queryset):
        self._delete_ratings(queryset)
        super().delete_queryset(request, queryset)


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, UserAdmin)


from marketplace import admin_evidence  # noqa: E402, F401  (the evidence screens register themselves)
