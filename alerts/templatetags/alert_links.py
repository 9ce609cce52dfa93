"""One-click "create an alert" links: the rule form, prefilled from what another page shows
(an observability recommendation or regression). The form's fields are alerts' own business, so
the pages that link here pass what they know and this module builds the query string."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import reverse

register = template.Library()

# Recommendation kind -> (metric watched, evidence key whose value prefills the warning threshold)
RECOMMENDATION_METRICS = {
    "slow_agent": ("p95_ms", "p95_ms"),
    "failing_agent": ("error_rate", "threshold"),
    "token_heavy_prompt": ("tokens_per_execution", "input_tokens_per_execution"),
}
METRICS_FROM_CHANGES = {"p95_ms", "error_rate", "tokens_per_execution"}


def _url(*, metric: str, agent: str, warning, name: str) -> str:
    params = {"metric": metric, "agent_name": agent, "name": name[:100], "window_minutes": 60}
    if warning is not None:
        params["warning_threshold"] = round(float(warning), 4)
    return f"{reverse('alerts:rule-create')}?{urlencode(params)}"


@register.simple_tag
def alert_link_for_recommendation(recommendation: dict) -> str:
    """The prefilled rule form for a recommendation, or "" when no metric watches its finding."""
    found = RECOMMENDATION_METRICS.get(recommendation.get("kind"))
    agent = recommendation.get("agent")
    if found is None or not agent:
        return ""
    metric, key = found
    return _url(metric=metric, agent=agent, warning=recommendation["evidence"].get(key), name=f"{agent} {metric}")


@register.simple_tag
def alert_link_for_change(agent: str, change: dict) -> str:
    """The prefilled rule form for one change of a regression: warn above the level it reached."""
    if change.get("metric") not in METRICS_FROM_CHANGES:
        return ""
    metric = change["metric"]
    return _url(metric=metric, agent=agent, warning=change.get("after"), name=f"{agent} {metric}")
