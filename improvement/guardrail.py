"""The error-rate guardrail of an experiment: a variant that fails clearly more often than the
control cannot be promoted, whatever its objective says.

A variant breaches the guardrail when it and the control both have ``min_results`` results and its
error rate (1 - success rate) exceeds the control's by more than
``Experiment.guardrail_max_error_rate_increase``.
"""

from __future__ import annotations

from improvement.models import Experiment, Variant


def _error_rate(variant: Variant) -> float | None:
    rate = variant.success_rate
    return None if rate is None else 1.0 - rate


def guardrail_status(*, experiment: Experiment, variants: list[Variant]) -> dict[int, dict]:
    """{variant id: {error_rate, control_error_rate, increase, breached}} for the non-control
    variants; empty when the experiment has no guardrail or no control."""
    limit = experiment.guardrail_max_error_rate_increase
    control = next((variant for variant in variants if variant.is_control), None)
    if limit is None or control is None:
        return {}
    control_rate = _error_rate(control)
    status = {}
    for variant in variants:
        if variant.pk == control.pk:
            continue
        rate = _error_rate(variant)
        judged = (
            rate is not None
            and control_rate is not None
            and min(variant.results_count, control.results_count) >= experiment.min_results
        )
        increase = rate - control_rate if judged else None
        status[variant.pk] = {
            "error_rate": rate,
            "control_error_rate": control_rate,
            "increase": increase,
            "breached": bool(judged and increase > limit),
        }
    return status


def guardrail_breached(*, experiment: Experiment, variant: Variant) -> bool:
    variants = list(Variant.objects.filter(experiment_id=experiment.pk))
    return guardrail_status(experiment=experiment, variants=variants).get(variant.pk, {}).get("breached", False)
