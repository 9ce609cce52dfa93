from django import template

register = template.Library()


@register.filter
def pct(value, digits=1):
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def ms(value):
    """Milliseconds for people: 850 ms, 2.4 s, 3.1 min."""
    if value is None or value == "":
        return "–"
    value = float(value)
    if value < 1000:
        return f"{value:.0f} ms"
    if value < 60_000:
        return f"{value / 1000:.2f} s"
    return f"{value / 60_000:.1f} min"


@register.filter
def usd(value):
    if value is None or value == "":
        return "unpriced"
    value = float(value)
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


@register.filter
def num(value):
    if value is None or value == "":
        return "–"
    value = float(value)
    return f"{value:,.0f}" if value >= 100 or value.is_integer() else f"{value:,.1f}"


@register.filter
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None
