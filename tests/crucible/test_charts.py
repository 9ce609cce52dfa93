"""crucible.charts: one style, every label escaped, values plotly can draw."""

import datetime as dt
from decimal import Decimal

from crucible import charts


def test_line_chart_keeps_gaps_and_draws_decimals_as_numbers():
    day = dt.date(2026, 11, 1)
    spec = charts.line_chart(
        [charts.Series(name="Cost <i>", x=[day, day + dt.timedelta(days=1)], y=[Decimal("0.12345678"), None])],
        y_title="USD",
    )
    (trace,) = spec["data"]
    assert trace["x"] == ["2026-11-01", "2026-11-02"]
    assert trace["y"] == [0.123457, None]  # a gap stays a gap: no line is drawn across it
    assert trace["name"] == "Cost &lt;i&gt;"
    assert spec["layout"]["font"] == charts.STYLE["font"] and spec["layout"]["showlegend"] is False


def test_bar_chart_escapes_labels_and_hover_text_and_orders_horizontal_bars_top_down():
    spec = charts.bar_chart(
        labels=["first", "<b>second</b>"],
        values=[2, 1],
        name="runs",
        horizontal=True,
        hover=["ok", "<a href='x'>link</a>"],
    )
    (trace,) = spec["data"]
    assert trace["y"] == ["&lt;b&gt;second&lt;/b&gt;", "first"]  # plotly draws the last category on top
    assert trace["x"] == [1, 2]
    assert trace["text"] == ["&lt;a href='x'&gt;link&lt;/a&gt;", "ok"]


def test_an_empty_chart_has_no_traces():
    assert charts.bar_chart(labels=[], values=[], name="x")["data"] == []
    assert charts.line_chart([charts.Series(name="x", x=[], y=[])])["data"] == []
