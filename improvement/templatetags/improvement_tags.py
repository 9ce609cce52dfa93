from django import template

register = template.Library()


@register.filter
def pct(value, digits=0):
    """0.4321 -> '43%' (None -> '—')."""
    if value is None:
        return "—"
    return f"{value * 100:.{int(digits)}f}%"


@register.filter
def signed_pct(value, digits=1):
    if value is None:
        return "—"
    return f"{value * 100:+.{int(digits)}f}%"


@register.filter
def num(value, digits=3):
    if value is None:
        return "—"
    return f"{value:.{int(digits)}f}"


@register.filter
def status_badge(status):
    return {"running": "badge-ok", "paused": "badge-warn", "concluded": "", "draft": ""}.get(status, "")
