"""The template filters for every figure shown on a page: ``{% load crucible_format %}``.

The rules live in ``crucible.formatting`` (one per kind of figure; the empty value is "—").
"""

from django import template

from crucible import formatting

register = template.Library()

for _name in (
    "number",
    "signed",
    "percent",
    "percent_change",
    "points",
    "duration",
    "money",
    "or_empty",
    "pretty_json",
):
    register.filter(_name, getattr(formatting, _name))

# One colour per state, whichever app the state comes from.
BADGES = {
    "running": "badge-ok",
    "succeeded": "badge-ok",
    "success": "badge-ok",
    "paused": "badge-warn",
    "cancelled": "badge-warn",
    "medium": "badge-warn",
    "failed": "badge-bad",
    "error": "badge-bad",
    "high": "badge-bad",
    # alert rules (alerts app): states and severities
    "firing": "badge-bad",
    "critical": "badge-bad",
    "pending": "badge-warn",
    "warning": "badge-warn",
    "resolved": "badge-ok",
}


@register.filter
def badge(state) -> str:
    """The CSS class of a state's badge: ``<span class="badge {{ status|badge }}">``."""
    return BADGES.get(state, "")
