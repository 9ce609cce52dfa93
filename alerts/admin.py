from django.contrib import admin, messages

from alerts import services
from alerts.models import AlertRule, AlertTransition


class AlertTransitionInline(admin.TabularInline):
    model = AlertTransition
    extra = 0
    can_delete = False
    fields = ["tick", "from_state", "to_state", "severity", "value", "threshold", "samples", "reason", "notified"]
    readonly_fields = fields
    ordering = ["-tick"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "metric", "window_minutes", "state", "severity", "muted_until", "enabled"]
    list_filter = ["state", "metric", "enabled"]
    search_fields = ["name", "team__slug", "agent_name", "tag"]
    list_select_related = ["team"]
    raw_id_fields = ["team", "created_by"]
    readonly_fields = ["state", "severity", "state_since", "breach_since", "last_value", "last_samples", "last_tick"]
    inlines = [AlertTransitionInline]
    actions = ["unmute"]

    def save_model(self, request, obj, form, change):
        """The admin's save goes through the same service as the API and the pages."""
        data = {name: form.cleaned_data[name] for name in services.rules.EDITABLE if name in form.cleaned_data}
        if change:
            services.alert_rule_update(rule=obj, data=data)
            if "muted_until" in form.changed_data:
                services.alert_rule_mute(rule=obj, until=form.cleaned_data["muted_until"])
        else:
            rule = services.alert_rule_create(team=form.cleaned_data["team"], data=data, created_by=request.user)
            obj.pk = rule.pk

    @admin.action(description="Unmute the selected rules")
    def unmute(self, request, queryset):
        for rule in queryset:
            services.alert_rule_mute(rule=rule, until=None)
        self.message_user(request, f"{queryset.count()} rule(s) unmuted.", messages.SUCCESS)


@admin.register(AlertTransition)
class AlertTransitionAdmin(admin.ModelAdmin):
    list_display = ["rule", "team", "tick", "from_state", "to_state", "severity", "value", "notified"]
    list_filter = ["to_state", "severity", "notified"]
    search_fields = ["rule__name", "team__slug"]
    list_select_related = ["rule", "team"]
    readonly_fields = [f.name for f in AlertTransition._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
