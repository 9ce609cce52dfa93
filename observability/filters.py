"""FilterSets shared by the API lists and the pages."""

from django_filters import rest_framework as filters

from crucible.filters import IsoDateTimeFilter
from observability.models import Execution, ExecutionSource, ExecutionStatus, ModelPrice


class ExecutionFilterSet(filters.FilterSet):
    team = filters.CharFilter(field_name="team__slug", label="Team slug")
    agent = filters.CharFilter(field_name="agent_name", label="Agent name")
    model = filters.CharFilter(field_name="model")
    version = filters.CharFilter(field_name="version")
    unversioned = filters.BooleanFilter(method="filter_unversioned", label="Without a version")
    status = filters.ChoiceFilter(choices=ExecutionStatus.choices)
    source = filters.ChoiceFilter(choices=ExecutionSource.choices)
    error_type = filters.CharFilter(field_name="error_type")
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte", label="Started at or after")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt", label="Started before")
    min_duration_ms = filters.NumberFilter(field_name="duration_ms", lookup_expr="gte", label="Duration at least (ms)")
    unpriced = filters.BooleanFilter(field_name="cost", lookup_expr="isnull", label="Unpriced (no cost)")
    variant = filters.NumberFilter(field_name="variant_id", label="Variant id")
    build = filters.NumberFilter(field_name="build_id", label="Build id")
    trace_id = filters.CharFilter(field_name="trace_id")
    client_id = filters.CharFilter(field_name="client_id")

    def filter_unversioned(self, queryset, name, value):
        # "(unversioned)" on a chart: the runs reported without a version label
        return queryset.filter(version="") if value else queryset.exclude(version="")

    class Meta:
        model = Execution
        fields = [
            "team",
            "agent",
            "model",
            "version",
            "unversioned",
            "status",
            "source",
            "error_type",
            "started_after",
            "started_before",
            "min_duration_ms",
            "unpriced",
            "variant",
            "build",
            "trace_id",
            "client_id",
        ]


class ModelPriceFilterSet(filters.FilterSet):
    pattern = filters.CharFilter(lookup_expr="icontains")
    effective_after = filters.DateFilter(field_name="effective_from", lookup_expr="gte")

    class Meta:
        model = ModelPrice
        fields = ["pattern", "effective_after"]
