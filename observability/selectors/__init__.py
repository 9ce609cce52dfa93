"""Observability reads: dashboards, agent pages, bottlenecks, regressions and recommendations.

One module per topic: ``rollup_reads`` (periods, rollup rows and their figures), ``dashboard``
(dashboard, filters, errors by type, agent detail), ``analysis`` (bottlenecks, regressions,
recommendations), ``verification`` (rollups against raw executions) and ``home`` (the home page
card, a build's executions). The names below are re-exported so ``observability.selectors.<name>``
keeps working (``crucible.views.home_cards`` looks up ``home_card`` here).
"""

from observability.selectors.alerting import alert_tag_window_figures, alert_window_figures
from observability.selectors.analysis import bottlenecks, compared, per_agent, recommendations, regressions
from observability.selectors.dashboard import (
    agent_detail,
    dashboard,
    errors_by_type,
    filter_choices,
    filter_choices_of,
    with_figures,
)
from observability.selectors.home import executions_for_build, home_card
from observability.selectors.live import live_dashboard
from observability.selectors.rollup_reads import (
    AGGREGATES,
    DAY,
    FINE_BUCKETS,
    GROUPS,
    HIST_ARRAY,
    HOUR,
    PERIOD_RULES,
    RAW,
    RAW_AS_ROLLUP_SQL,
    ROLLUP_COLUMNS,
    TimeRange,
    metrics,
    rollup_agent_model_and_series,
    rollup_rows,
    time_range,
)
from observability.selectors.verification import rollups_verify

__all__ = [
    "alert_tag_window_figures",
    "alert_window_figures",
    "AGGREGATES",
    "DAY",
    "FINE_BUCKETS",
    "GROUPS",
    "HIST_ARRAY",
    "HOUR",
    "PERIOD_RULES",
    "RAW",
    "RAW_AS_ROLLUP_SQL",
    "ROLLUP_COLUMNS",
    "TimeRange",
    "agent_detail",
    "bottlenecks",
    "compared",
    "dashboard",
    "with_figures",
    "live_dashboard",
    "errors_by_type",
    "executions_for_build",
    "filter_choices",
    "filter_choices_of",
    "home_card",
    "metrics",
    "per_agent",
    "recommendations",
    "regressions",
    "rollup_agent_model_and_series",
    "rollup_rows",
    "rollups_verify",
    "time_range",
]
