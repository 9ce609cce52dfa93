"""Observability pages: dashboard, agent page, bottlenecks and regressions, recommendations,
executions. Thin: they read selectors and turn results into tables and plotly chart specs."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.text import Truncator
from django.views import View
from django.views.generic import TemplateView

from crucible import formatting
from crucible.lists import FilteredListView, page_number, page_of, url_with
from crucible.pages import TeamPageMixin
from observability import charts, drilldown, selectors
from observability.experiments import recommendation_experiment_start, with_experiments
from observability.filters import ExecutionFilterSet
from observability.forms import DashboardFilterForm, PeriodForm
from observability.models import Execution
from observability.recommendations import with_change_figures
from observability.selectors.executions import marketplace_agent_id


class PeriodMixin:
    """Reads ?range=&start=&end= into a period; while the form has errors (shown next to their
    fields) the page shows the default period and says so."""

    form_class = PeriodForm

    def get_period(self, form):
        self.period_error = bool(form.is_bound and form.errors)
        return form.period


def agent_rows(agents: list[dict], *, period, filters: dict, query: str) -> list[dict]:
    """The dashboard's agent table, a row per agent as the template shows it: its figures by the
    rules of the template filters (``crucible.formatting``), its agent page with the page's
    ``query`` and the executions behind it with the page's model and status ``filters`` (each
    route reversed once rather than once a row), and the flags that choose its badges. Text, not
    HTML: the template escapes it."""
    agent_url = drilldown.agent_url_maker()
    links = drilldown.period_urls(
        period, [{"agent": a["agent"], "model": filters.get("model"), "status": filters.get("status")} for a in agents]
    )
    number, duration, percent = formatting.number, formatting.duration, formatting.percent
    rows = []
    for a, link in zip(agents, links, strict=True):
        error_rate, executions, unpriced = a["error_rate"], a["executions"], a["unpriced"]
        rows.append(
            {
                "agent": a["agent"],
                "url": f"{agent_url(a['agent'])}?{query}",
                "models": ", ".join(a["models"]),
                "executions_url": link,
                "executions": number(executions),
                "success": percent(a["success_rate"]),
                "failing": error_rate is not None and error_rate >= 0.1,
                "p50": duration(a["p50_ms"]),
                "p95": duration(a["p95_ms"]),
                "p99": duration(a["p99_ms"]),
                "input_tokens": number(a["input_tokens"]),
                "output_tokens": number(a["output_tokens"]),
                "all_unpriced": unpriced == executions,
                "cost": formatting.money(a["cost"]),
                "unpriced": number(unpriced) if unpriced else "",
            }
        )
    return rows


def bottleneck_links(data: dict, *, period, query: str) -> None:
    """The links of the bottlenecks tables' rows, set on each row (routes reversed once, not per
    row and table): ``agent_url`` (its page with the page's ``query``), ``slowest_url`` and
    ``costliest_url`` (its executions of the period, slowest or costliest first)."""
    items = list({id(i): i for i in (*data["by_time"], *data["by_cost"], *data["by_p95"])}.values())
    agent_url = drilldown.agent_url_maker()
    filters = [{"agent": i["agent"]} for i in items]
    slowest = drilldown.period_urls(period, filters, ordering="-duration")
    costliest = drilldown.period_urls(period, filters, ordering="-cost")
    for i, slow, costly in zip(items, slowest, costliest, strict=True):
        i.update(agent_url=f"{agent_url(i['agent'])}?{query}", slowest_url=slow, costliest_url=costly)


def recommendation_links(recommendations: list[dict], *, period, query: str) -> None:
    """The links of each recommendation card, set on it (routes reversed once, not per card):
    ``agent_url`` (its page with the page's ``query``) and ``rows_url`` (the runs behind it)."""
    agent_url = drilldown.agent_url_maker()
    for rec, rows_url in zip(recommendations, drilldown.finding_urls(recommendations, period), strict=True):
        rec.update(agent_url=f"{agent_url(rec['agent'])}?{query}", rows_url=rows_url)


class IndexView(PeriodMixin, TeamPageMixin, TemplateView):
    template_name = "observability/index.html"
    replica_reads = True  # the dashboard may read from the read replica (crucible.db_router)
    agents_per_page = 50

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        base = PeriodForm(self.request.GET)
        period = self.get_period(base)
        data = None
        # The agents of the table's pages up to the one asked for are the ones whose figures are
        # shown (a page past the last is the last: within that many); the others' histograms are
        # not summed.
        figures_for = page_number(self.request) * self.agents_per_page
        if not any(self.request.GET.get(name) for name in ("agent", "model", "status")):
            # Unfiltered: the dashboard's own rows name every agent and model of the period.
            data = selectors.dashboard(team=self.team, period=period, agent_figures=False, figures_for=figures_for)
            choices = selectors.filter_choices_of(data)
        else:
            choices = selectors.filter_choices(team=self.team, period=period)
        form = DashboardFilterForm(self.request.GET, agents=choices["agents"], models=choices["models"])
        filters = form.cleaned_data if form.is_valid() else {}
        if data is None:
            data = selectors.dashboard(
                team=self.team,
                period=period,
                agent=filters.get("agent") or None,
                model=filters.get("model") or None,
                status=filters.get("status") or None,
                agent_figures=False,
                figures_for=figures_for,
            )
        # The agent table is a list like any other: a page at a time, busiest agents first (the
        # totals, charts and filters still cover every agent). The links keep the period and
        # filters, not the table's page.
        # The figures of the agents shown are computed, not those of the other pages.
        agents = page_of(self.request, data["agents"], per_page=self.agents_per_page, item_name=("agent", "agents"))
        agents.items = selectors.with_figures(agents.items)
        query = url_with(self.request, page=None)[1:]
        context.update(
            form=form,
            period=period,
            data=data,
            charts=charts.series_charts(data["series"], period, filters=data["filters"]),
            agents=agents,
            agent_rows=agent_rows(agents.items, period=period, filters=data["filters"], query=query),
            period_error=self.period_error,
            query=query,
        )
        return context


class AgentView(PeriodMixin, TeamPageMixin, TemplateView):
    template_name = "observability/agent.html"
    replica_reads = True  # the agent's dashboard may read from the read replica (crucible.db_router)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = PeriodForm(self.request.GET)
        period = self.get_period(form)
        data = selectors.agent_detail(team=self.team, name=self.kwargs["name"], period=period)
        if data is None:
            raise Http404("No executions of this agent in this period.")
        context["marketplace_agent_id"] = marketplace_agent_id(team=self.team, agent_name=data["agent"])
        agent_charts = charts.series_charts(data["series"], period, filters={"agent": data["agent"]})
        agent_charts["obs-versions"] = charts.versions_chart(data["versions"], agent=data["agent"], period=period)
        context.update(
            form=form,
            period=period,
            data=data,
            charts=agent_charts,
            period_error=self.period_error,
            query=self.request.GET.urlencode(),
        )
        return context


class BottlenecksView(PeriodMixin, TeamPageMixin, TemplateView):
    template_name = "observability/bottlenecks.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = PeriodForm(self.request.GET)
        period = self.get_period(form)
        compared = selectors.compared(self.team, period)
        data = selectors.bottlenecks(
            team=self.team, period=period, current=compared["current"], figures=compared["figures"]
        )
        query = self.request.GET.urlencode()
        bottleneck_links(data, period=period, query=query)
        context.update(
            form=form,
            period=period,
            data=data,
            chart=charts.time_share_chart(data["by_time"], period=period),
            period_error=self.period_error,
            regressions=with_change_figures(selectors.regressions(team=self.team, period=period, compared=compared)),
            query=query,
        )
        return context


class RecommendationsView(PeriodMixin, TeamPageMixin, TemplateView):
    template_name = "observability/recommendations.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = PeriodForm(self.request.GET)
        period = self.get_period(form)
        recommendations = with_experiments(
            team=self.team, recommendations=selectors.recommendations(team=self.team, period=period)
        )
        query = self.request.GET.urlencode()
        recommendation_links(recommendations, period=period, query=query)
        context.update(
            form=form, period=period, period_error=self.period_error, recommendations=recommendations, query=query
        )
        return context


class RecommendationExperimentView(TeamPageMixin, View):
    """ "Start an experiment" on a recommendation: recomputed for the period of the page, then
    handed to improvement with the variants the finding suggests."""

    http_method_names = ["post"]

    def post(self, request):
        query = request.POST.get("query", "")
        period = PeriodForm(QueryDict(query)).period
        try:
            experiment, created = recommendation_experiment_start(
                team=self.team,
                recommendations=selectors.recommendations(team=self.team, period=period),
                kind=request.POST.get("kind", ""),
                agent=request.POST.get("agent", ""),
                user=request.user,
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect(f"{reverse('observability:recommendations')}?{query}")
        messages.success(request, f"Experiment '{experiment.name}' {'created' if created else 'already open'}.")
        return redirect("improvement:experiment-detail", pk=experiment.pk)


class ExecutionListView(FilteredListView):
    """Raw executions of the active team with the same filters as the API (no total count: the
    table can hold many millions of rows; pages move with Previous/Next links)."""

    template_name = "observability/executions.html"
    filterset_class = ExecutionFilterSet
    per_page = 50
    with_total = False
    sorts = {"started": ("started_at",), "duration": ("duration_ms",), "cost": ("cost",)}
    default_ordering = "-started"
    item_name = ("execution", "executions")
    form_fields = (
        "agent",
        "model",
        "version",
        "status",
        "source",
        "error_type",
        "started_after",
        "started_before",
        "min_duration_ms",
        "unpriced",
    )

    def get_queryset(self):
        return Execution.objects.filter(team=self.team)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        execution_rows(context["listing"])
        return context


def execution_rows(executions) -> None:
    """The list's rows for the template's loop. Each value a row shows costs the template engine a
    lookup, a filter and an escape, a third of the page for 50 rows; so each execution gets here,
    once, what the loop would otherwise compute a value at a time, as text the template escapes:
    its two links (``url``, ``agent_url``: the routes reversed once a page), ``started`` (as the
    ``date`` filter shows it), its figures as shown (``crucible.formatting``, the rules of the
    template filters: ``duration_text``, ``tokens`` as "in / out", ``cost_text``, None when
    unpriced), ``error_title`` (the message cut to 200 characters) and ``source_text``."""
    execution_url, agent_url = drilldown.execution_url_maker(), drilldown.agent_url_maker()
    duration, number, money = formatting.duration, formatting.number, formatting.money
    for execution in executions:
        execution.url = execution_url(execution.pk)
        execution.agent_url = agent_url(execution.agent_name)
        execution.started = dateformat.format(timezone.localtime(execution.started_at), "Y-m-d H:i:s")
        execution.duration_text = duration(execution.duration_ms)
        execution.tokens = f"{number(execution.input_tokens)} / {number(execution.output_tokens)}"
        execution.cost_text = None if execution.cost is None else money(execution.cost)
        execution.error_title = Truncator(execution.error_message).chars(200) if execution.status == "error" else ""
        execution.source_text = execution.get_source_display()
