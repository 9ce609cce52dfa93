"""Observability pages: dashboard, agent page, bottlenecks and regressions, recommendations,
executions. Thin: they read selectors and turn results into tables and plotly chart specs."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import Http404
from django.views.generic import TemplateView

from crucible.pages import TeamPageMixin
from observability import selectors
from observability.filters import ExecutionFilterSet
from observability.forms import DashboardFilterForm, PeriodForm
from observability.models import Execution
from observability.recommendations import with_change_figures


def _aware(value):
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class PeriodMixin:
    """Reads ?range=&start=&end= into ``self.period`` (falls back to the last 24 hours with a
    message on bad input)."""

    form_class = PeriodForm

    def get_period(self, form):
        self.period_error = None
        data = form.cleaned_data if form.is_valid() else {}
        try:
            return selectors.time_range(data.get("range") or "24h", _aware(data.get("start")), _aware(data.get("end")))
        except ValidationError as exc:
            self.period_error = "; ".join(exc.messages)
            return selectors.time_range("24h")


def line_chart(title, points, key, *, name=None, kind="scatter", yaxis_title="", fmt=None):
    x = [p["time"] for p in points]
    y = [p[key] for p in points]
    if not points:
        return {"data": [], "layout": {"title": {"text": title}}}
    trace = {"x": x, "y": y, "name": name or title, "type": kind}
    if kind == "scatter":
        trace["mode"] = "lines+markers"
    return {
        "data": [trace],
        "layout": {"title": {"text": title}, "yaxis": {"title": {"text": yaxis_title}, "rangemode": "tozero"}},
    }


def series_charts(series):
    return {
        "obs-executions": line_chart("Executions", series, "executions", kind="bar"),
        "obs-error-rate": line_chart(
            "Error rate",
            [{**p, "error_rate": (p["error_rate"] or 0) * 100} for p in series],
            "error_rate",
            yaxis_title="%",
        ),
        "obs-p95": line_chart("p95 duration", series, "p95_ms", yaxis_title="ms"),
        "obs-cost": line_chart("Cost", series, "cost", kind="bar", yaxis_title="USD"),
    }


class IndexView(PeriodMixin, TeamPageMixin, TemplateView):
    template_name = "observability/index.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        base = PeriodForm(self.request.GET or None)
        period = self.get_period(base)
        choices = selectors.filter_choices(team=self.team, period=period)
        form = DashboardFilterForm(self.request.GET or None, agents=choices["agents"], models=choices["models"])
        filters = form.cleaned_data if form.is_valid() else {}
        data = selectors.dashboard(
            team=self.team,
            period=period,
            agent=filters.get("agent") or None,
            model=filters.get("model") or None,
            status=filters.get("status") or None,
        )
        context.update(
            form=form,
            period=period,
            data=data,
            charts=series_charts(data["series"]),
            period_error=self.period_error,
            query=self.request.GET.urlencode(),
        )
        return context


class AgentView(PeriodMixin, TeamPageMixin, TemplateView):
    template_name = "observability/agent.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = PeriodForm(self.request.GET or None)
        period = self.get_period(form)
        data = selectors.agent_detail(team=self.team, name=self.kwargs["name"], period=period)
        if data is None:
            raise Http404("No executions of this agent in this period.")
        charts = series_charts([{**p, "unpriced": 0} for p in data["series"]])
        charts["obs-versions"] = {
            "data": [
                {
                    "x": [v["version"] for v in data["versions"]],
                    "y": [v["p95_ms"] for v in data["versions"]],
                    "type": "bar",
                    "name": "p95 ms",
                }
            ]
            if data["versions"]
            else [],
            "layout": {"title": {"text": "p95 by version"}, "yaxis": {"title": {"text": "ms"}}},
        }
        context.update(
            form=form,
            period=period,
            data=data,
            charts=charts,
            period_error=self.period_error,
            query=self.request.GET.urlencode(),
        )
        return context


class BottlenecksView(PeriodMixin, TeamPageMixin, TemplateView):
    template_name = "observability/bottlenecks.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = PeriodForm(self.request.GET or None)
        period = self.get_period(form)
        current = selectors.per_agent(self.team, period.start, period.end)
        data = selectors.bottlenecks(team=self.team, period=period, current=current)
        top = data["by_time"][:10]
        chart = {
            "data": [
                {
                    "y": [i["agent"] for i in reversed(top)],
                    "x": [round(i["time_share"] * 100, 1) for i in reversed(top)],
                    "type": "bar",
                    "orientation": "h",
                    "name": "share of time %",
                }
            ]
            if top
            else [],
            "layout": {"title": {"text": "Share of total agent time (%)"}, "margin": {"l": 160}},
        }
        context.update(
            form=form,
            period=period,
            data=data,
            chart=chart,
            period_error=self.period_error,
            regressions=with_change_figures(selectors.regressions(team=self.team, period=period, current=current)),
            query=self.request.GET.urlencode(),
        )
        return context


class RecommendationsView(PeriodMixin, TeamPageMixin, TemplateView):
    template_name = "observability/recommendations.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = PeriodForm(self.request.GET or None)
        period = self.get_period(form)
        context.update(
            form=form,
            period=period,
            period_error=self.period_error,
            recommendations=selectors.recommendations(team=self.team, period=period),
            query=self.request.GET.urlencode(),
        )
        return context


class ExecutionListView(TeamPageMixin, TemplateView):
    """Raw executions of the active team with the same filters as the API (no total count: the
    table can hold many millions of rows; pages move with 'newer'/'older' links)."""

    template_name = "observability/executions.html"
    per_page = 50
    max_page = 100_000  # keeps OFFSET a bigint (a huge ?page= was a 500)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        params = self.request.GET.copy()
        params.pop("page", None)
        filterset = ExecutionFilterSet(
            params, queryset=Execution.objects.filter(team=self.team).order_by("-started_at", "-id")
        )
        try:
            page = min(max(1, int(self.request.GET.get("page", "1"))), self.max_page)
        except ValueError:
            page = 1
        rows = list(filterset.qs[(page - 1) * self.per_page : page * self.per_page + 1]) if filterset.is_valid() else []
        context.update(
            filter=filterset,
            executions=rows[: self.per_page],
            page=page,
            has_next=len(rows) > self.per_page,
            query=params.urlencode(),
        )
        return context
