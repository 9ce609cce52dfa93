"""The insights page's charts, built on ``crucible.charts`` (one style; stack names escaped)."""

from __future__ import annotations

from crucible import charts, formatting


def quality_trend_chart(trend: dict) -> dict:
    weeks = trend["weeks"]
    x = [w["week"] for w in weeks]
    builds = [f"{formatting.number(w['builds'])} builds" for w in weeks]
    series = [
        charts.Series(name="Average quality", x=x, y=[w["avg_quality"] for w in weeks], hover=builds),
        charts.Series(
            name="Success rate (%)",
            x=x,
            y=[None if w["success_rate"] is None else w["success_rate"] * 100 for w in weeks],
            secondary_axis=True,
            hover=builds,
        ),
    ]
    if any("quality_fit" in w for w in weeks):
        series.append(
            charts.Series(
                name=f"Quality trend ({trend['quality']['direction']})",
                x=x,
                y=[w.get("quality_fit") for w in weeks],
                kind="dash",
            )
        )
    return charts.line_chart(
        series if weeks else [],
        y_title="Quality (0-100)",
        y_range=[0, 100],
        y2_title="Success rate (%)",
        y2_range=[0, 100],
    )


def success_by_stack_chart(by_stack: list[dict]) -> dict:
    rows = [r for r in by_stack if r["success_rate"] is not None]
    return charts.bar_chart(
        labels=[r["stack_key"] or "(no stack)" for r in rows],
        values=[r["success_rate"] * 100 for r in rows],
        name="Success rate (%)",
        value_title="Success rate (%)",
        value_range=[0, 100],
        horizontal=True,
        hover=[
            f"{formatting.percent(r['success_rate'])} succeed, {formatting.number(r['builds'])} builds" for r in rows
        ],
    )
