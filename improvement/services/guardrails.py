"""Guardrail enforcement: retire a variant the guardrails show clearly worse than the control."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from improvement.models import Experiment, Variant
from improvement.trust import experiment_guardrails


@transaction.atomic
def guardrails_enforce(*, experiment: Experiment) -> list[int]:
    """With ``guardrail_auto_stop`` on, retire every active variant clearly worse than the control
    on a guardrail, with the evidence as the reason; returns the ids retired. The control is never
    retired (it is what the others are compared with)."""
    if not experiment.guardrail_auto_stop:
        return []
    variants = list(Variant.objects.filter(experiment=experiment).order_by("id"))
    found = experiment_guardrails(experiment=experiment, variants=variants)
    retired = []
    for row in found["variants"]:
        if not row["breached"]:
            continue
        reason = "Stopped by a guardrail. " + " ".join(c["evidence"] for c in row["checks"] if c["breached"])
        moved = Variant.objects.filter(pk=row["id"], retired_at__isnull=True, is_control=False).update(
            retired_at=timezone.now(), retired_reason=reason[:2000]
        )
        if moved:
            retired.append(row["id"])
    return retired
