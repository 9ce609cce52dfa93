"""Team memory pages: insights (landing page), build list and detail, stack suggestion form."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from crucible import access
from crucible.lists import FilteredListView
from crucible.pages import TeamPageMixin
from teammemory import charts
from teammemory.experiments import recommendation_experiment_start, with_experiments
from teammemory.filters import BuildFilterSet
from teammemory.forms import PeriodForm, SuggestionForm
from teammemory.selectors import builds as build_selectors
from teammemory.selectors import insights as insight_selectors
from teammemory.selectors import recommendations as recommendation_selectors
from teammemory.selectors import suggestions as suggestion_selectors


class IndexView(TeamPageMixin, TemplateView):
    """Insights of the active team: key figures, quality trend, success by stack, recent builds,
    recommendations."""

    template_name = "teammemory/index.html"
    replica_reads = True  # may read from the read replica (crucible.db_router)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        form = PeriodForm(self.request.GET)
        period = form.period
        since, until = period.start, period.end
        insights = insight_selectors.team_insights(team=self.team, since=since, until=until)
        recommendations = recommendation_selectors.team_recommendations(
            team=self.team, since=since, until=until, insights=insights
        )
        context.update(
            form=form,
            period=period,
            period_query=urlencode(period.query()),
            insights=insights,
            summary=insights["summary"],
            trend=insights["trend"],
            recommendations=with_experiments(team=self.team, recommendations=recommendations["recommendations"]),
            trend_chart=charts.quality_trend_chart(insights["trend"]),
            stack_chart=charts.success_by_stack_chart(insights["by_stack"]),
            recent_builds=build_selectors.build_list(team_ids=[self.team.pk])[:10],
        )
        return context


class RecommendationExperimentView(TeamPageMixin, View):
    """ "Start an experiment" on a recommendation, recomputed for the page's period."""

    http_method_names = ["post"]

    def post(self, request):
        query = request.POST.get("query", "")
        period = PeriodForm(QueryDict(query)).period
        recommendations = recommendation_selectors.team_recommendations(
            team=self.team, since=period.start, until=period.end
        )["recommendations"]
        try:
            experiment, created = recommendation_experiment_start(
                team=self.team,
                recommendations=recommendations,
                kind=request.POST.get("kind", ""),
                agent=request.POST.get("agent", ""),
                user=request.user,
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect(f"{reverse('teammemory:index')}?{query}")
        messages.success(request, f"Experiment '{experiment.name}' {'created' if created else 'already open'}.")
        return redirect("improvement:experiment-detail", pk=experiment.pk)


class BuildListView(FilteredListView):
    template_name = "teammemory/build_list.html"
    filterset_class = BuildFilterSet
    sorts = {"started": ("started_at",), "quality": ("quality",), "duration": ("duration_ms",), "cost": ("cost",)}
    default_ordering = "-started"
    item_name = ("build", "builds")

    def get_queryset(self):
        return build_selectors.build_list(team_ids=[self.team.pk])


class BuildDetailView(TeamPageMixin, TemplateView):
    template_name = "teammemory/build_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        build = get_object_or_404(build_selectors.build_detail_queryset(team_ids=[self.team.pk]), pk=kwargs["pk"])
        executions = build_selectors.build_executions(build=build)
        context.update(build=build, executions=executions)
        return context


class SuggestView(TeamPageMixin, TemplateView):
    """The stack suggestion form. Computing suggestions writes nothing, so viewers may use it."""

    template_name = "teammemory/suggest.html"
    write_action = access.READ

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("form", SuggestionForm())
        return context

    def post(self, request, *args, **kwargs):
        form = SuggestionForm(request.POST)
        result = None
        if form.is_valid():
            data = form.cleaned_data
            result = suggestion_selectors.stack_suggest(
                team=self.team,
                requirements=data["requirements"],
                require=data["require"],
                exclude=data["exclude"],
                prefer=data["prefer"],
                limit=data["limit"],
            )
        status = 200 if form.is_valid() else 400
        return self.render_to_response(self.get_context_data(form=form, result=result), status=status)
