"""FilterSets shared by the API list and the build list page."""

from __future__ import annotations

from django import forms
from django.contrib.postgres.search import SearchQuery
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema_field

from crucible.filters import IsoDateTimeFilter
from teammemory.models import Build, BuildStatus
from teammemory.stacks import normalize_component

QUALITY_BOUND = {"type": "number", "minimum": 0, "maximum": 100}


class BuildFilterSet(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=BuildStatus.choices, widget=forms.CheckboxSelectMultiple)
    component = filters.CharFilter(
        method="filter_component",
        label="Component",
        help_text="Builds whose stack has this component (aliases match: postgres = postgresql).",
    )
    stack = filters.CharFilter(
        field_name="stack_key", label="Stack", help_text="Exact stack key, e.g. 'python + django + postgresql'."
    )
    project = filters.CharFilter(field_name="project_name", lookup_expr="icontains", label="Project")
    since = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte", label="Started at or after")
    until = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt", label="Started before")
    # Scores are whole numbers, but a bound may be any number (``quality_max=62.5``): the schema
    # says number, not the column's integer.
    quality_min = extend_schema_field(QUALITY_BOUND)(
        filters.NumberFilter(
            field_name="quality", lookup_expr="gte", label="Quality at least", min_value=0, max_value=100
        )
    )
    quality_max = extend_schema_field(QUALITY_BOUND)(
        filters.NumberFilter(
            field_name="quality", lookup_expr="lte", label="Quality at most", min_value=0, max_value=100
        )
    )
    q = filters.CharFilter(method="filter_text", label="Requirements contain", max_length=500)
    client_build_id = filters.CharFilter(label="Client build id")

    class Meta:
        model = Build
        fields = [
            "status",
            "component",
            "stack",
            "project",
            "since",
            "until",
            "quality_min",
            "quality_max",
            "q",
            "client_build_id",
        ]

    def filter_component(self, queryset, name, value):
        return queryset.filter(components__contains=[normalize_component(value)]) if value.strip() else queryset

    def filter_text(self, queryset, name, value):
        if not value.strip():
            return queryset
        return queryset.filter(search=SearchQuery(value, config="english", search_type="websearch"))
