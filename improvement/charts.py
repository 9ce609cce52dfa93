"""The experiment report's charts, built on ``crucible.charts`` (variant names escaped)."""

from __future__ import annotations

from crucible import charts


def report_charts(*, report: dict, timeline: dict) -> dict:
    """Objective by variant (mean and interval), traffic share over time (stacked, %) and
    cumulative results, from ``improvement.selectors.experiment_report`` and
    ``experiment_timeline``."""
    names = {row["id"]: row["name"] for row in report["variants"]}
    times = sorted({p["t"] for p in timeline["points"]})
    per_time_total: dict = {}
    for p in timeline["points"]:
        per_time_total[p["t"]] = per_time_total.get(p["t"], 0) + (p["assignments"] or 0)
    traffic, cumulative = [], []
    for vid, name in names.items():
        by_t = {p["t"]: p for p in timeline["points"] if p["variant_id"] == vid}
        if not by_t:
            continue
        share = [
            100.0 * (by_t[t]["assignments"] or 0) / per_time_total[t] if t in by_t and per_time_total[t] else 0
            for t in times
        ]
        traffic.append(charts.Series(name=name, x=times, y=share, kind="area"))
        running, cum = 0, []
        for t in times:
            if t in by_t:
                running = by_t[t]["cumulative"] or 0
            cum.append(running)
        cumulative.append(charts.Series(name=name, x=times, y=cum, kind="line"))
    scored = [row for row in report["variants"] if row["objective_mean"] is not None]
    return {
        "traffic": charts.line_chart(
            traffic, y_title=f"share of assignments per {timeline['granularity']} (%)", y_range=[0, 100]
        ),
        "cumulative": charts.line_chart(cumulative, y_title="results (cumulative)"),
        "objective": charts.bar_chart(
            labels=[row["name"] for row in scored],
            values=[row["objective_mean"] for row in scored],
            name="objective mean",
            value_title="objective (0-1)",
            value_range=[0, 1],
            errors=(
                [
                    row["objective_high"] - row["objective_mean"] if row["objective_high"] is not None else 0
                    for row in scored
                ],
                [
                    row["objective_mean"] - row["objective_low"] if row["objective_low"] is not None else 0
                    for row in scored
                ],
            ),
        ),
    }
