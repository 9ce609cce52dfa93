"""FilterSets shared by the alerts API and pages."""

from django.db.models import Q
from django_filters import rest_framework as filters

from alerts.models import WINDOW_CHOICES, AlertRule, AlertTransition, Metric, State
from crucible.filters import BooleanFilter, IdFilter, IsoDateTimeFilter


class AlertRuleFilterSet(filters.FilterSet):
    q = filters.CharFilter(method="filter_q", label="Search", help_text="In the name, agent or model.")
    metric = filters.MultipleChoiceFilter(choices=Metric.choices)
    state = filters.MultipleChoiceFilter(choices=State.choices)
    agent = filters.CharFilter(field_name="agent_name", label="Agent")
    tag = filters.CharFilter(field_name="tag", label="Tag")
    window_minutes = filters.TypedChoiceFilter(choices=WINDOW_CHOICES, coerce=int, label="Window")
    enabled = BooleanFilter()
    muted = BooleanFilter(method="filter_muted", label="Muted now")

    class Meta:
        model = AlertRule
        fields = ["q", "metric", "state", "agent", "tag", "window_minutes", "enabled", "muted"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(agent_name__icontains=value) | Q(model__icontains=value))

    def filter_muted(self, queryset, name, value):
        from django.utils import timezone

        muted = Q(muted_until__gt=timezone.now())
        return queryset.filter(muted) if value else queryset.exclude(muted)


class AlertTransitionFilterSet(filters.FilterSet):
    rule = IdFilter(field_name="rule_id", label="Rule id")
    to_state = filters.MultipleChoiceFilter(choices=State.choices, label="New state")
    after = IsoDateTimeFilter(field_name="tick", lookup_expr="gte", label="At or after")
    before = IsoDateTimeFilter(field_name="tick", lookup_expr="lt", label="Before")

    class Meta:
        model = AlertTransition
        fields = ["rule", "to_state", "after", "before"]
