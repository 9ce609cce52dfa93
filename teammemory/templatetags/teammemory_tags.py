from django import template

register = template.Library()


@register.filter
def duration(ms):
    """Milliseconds as '1h 02m', '3m 20s' or '4.2s'."""
    if ms is None or ms == "":
        return "—"
    seconds = float(ms) / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@register.filter
def pct(value, digits=0):
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def num(value, digits=1):
    if value is None or value == "":
        return "—"
    return f"{float(value):,.{int(digits)}f}"


@register.filter
def signed(value, digits=1):
    if value is None or value == "":
        return "—"
    return f"{float(value):+.{int(digits)}f}"


@register.filter
def status_badge(status):
    return {"succeeded": "badge-ok", "failed": "badge-bad", "cancelled": "badge-warn"}.get(status, "")


@register.filter
def severity_badge(severity):
    return {"high": "badge-bad", "medium": "badge-warn", "low": "", "info": ""}.get(severity, "")


@register.filter
def signed_pct(value, digits=0):
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:+.{int(digits)}f} pts"
