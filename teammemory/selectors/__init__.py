"""Reads of team memory: build lists, insights, the quality trend, agent outcomes, stack
suggestions and recommendations. Every aggregate is computed by PostgreSQL from the daily rollups
(counts, sums, histograms, regr_* regression sums); Python only arranges the few result rows and
reads percentiles off the summed histogram. What needs raw builds (flaky stacks, the suggestion's
text similarity, evidence lists) reads a bounded window with LIMITs.

One module per topic; this package re-exports the names callers use."""

from teammemory.selectors._common import CANCELLED, FAILED, PERIOD_RULES, SUCCEEDED
from teammemory.selectors.alerting import build_window_figures
from teammemory.selectors.builds import build_detail_queryset, build_executions, build_list
from teammemory.selectors.home import home_card
from teammemory.selectors.insights import (
    agent_outcomes,
    insights_by_component,
    insights_by_stack,
    insights_summary,
    insights_top_errors,
    stack_figures,
    team_insights,
)
from teammemory.selectors.recommendations import flaky_stacks, team_recommendations
from teammemory.selectors.suggestions import components_mentioned, requirements_bounded, stack_suggest
from teammemory.selectors.trends import quality_trend

__all__ = [
    "CANCELLED",
    "FAILED",
    "PERIOD_RULES",
    "SUCCEEDED",
    "agent_outcomes",
    "build_window_figures",
    "build_detail_queryset",
    "build_executions",
    "build_list",
    "components_mentioned",
    "flaky_stacks",
    "home_card",
    "insights_by_component",
    "insights_by_stack",
    "insights_summary",
    "insights_top_errors",
    "quality_trend",
    "requirements_bounded",
    "stack_figures",
    "stack_suggest",
    "team_insights",
    "team_recommendations",
]
