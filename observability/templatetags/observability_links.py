"""Drill-down links for the observability templates (``{% load observability_links %}``)."""

from django import template

from observability import drilldown

register = template.Library()


@register.simple_tag
def executions_url(period=None, ordering="", **filters) -> str:
    """``{% executions_url period agent=a.agent status="error" %}``: the rows behind a figure."""
    if period is None:
        return drilldown.executions_url(ordering=ordering, **filters)
    return drilldown.period_url(period, ordering=ordering, **filters)


@register.simple_tag
def regression_url(regression, period) -> str:
    return drilldown.regression_url(regression, period)


@register.filter
def execution_url(pk) -> str:
    return drilldown.execution_url(pk)


@register.filter
def trace_url(trace_id) -> str:
    return drilldown.trace_url(trace_id) if trace_id else ""
