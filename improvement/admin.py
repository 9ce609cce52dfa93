from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from improvement import services
from improvement.models import (
    Assignment,
    Experiment,
    Rollout,
    RolloutStep,
    RolloutTally,
    UnitAssignment,
    Variant,
    VariantBucket,
    VariantContext,
    VariantDuration,
)

STAT_FIELDS = (
    "results_count",
    "success_count",
    "objective_count",
    "objective_sum",
    "objective_sum_sq",
    "quality_count",
    "quality_sum",
    "quality_sum_sq",
    "duration_sum",
    "duration_sum_sq",
    "tokens_sum",
    "cost_sum",
    "cost_sum_sq",
    "cuped_count",
    "cuped_y_sum",
    "cuped_y_sum_sq",
    "cuped_x_sum",
    "cuped_x_sum_sq",
    "cuped_xy_sum",
)


class VariantInline(admin.TabularInline):
    model = Variant
    extra = 0
    fields = (
        "name",
        "is_control",
        "version_label",
        "retired_at",
        "results_count",
        "success_count",
        "objective_count",
        "objective_sum",
    )
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class ExperimentAdminForm(forms.ModelForm):
    """Runs the service's checks in ``clean`` so errors show next to the fields."""

    class Meta:
        model = Experiment
        fields = ["team", *services.EXPERIMENT_FIELDS]

    def validate_unique(self):
        pass  # the service checks the name per team with a clear message

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        fields = {f: cleaned[f] for f in services.EXPERIMENT_FIELDS if f in cleaned}
        try:
            if self.instance.pk:
                services.experiment_validate(team=self.instance.team, experiment=self.instance, **fields)
            else:
                services.experiment_validate(team=cleaned["team"], **fields)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


class _DeletesRecordedRows:
    """Deleting an experiment or a variant takes its assignments and buckets with it (they cannot
    be deleted on their own): nothing else counts them."""

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed -= {
            Assignment._meta.verbose_name,
            VariantBucket._meta.verbose_name,
            UnitAssignment._meta.verbose_name,
            VariantDuration._meta.verbose_name,
            VariantContext._meta.verbose_name,
            Rollout._meta.verbose_name,
            RolloutStep._meta.verbose_name,
            RolloutTally._meta.verbose_name,
        }
        return deleted, counts, perms_needed, protected


@admin.register(Experiment)
class ExperimentAdmin(_DeletesRecordedRows, admin.ModelAdmin):
    form = ExperimentAdminForm
    list_display = ("name", "team", "status", "strategy", "epsilon", "min_results", "agent", "winner", "created_at")
    list_filter = ("status", "strategy", "team", "created_at")
    search_fields = ("name", "description", "team__name", "team__slug")
    list_select_related = ("team", "agent", "winner")
    raw_id_fields = ("agent",)
    readonly_fields = (
        "status",
        "started_at",
        "concluded_at",
        "winner",
        "promoted_version",
        "promoted_as",
        "source_kind",
        "source_key",
        "srm_status",
        "srm_changed_at",
        "created_by",
        "created_at",
        "updated_at",
    )
    inlines = [VariantInline]
    actions = ["pause_selected", "conclude_selected"]

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields + (("team",) if obj is not None else ())

    def save_model(self, request, obj, form, change):
        # The same rules and writes as the API and pages: through the services (checked in clean).
        fields = {f: form.cleaned_data[f] for f in services.EXPERIMENT_FIELDS if f in form.cleaned_data}
        if change:
            services.experiment_update(experiment=obj, **fields)
        else:
            created = services.experiment_create(team=form.cleaned_data["team"], created_by=request.user, **fields)
            obj.pk = created.pk
            obj.refresh_from_db()

    @admin.action(description="Pause the selected running experiments")
    def pause_selected(self, request, queryset):
        self._each(request, queryset, services.experiment_pause)

    @admin.action(description="Conclude the selected experiments (winner from the evidence)")
    def conclude_selected(self, request, queryset):
        self._each(request, queryset, services.experiment_conclude)

    def _each(self, request, queryset, service):
        done = 0
        for experiment in queryset:
            try:
                service(experiment=experiment)
                done += 1
            except ValidationError as exc:
                self.message_user(request, f"{experiment.name}: {'; '.join(exc.messages)}", messages.WARNING)
        self.message_user(request, f"{done} experiment(s) changed.")


