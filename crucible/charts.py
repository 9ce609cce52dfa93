"""Chart specs for the pages: ``{"data": [plotly traces], "layout": {...}}``, drawn as they are by
``static/crucible/charts.js``. Every chart of every app is built here, so all share one style and
one rule: **text that reaches plotly is escaped**. Plotly reads a subset of HTML in names, tick
labels and hover text (``<a href>`` becomes a live link, ``<b>``/``<span style>`` restyle), and
agent, variant, version and stack names come from users. ``label()`` escapes ``&``, ``<`` and
``>``; plotly turns the entities back into the characters, as text.

- ``Series``: one named trace (bars, a line, or a stacked area) of x and y values.
- ``bar_chart``: categories (user labels) against values, vertical or horizontal, with optional
  error bars.
- ``line_chart``: series over time (or any x) with one or two y axes.
Drill-down: ``links`` (a URL per point or bar) go into the trace's ``customdata``; charts.js opens
a point's URL when it is clicked (``drill_down``), so a bar leads to the rows behind it.
An empty chart is ``{"data": [], "layout": {...}}``; charts.js then shows the div's
``data-empty`` text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

COLORS = ["#3b5bdb", "#e67700", "#2b8a3e", "#c92a2a", "#7048e8", "#0c8599", "#5c940d", "#d6336c"]
FONT = {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12, "color": "#1f2933"}
STYLE = {
    "margin": {"l": 55, "r": 20, "t": 30, "b": 40},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": FONT,
    "colorway": COLORS,
    "legend": {"orientation": "h", "y": -0.2},
    "height": 300,
    "hovermode": "closest",
}


def label(text) -> str:
    """Text as plotly shows it literally (its markup turned into entities)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _value(value):
    """A y value plotly can draw: Decimals become floats, missing and non-finite values gaps."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float):
        # Six significant digits: more than a chart can show, and a readable hover.
        return float(f"{value:.6g}") if math.isfinite(value) else None
    return value


def _x(value):
    """An x value: dates and times as ISO text, other text escaped (it may be a user's label)."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, str):
        return label(value)
    return _value(value)


@dataclass
class Series:
    name: str
    x: list
    y: list
    kind: str = "line"  # "line", "bar", "area" (stacked) or "dash" (a dashed line, e.g. a fitted trend)
    secondary_axis: bool = False
    hover: list[str] | None = None  # extra text per point, shown under the value (escaped)
    links: list[str] | None = None  # the URL of the rows behind each point (drill-down)

    def trace(self) -> dict:
        trace = {"name": label(self.name), "x": [_x(v) for v in self.x], "y": [_value(v) for v in self.y]}
        if self.kind == "bar":
            trace["type"] = "bar"
        else:
            trace.update(type="scatter", mode="lines" if self.kind in ("area", "dash") else "lines+markers")
            trace["connectgaps"] = False  # a missing value (None) is a gap, not a line across it
            if self.kind == "area":
                trace["stackgroup"] = "one"
            if self.kind == "dash":
                trace["line"] = {"dash": "dash", "width": 2}
        if self.secondary_axis:
            trace["yaxis"] = "y2"
        if self.hover is not None:
            trace["text"] = [label(t) for t in self.hover]
            trace["hovertemplate"] = "%{x}<br>%{y}<br>%{text}<extra>%{fullData.name}</extra>"
        if self.links is not None:
            trace["customdata"] = list(self.links)
        return trace


def _axis(title: str, value_range: list | None = None) -> dict:
    axis = {"title": {"text": label(title)}, "automargin": True}
    if value_range is not None:
        axis["range"] = value_range
    else:
        axis["rangemode"] = "tozero"
    return axis


def chart(traces: list[dict], **layout) -> dict:
    """The spec of any chart: the shared style, then this chart's layout. A chart whose points
    carry links says so (``drill_down``): charts.js then opens a clicked point's URL."""
    spec = {"data": traces, "layout": {**STYLE, **layout}}
    if any(trace.get("customdata") for trace in traces):
        spec["drill_down"] = True
    return spec


def line_chart(
    series: list[Series],
    *,
    y_title: str = "",
    y_range: list | None = None,
    y2_title: str | None = None,
    y2_range: list | None = None,
    x_type: str = "date",
    x_range: list | None = None,
    title: str | None = None,
) -> dict:
    """Series over x (dates by default). Gaps (None) stay gaps: lines are not drawn across them.
    ``x_range`` fixes the axis (e.g. a period's first and last bucket, half a bucket either side)."""
    series = [s for s in series if s.x]
    layout = {"xaxis": {"type": x_type, "automargin": True}, "yaxis": _axis(y_title, y_range)}
    if x_range is not None:
        layout["xaxis"]["range"] = [_x(v) for v in x_range]
    if title:
        layout["title"] = {"text": label(title)}
    if y2_title is not None:
        layout["yaxis2"] = {**_axis(y2_title, y2_range), "overlaying": "y", "side": "right"}
        layout["margin"] = {**STYLE["margin"], "r": 55}
    if len(series) <= 1:
        layout["showlegend"] = False
    return chart([s.trace() for s in series], **layout)


def bar_chart(
    *,
    labels: list,
    values: list,
    name: str,
    value_title: str = "",
    value_range: list | None = None,
    horizontal: bool = False,
    errors: tuple[list, list] | None = None,
    hover: list[str] | None = None,
    title: str | None = None,
    links: list[str] | None = None,
) -> dict:
    """One bar per label (agent, variant, version or stack names: escaped). ``errors`` is
    (above, below) per bar; horizontal bars are drawn top-down in the given order; ``links`` is
    the URL of the rows behind each bar (drill-down)."""
    if not labels:
        return chart([], **({"title": {"text": label(title)}} if title else {}))
    categories = [label(v) for v in labels]
    trace = {"type": "bar", "name": label(name), "cliponaxis": False}
    numbers = [_value(v) for v in values]
    if horizontal:
        trace.update(orientation="h", y=categories[::-1], x=numbers[::-1])
    else:
        trace.update(x=categories, y=numbers)
    if errors is not None:
        above, below = ([_value(v) for v in part] for part in errors)
        key = "error_x" if horizontal else "error_y"
        trace[key] = {"type": "data", "symmetric": False, "array": above, "arrayminus": below}
        if horizontal:
            trace[key].update(array=above[::-1], arrayminus=below[::-1])
    if hover is not None:
        texts = [label(t) for t in hover]
        trace["text"] = texts[::-1] if horizontal else texts
        trace["textposition"] = "none"
        trace["hovertemplate"] = "%{" + ("y" if horizontal else "x") + "}<br>%{text}<extra></extra>"
    if links is not None:
        trace["customdata"] = list(links)[::-1] if horizontal else list(links)
    category_axis = {"type": "category", "automargin": True}
    value_axis = _axis(value_title, value_range)
    layout = {
        "xaxis": value_axis if horizontal else category_axis,
        "yaxis": category_axis if horizontal else value_axis,
        "showlegend": False,
    }
    if title:
        layout["title"] = {"text": label(title)}
    return chart([trace], **layout)
