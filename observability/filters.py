"""FilterSets shared by the API lists and the pages."""

from django import forms
from django.utils import timezone
from django_filters import rest_framework as filters

from crucible import access
from crucible.filters import BooleanFilter, IdFilter, IsoDateTimeFilter
from observability.models import (
    AGENT_INDEXED_SORTS,
    ERROR_TYPED_SQL,
    SORT_INDEXED_SQL,
    TRACE_FAILED_SQL,
    TRACE_SORT_INDEXED_SQL,
    Execution,
    ExecutionSource,
    ExecutionStatus,
    ModelPrice,
    Trace,
    execution_value,
    trace_tagged,
)
from observability.selectors import sessions, traces


def _given(form) -> set[str]:
    """The names of the filters a (valid) filter form was given a value for."""
    return {name for name, value in form.cleaned_data.items() if value not in (None, "", [])}


class ExecutionFilterSet(filters.FilterSet):
    """The executions list's filters, pages and API. A list narrowed only by ``SORT_INDEX_FILTERS``
    also says ``duration_ms >= 0`` (true of every execution): the partial indexes that sort by
    duration and cost serve only a query saying it (``observability.models.SORT_INDEXED_SQL``),
    and the planner then chooses between walking them and reading the rows the filters leave.

    A list narrowed by a column with an index of its own (an agent, a variant, a build, a trace
    or client id) does not say it: it reads its rows by that index and sorts them. Walking the
    team-wide sort index for one agent's slowest passed most of the team's executions (an agent's
    runs are not spread evenly over the team's durations; 0.8 s became 3.4-8 s on 10 million).
    Neither does a list narrowed by the error type, whose errors have durations of their own
    (timeouts): it reads the failed runs' index of that type (``execution_team_error_type``, whose
    condition it states as SQL text), nor one narrowed by a source. A model or a version has no
    btree of its own, so without the sort index its list read every execution of the team: 2-3.4 s
    on 10 million, a 503 on a cold cache; with it, a model's slowest take milliseconds. A model, a
    version or a source few or no runs have is read through the bloom index
    (``execution_values_bloom``; the value stated as SQL text, ``filter_value``). The cost
    index holds the unpriced runs first, so the list of them reads them there, not every run of the
    team (docs/observability.md, "Sorting by duration or cost").

    A list narrowed only by ``AGENT_INDEX_FILTERS`` (an agent, its start window, a least duration,
    the unpriced, a status) sorted by duration or cost reads its page's ids from the per-agent
    index alone, which holds both, the id and the status, then those rows: not every run of the
    agent before the sort (``crucible.querysets.DeferredRowsQuerySet``; an agent's failed runs,
    slowest first, were 0.4-0.5 s and a 503 on a cold cache at 49,700 runs)."""

    SORT_INDEX_FILTERS = frozenset(
        {
            "team",
            "status",
            "started_after",
            "started_before",
            "min_duration_ms",
            "model",
            "version",
            "unversioned",
            "unpriced",
        }
    )

    AGENT_INDEX_FILTERS = frozenset(
        {"agent", "team", "started_after", "started_before", "min_duration_ms", "unpriced", "status"}
    )

    team = filters.CharFilter(field_name="team__slug", label="Team slug")
    agent = filters.CharFilter(field_name="agent_name", label="Agent name")
    model = filters.CharFilter(field_name="model", method="filter_value")
    version = filters.CharFilter(field_name="version", method="filter_value")
    unversioned = BooleanFilter(method="filter_unversioned", label="Without a version")
    status = filters.ChoiceFilter(choices=ExecutionStatus.choices)
    source = filters.ChoiceFilter(choices=ExecutionSource.choices, method="filter_value")
    error_type = filters.CharFilter(method="filter_error_type")
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte", label="Started at or after")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt", label="Started before")
    min_duration_ms = filters.NumberFilter(field_name="duration_ms", lookup_expr="gte", label="Duration at least (ms)")
    unpriced = BooleanFilter(field_name="cost", lookup_expr="isnull", label="Unpriced (no cost)")
    variant = IdFilter(field_name="variant_id", label="Variant id")
    build = IdFilter(field_name="build_id", label="Build id")
    trace_id = filters.CharFilter(field_name="trace_id")
    client_id = filters.CharFilter(field_name="client_id")

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        given = _given(self.form)
        if given <= self.SORT_INDEX_FILTERS:
            queryset = queryset.filter(SORT_INDEXED_SQL)
        elif "agent" in given and given <= self.AGENT_INDEX_FILTERS:
            queryset = queryset.rows_deferred(AGENT_INDEXED_SORTS)
        return queryset

    def filter_value(self, queryset, name, value):
        # the value as SQL text: the planner knows whether few runs have it (observability.models.
        # execution_value: the bloom index) or many (a walk of the team's runs)
        return queryset.filter(execution_value(name, value))

    def filter_error_type(self, queryset, name, value):
        # the type is a bound parameter: the condition of its partial index is stated as SQL text
        return queryset.filter(ERROR_TYPED_SQL, error_type=value)

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