@admin.register(Variant)
class VariantAdmin(_DeletesRecordedRows, admin.ModelAdmin):
    list_display = (
        "name",
        "experiment",
        "team",
        "is_control",
        "retired_at",
        "results_count",
        "success_count",
        "created_at",
    )
    list_filter = ("is_control", ("retired_at", admin.EmptyFieldListFilter), "experiment__status", "team")
    search_fields = ("name", "prompt", "experiment__name")
    list_select_related = ("experiment", "team")
    raw_id_fields = ("experiment", "team")
    readonly_fields = STAT_FIELDS + (
        "agent_version",
        "version_label",
        "model_hints",
        "input_schema",
        "output_schema",
        "retired_at",
        "retired_reason",
        "guardrail_breached_at",
        "guardrail_evidence",
        "created_at",
    )
    actions = ["retire_selected"]

    @admin.action(description="Retire the selected variants")
    def retire_selected(self, request, queryset):
        for variant in queryset:
            try:
                services.variant_retire(variant=variant)
            except ValidationError as exc:
                self.message_user(request, f"{variant}: {'; '.join(exc.messages)}", messages.WARNING)


class _RecordedRows:
    """Assignments and hourly buckets are recorded by selection and results (the report and the
    bandit read them): viewable, never added, edited or deleted by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Assignment)
class AssignmentAdmin(_RecordedRows, admin.ModelAdmin):
    list_display = ("id", "experiment", "variant", "created_at", "result_at")
    list_filter = (("result_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("experiment__name", "variant__name")
    list_select_related = ("experiment", "variant__experiment")
    raw_id_fields = ("experiment", "variant", "team")
    show_full_result_count = False


@admin.register(VariantBucket)
class VariantBucketAdmin(_RecordedRows, admin.ModelAdmin):
    list_display = ("bucket", "experiment", "variant", "assignments", "results", "successes", "objective_sum")
    list_filter = ("bucket",)
    search_fields = ("experiment__name", "variant__name")
    list_select_related = ("experiment", "variant__experiment")
    date_hierarchy = "bucket"


@admin.register(UnitAssignment)
class UnitAssignmentAdmin(_RecordedRows, admin.ModelAdmin):
    """Sticky assignments: which variant each unit keeps for the experiment's life."""

    list_display = ("unit_key", "experiment", "variant", "created_at")
    search_fields = ("unit_key", "experiment__name")
    list_select_related = ("experiment", "variant__experiment")
    raw_id_fields = ("experiment", "variant")
    show_full_result_count = False


class RolloutStepInline(admin.TabularInline):
    model = RolloutStep
    fields = ("action", "share", "evidence", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Rollout)
class RolloutAdmin(_RecordedRows, admin.ModelAdmin):
    """Guarded rollouts: started by promotion, moved by the services (``manage.py improvement_rollouts``)."""

    list_display = ("id", "agent", "candidate", "stable", "share", "status", "next_step_at", "started_at")
    list_filter = ("status", "started_at")
    search_fields = ("agent__name", "experiment__name")
    list_select_related = ("agent", "candidate__agent", "stable__agent")
    raw_id_fields = ("experiment", "agent", "candidate", "stable", "team")
    inlines = [RolloutStepInline]
    actions = ["check_selected"]

    def has_change_permission(self, request, obj=None):
        return obj is None  # the list and its action; a rollout itself changes only through the services

    @admin.action(description="Read the guardrails and advance the selected rollouts when due")
    def check_selected(self, request, queryset):
        for rollout in queryset:
            services.rollout_check(rollout=rollout)
        self.message_user(request, f"{queryset.count()} rollout(s) checked.")


@admin.register(VariantDuration)
class VariantDurationAdmin(_RecordedRows, admin.ModelAdmin):
    """The p95 guardrail's duration histogram (8 bins per doubling), recorded by results."""

    list_display = ("variant", "bin", "count")
    search_fields = ("variant__name", "variant__experiment__name")
    list_select_related = ("variant__experiment",)
    raw_id_fields = ("variant",)


@admin.register(VariantContext)
class VariantContextAdmin(_RecordedRows, admin.ModelAdmin):
    """Each variant's sums within a context bucket (Thompson sampling per bucket)."""

    list_display = ("experiment", "variant", "context", "results", "objective_count", "objective_sum")
    search_fields = ("context", "experiment__name", "variant__name")
    list_select_related = ("experiment", "variant__experiment")
    raw_id_fields = ("experiment", "variant")


@admin.register(RolloutStep)
class RolloutStepAdmin(_RecordedRows, admin.ModelAdmin):
    list_display = ("rollout", "action", "share", "created_at")
    list_filter = ("action",)
    list_select_related = ("rollout",)
    raw_id_fields = ("rollout",)


@admin.register(RolloutTally)
class RolloutTallyAdmin(_RecordedRows, admin.ModelAdmin):
    """Runs of stable and candidate per team and duration bin, recorded by the rollout's results."""

    list_display = ("rollout", "team", "arm", "bin", "results", "successes", "cost_sum")
    list_filter = ("arm",)
    list_select_related = ("rollout", "team")
    raw_id_fields = ("rollout", "team")
