"""The metrics a rule can watch: each reads one figure of a window (``observability.selectors.
alert_window_figures``) and names its sample size. A new metric is one entry here.

Executions' metrics come from ``observability.selectors.alert_window_figures`` (scoped by agent,
model, version), or ``alert_tag_window_figures`` for rules scoped by a tag (raw tagged executions:
rollups have no tags); the build failure rate from ``teammemory.selectors.build_window_figures``
and guardrail breaches from ``improvement.selectors.experiment_guardrail_breaches`` (both
team-wide: builds and experiments carry no agent/model/version/tag scope)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from alerts.models import Metric
from crucible import formatting


@dataclass(frozen=True)
class MetricSpec:
    key: str
    label: str
    unit: str  # what the threshold is in, for people
    show: Callable[[object], str] = formatting.number
    samples_key: str = "executions"
    source: str = "executions"  # "builds" or "experiments": team-wide, no agent/model/version/tag scope

    @property
    def needs_quality(self) -> bool:
        return self.samples_key == "quality_samples"

    def value(self, figures: dict) -> float | None:
        raw = figures.get(self.key)
        return None if raw is None else float(raw)

    def samples(self, figures: dict) -> int:
        return int(figures.get(self.samples_key) or 0)

    def display(self, value) -> str:
        return self.show(value)


_one_decimal = partial(formatting.number, digits=1)

METRICS = {
    spec.key: spec
    for spec in (
        MetricSpec(Metric.ERROR_RATE, "Error rate", "a rate from 0 to 1 (0.05 = 5%)", formatting.percent),
        MetricSpec(Metric.P95, "p95 duration", "milliseconds", formatting.duration),
        MetricSpec(Metric.P99, "p99 duration", "milliseconds", formatting.duration),
        MetricSpec(Metric.EXECUTIONS, "Executions", "executions in the window"),
        MetricSpec(Metric.COST, "Cost over the window", "USD", formatting.money),
        MetricSpec(Metric.TOKENS, "Tokens per execution", "tokens (input + output)", _one_decimal),
        MetricSpec(Metric.UNPRICED, "Unpriced executions", "executions with no price"),
        MetricSpec(Metric.QUALITY, "Average quality", "0-100", _one_decimal, samples_key="quality_samples"),
        MetricSpec(
            Metric.BUILD_FAILURE_RATE,
            "Build failure rate",
            "a rate from 0 to 1 (0.2 = 20%)",
            formatting.percent,
            samples_key="builds",
            source="builds",
        ),
        MetricSpec(
            Metric.GUARDRAIL_BREACHES,
            "Experiment guardrail breaches",
            "breaches detected in the window (0 = none)",
            samples_key="checked",
            source="experiments",
        ),
    )
}