class TraceFilterForm(forms.Form):
    """A text search reads a bounded window: the started_after/started_before given, else the
    last ``SEARCH_DEFAULT_DAYS``; a window longer than ``SEARCH_MAX_DAYS`` is an error of ``q``."""

    def clean(self):
        data = super().clean()
        if data.get("q"):
            try:
                self.search_window = traces.search_window(
                    start=data.get("started_after"), end=data.get("started_before"), now=timezone.now()
                )
            except ValueError as exc:
                self.add_error("q", str(exc))
        return data


class TraceFilterSet(filters.FilterSet):
    """Traces (one summary row each) for the traces API and page; ``q`` searches span inputs and
    outputs (PostgreSQL full-text search) within the time window.

    A list not narrowed by ``OWN_INDEX_FILTERS`` also says ``id > 0`` (true of every trace): the
    partial indexes that sort by duration, cost, span count and error count serve only a query
    saying it (``observability.models.TRACE_SORT_INDEXED_SQL``). A list narrowed by an agent, a
    session or an end user reads that column's index and sorts its traces: walking a team-wide
    sort index for them passed every other trace of the team (0.29-0.59 s for an agent with none
    at 229,000 traces). A tag or the failed traces leave the choice to the planner: a tag most
    traces carry is found soonest by walking."""

    OWN_INDEX_FILTERS = frozenset({"agent", "session", "user"})

    agent = filters.CharFilter(field_name="agent_name", label="Agent name")
    agent_id = IdFilter(field_name="agent_id", label="Marketplace agent id")
    status = filters.ChoiceFilter(choices=ExecutionStatus.choices, method="filter_status")
    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte", label="Started at or after")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt", label="Started before")
    session = filters.CharFilter(field_name="session_id", label="Session id")
    user = filters.CharFilter(field_name="end_user_id", label="End user id")
    tag = filters.CharFilter(method="with_tag", max_length=64, label="Tag")
    min_duration_ms = filters.NumberFilter(field_name="duration_ms", lookup_expr="gte", label="Duration at least (ms)")
    max_duration_ms = filters.NumberFilter(field_name="duration_ms", lookup_expr="lte", label="Duration at most (ms)")
    min_cost = filters.NumberFilter(field_name="cost", lookup_expr="gte", label="Cost at least (USD)")
    max_cost = filters.NumberFilter(field_name="cost", lookup_expr="lte", label="Cost at most (USD)")
    q = filters.CharFilter(method="search", max_length=200, label="Text in inputs or outputs")

    class Meta:
        model = Trace
        form = TraceFilterForm
        fields = [
            "agent",
            "agent_id",
            "status",
            "started_after",
            "started_before",
            "session",
            "user",
            "tag",
            "min_duration_ms",
            "max_duration_ms",
            "min_cost",
            "max_cost",
            "q",
        ]

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        given = _given(self.form)
        return queryset if given & self.OWN_INDEX_FILTERS else queryset.filter(TRACE_SORT_INDEXED_SQL)

    def with_tag(self, queryset, name, value):
        return queryset.filter(trace_tagged(value))

    def filter_status(self, queryset, name, value):
        # the failed traces have a partial index of their own, whose condition is stated as SQL text
        return queryset.filter(TRACE_FAILED_SQL) if value == ExecutionStatus.ERROR else queryset.filter(status=value)

    def search(self, queryset, name, value):
        start, end = self.form.search_window
        return traces.traces_matching(
            queryset, team_ids=access.readable_team_ids(self.request), text=value, start=start, end=end
        )


class TraceGroupFilterSet(filters.FilterSet):
    """Filters the traces, then groups them (sessions, end users): the figures count the traces
    that match (started in the window, of the agent, ...)."""

    started_after = IsoDateTimeFilter(field_name="started_at", lookup_expr="gte", label="Started at or after")
    started_before = IsoDateTimeFilter(field_name="started_at", lookup_expr="lt", label="Started before")
    agent = filters.CharFilter(field_name="agent_name", label="Agent name")
    status = filters.ChoiceFilter(choices=ExecutionStatus.choices, label="Trace status")

    group = None  # sessions.sessions_group or sessions.end_users_group

    def filter_queryset(self, queryset):
        return type(self).group(super().filter_queryset(queryset))


class SessionFilterSet(TraceGroupFilterSet):
    user = filters.CharFilter(field_name="end_user_id", label="End user id")
    group = staticmethod(sessions.sessions_group)

    class Meta:
        model = Trace
        fields = ["started_after", "started_before", "agent", "status", "user"]


class EndUserFilterSet(TraceGroupFilterSet):
    user = filters.CharFilter(field_name="end_user_id", lookup_expr="startswith", label="End user id starts with")
    group = staticmethod(sessions.end_users_group)

    class Meta:
        model = Trace
        fields = ["started_after", "started_before", "agent", "status", "user"]
