"""Observability pages about raw executions: one execution's page, the streamed export of the
executions list, and the live view of the last 15 or 60 minutes."""

from __future__ import annotations

from django import forms
from django.views.generic import TemplateView

from crucible import periods
from crucible.pages import TeamPageMixin
from observability import charts, conf, drilldown, export, selectors
from observability.models import ExecutionStatus
from observability.selectors.executions import execution_detail_queryset, executions_export_rows
from observability.views import ExecutionListView


class ExecutionDetailView(TeamPageMixin, TemplateView):
    """Every field of one execution, its error, and links to what it belongs to: its agent (here
    and in the marketplace), its version, its variant's experiment, its build and its trace."""

    template_name = "observability/execution.html"

    def object_queryset(self):
        return execution_detail_queryset(team=self.team)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        execution = self.get_object()
        variant = execution.variant
        context.update(
            execution=execution,
            experiment=variant.experiment if variant is not None else None,
            trace_url=drilldown.trace_url(execution.trace_id, span=execution.pk) if execution.trace_id else "",
            same_trace_url=drilldown.executions_url(trace_id=execution.trace_id) if execution.trace_id else "",
            query="",
        )
        return context


class ExecutionExportView(export.ListExportMixin, ExecutionListView):
    """The executions list with its filters and order, as a streamed CSV or JSON Lines file."""

    def export_response(self, queryset, file_format):
        return export.export_response(executions_export_rows(queryset), file_format=file_format)


LIVE_RANGES = ("15m", "1h")


class LiveForm(forms.Form):
    range = forms.ChoiceField(
        choices=[(key, periods.preset(key).label) for key in LIVE_RANGES], required=False, label="Window"
    )
    agent = forms.CharField(required=False, max_length=200, label="Agent")
    status = forms.ChoiceField(choices=[("", "Any status"), *ExecutionStatus.choices], required=False)


class LiveView(TeamPageMixin, TemplateView):
    """The last 15 or 60 minutes in one-minute buckets, drawn again every
    ``CRUCIBLE_OBS_LIVE_REFRESH_SECONDS`` by ``static/crucible/live.js`` (no inline script): it
    fetches this page with ``fragment=1`` and swaps the figures in."""

    template_name = "observability/live.html"
    fragment_template_name = "observability/_live_fragment.html"

    def get_template_names(self):
        return [self.fragment_template_name if self.request.GET.get("fragment") else self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = LiveForm(self.request.GET)
        filters = form.cleaned_data if form.is_valid() else {}
        period = periods.period_resolve(selectors.PERIOD_RULES, range=filters.get("range") or LIVE_RANGES[0])
        agent, status = filters.get("agent") or None, filters.get("status") or None
        data = selectors.live_dashboard(team=self.team, period=period, agent=agent, status=status)
        query = self.request.GET.copy()
        query.pop("fragment", None)
        context.update(
            form=form,
            period=period,
            data=data,
            charts=charts.series_charts(data["series"], period, filters=data["filters"]),
            refresh_seconds=max(1, conf.LIVE_REFRESH_SECONDS),
            fragment_query=(query.urlencode() + "&" if query else "") + "fragment=1",
            query=query.urlencode(),
        )
        return context
