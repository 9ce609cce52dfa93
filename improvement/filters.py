"""FilterSets shared by the API and the pages."""

from django.db.models import Q
from django_filters import rest_framework as filters

from crucible.filters import BooleanFilter, IdFilter, IsoDateTimeFilter
from improvement.models import Assignment, Experiment, Rollout, RolloutStatus, Status, Strategy, Variant


class ExperimentFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="filter_q", label="Search", help_text="In the name or the description.")
    name = filters.CharFilter(lookup_expr="icontains")
    status = filters.MultipleChoiceFilter(choices=Status.choices)
    strategy = filters.ChoiceFilter(choices=Strategy.choices)
    agent = IdFilter(field_name="agent_id", label="Agent id")
    has_winner = BooleanFilter(field_name="winner", lookup_expr="isnull", exclude=True, label="Has a winner")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte", label="Created at or after")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt", label="Created before")

    class Meta:
        model = Experiment
        fields = ["q", "name", "status", "strategy", "agent", "has_winner", "created_after", "created_before"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(description__icontains=value))


class VariantFilterSet(filters.FilterSet):
    experiment = IdFilter(field_name="experiment_id")
    experiment_name = filters.CharFilter(field_name="experiment__name")
    name = filters.CharFilter(lookup_expr="icontains")
    is_control = BooleanFilter()
    retired = BooleanFilter(field_name="retired_at", lookup_expr="isnull", exclude=True)
    min_results = filters.NumberFilter(field_name="results_count", lookup_expr="gte")

    class Meta:
        model = Variant
        fields = ["experiment", "experiment_name", "name", "is_control", "retired", "min_results"]


class AssignmentFilterSet(filters.FilterSet):
    experiment = IdFilter(field_name="experiment_id")
    variant = IdFilter(field_name="variant_id")
    has_result = BooleanFilter(field_name="result_at", lookup_expr="isnull", exclude=True)
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Assignment
        fields = ["experiment", "variant", "has_result", "created_after", "created_before"]


class RolloutFilterSet(filters.FilterSet):
    experiment = IdFilter(field_name="experiment_id")
    agent = IdFilter(field_name="agent_id", label="Agent id")
    status = filters.MultipleChoiceFilter(choices=RolloutStatus.choices)

    class Meta:
        model = Rollout
        fields = ["experiment", "agent", "status"]
