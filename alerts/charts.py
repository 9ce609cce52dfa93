"""The rule page's chart: the metric over time with the thresholds drawn on it (crucible.charts)."""

from __future__ import annotations

from alerts.metrics import METRICS
from alerts.models import AlertRule
from crucible import charts


def rule_chart(*, rule: AlertRule, series: list[dict]) -> dict:
    spec = METRICS[rule.metric]
    x = [point["t"] for point in series]
    lines = [
        charts.Series(
            name=spec.label,
            x=x,
            y=[point["value"] for point in series],
            hover=[f"{spec.display(p['value'])}, {p['samples']:,} samples" for p in series],
        )
    ]
    for name, threshold in (("warning", rule.warning_threshold), ("critical", rule.critical_threshold)):
        if threshold is not None:
            lines.append(charts.Series(name=f"{name} threshold", x=x, y=[threshold] * len(x), kind="dash"))
    return charts.line_chart(lines, y_title=f"{spec.label} over {rule.get_window_minutes_display()} ({spec.unit})")
