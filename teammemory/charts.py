"""Plotly specs for the pages ({"data": traces, "layout": layout}, drawn by static/crucible/charts.js)."""

from __future__ import annotations


def quality_trend_chart(trend: dict) -> dict:
    weeks = trend["weeks"]
    if not weeks:
        return {"data": [], "layout": {}}
    x = [w["week"] for w in weeks]
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Average quality",
            "x": x,
            "y": [None if w["avg_quality"] is None else round(w["avg_quality"], 2) for w in weeks],
            "customdata": [w["builds"] for w in weeks],
            "hovertemplate": "Week of %{x}<br>Quality %{y:.1f}<br>%{customdata} builds<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": "Success rate (%)",
            "x": x,
            "yaxis": "y2",
            "y": [None if w["success_rate"] is None else round(w["success_rate"] * 100, 1) for w in weeks],
            "line": {"dash": "dot"},
        },
    ]
    if any("quality_fit" in w for w in weeks):
        direction = trend["quality"]["direction"]
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"Quality trend ({direction})",
                "x": x,
                "y": [round(w.get("quality_fit"), 2) if w.get("quality_fit") is not None else None for w in weeks],
                "line": {"dash": "dash", "width": 2},
                "hoverinfo": "skip",
            }
        )
    layout = {
        "yaxis": {"title": {"text": "Quality (0-100)"}, "range": [0, 100]},
        "yaxis2": {"title": {"text": "Success rate (%)"}, "overlaying": "y", "side": "right", "range": [0, 100]},
        "xaxis": {"type": "date"},
        "margin": {"l": 55, "r": 55, "t": 20, "b": 40},
    }
    return {"data": data, "layout": layout}


def success_by_stack_chart(by_stack: list[dict]) -> dict:
    rows = [r for r in by_stack if r["success_rate"] is not None][::-1]
    if not rows:
        return {"data": [], "layout": {}}
    labels = [r["stack_key"] or "(no stack)" for r in rows]
    return {
        "data": [
            {
                "type": "bar",
                "orientation": "h",
                "name": "Success rate (%)",
                "x": [round(r["success_rate"] * 100, 1) for r in rows],
                "y": labels,
                "customdata": [r["builds"] for r in rows],
                "hovertemplate": "%{y}<br>%{x:.1f}% succeed<br>%{customdata} builds<extra></extra>",
            }
        ],
        "layout": {
            "xaxis": {"title": {"text": "Success rate (%)"}, "range": [0, 100]},
            "yaxis": {"automargin": True},
            "margin": {"l": 20, "r": 20, "t": 20, "b": 40},
            "showlegend": False,
        },
    }
