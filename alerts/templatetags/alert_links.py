"""One-click "create an alert" links: the rule form, prefilled from what another page shows
(an observability recommendation or regression). The form's fields are alerts' own business, so
the pages that link here pass what they know and this module builds the query string."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.core import signing
from django.urls import reverse

from crucible import access

register = template.Library()

# Recommendation kind -> (metric watched, evidence key whose value prefills the warning threshold)
RECOMMENDATION_METRICS = {
    "slow_agent": ("p95_ms", "p95_ms"),
    "failing_agent": ("error_rate", "threshold"),
    "token_heavy_prompt": ("tokens_per_execution", "input_tokens_per_execution"),
}
METRICS_FROM_CHANGES = {"p95_ms", "error_rate", "tokens_per_execution"}


# The one-click button posts the prefilled values signed with the finding's team, so only a
# finding this server showed to that team can become its rule (alerts.views.RuleFromFindingView).
FINDING_SALT = "alerts.rule-from-finding"


def _params(*, metric: str, agent: str, warning, name: str) -> dict:
    params = {"metric": metric, "agent_name": agent, "name": name[:100], "window_minutes": 60}
    if warning is not None:
        params["warning_threshold"] = round(float(warning), 4)
    return params


def _recommendation_params(recommendation: dict) -> dict | None:
    found = RECOMMENDATION_METRICS.get(recommendation.get("kind"))
    agent = recommendation.get("agent")
    if found is None or not agent:
        return None
    metric, key = found
    return _params(metric=metric, agent=agent, warning=recommendation["evidence"].get(key), name=f"{agent} {metric}")


def _change_params(agent: str, change: dict) -> dict | None:
    if change.get("metric") not in METRICS_FROM_CHANGES:
        return None
    metric = change["metric"]
    return _params(metric=metric, agent=agent, warning=change.get("after"), name=f"{agent} {metric}")


def _url(params: dict | None) -> str:
    return f"{reverse('alerts:rule-create')}?{urlencode(params)}" if params else ""


def finding_token(*, team_id: int, params: dict) -> str:
    return signing.dumps({"team": team_id, "rule": params}, salt=FINDING_SALT)


def finding_load(token: str) -> dict:
    """``{"team": id, "rule": params}`` of a token built above; ``signing.BadSignature`` otherwise."""
    return signing.loads(token, salt=FINDING_SALT)


def _token(context, params: dict | None) -> str:
    team = context.get("team") or access.active_team(context["request"])
    return finding_token(team_id=team.pk, params=params) if params and team is not None else ""


@register.simple_tag
def alert_link_for_recommendation(recommendation: dict) -> str:
    """The prefilled rule form for a recommendation, or "" when no metric watches its finding."""
    return _url(_recommendation_params(recommendation))


@register.simple_tag
def alert_link_for_change(agent: str, change: dict) -> str:
    """The prefilled rule form for one change of a regression: warn above the level it reached."""
    return _url(_change_params(agent, change))


@register.simple_tag(takes_context=True)
def alert_finding_for_recommendation(context, recommendation: dict) -> str:
    """The signed values the one-click button posts for a recommendation ("" when none)."""
    return _token(context, _recommendation_params(recommendation))


@register.simple_tag(takes_context=True)
def alert_finding_for_change(context, agent: str, change: dict) -> str:
    """The signed values the one-click button posts for one change of a regression."""
    return _token(context, _change_params(agent, change))
