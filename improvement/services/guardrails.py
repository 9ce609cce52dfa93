"""Guardrail enforcement and the periodic trust checks: record (and notify) a variant the
guardrails show clearly worse than the control, retire it with ``guardrail_auto_stop``, and
notify a change of the sample-ratio check."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from improvement import srm
from improvement.models import Experiment, Status, Variant
from improvement.services.notices import guardrail_breach_notify, srm_notify
from improvement.trust import experiment_guardrails, experiment_srm


def _evidence(row: dict) -> str:
    return " ".join(check["evidence"] for check in row["checks"] if check["breached"])


@transaction.atomic
def guardrails_enforce(*, experiment: Experiment, variants: list[Variant] | None = None, now=None) -> list[int]:
    """Read the guardrails of every active variant against the control. A variant found clearly
    worse for the first time gets ``guardrail_breached_at`` and its evidence, and the team is told
    once; with ``guardrail_auto_stop`` it is also retired at once, with the evidence as the reason.
    Returns the ids retired. The control is never retired (it is what the others are compared with)."""
    now = now or timezone.now()
    if variants is None:
        variants = list(Variant.objects.filter(experiment=experiment).order_by("id"))
    found = experiment_guardrails(experiment=experiment, variants=variants)
    by_id = {v.pk: v for v in variants}
    retired = []
    for row in found["variants"]:
        if not row["breached"]:
            continue
        evidence = _evidence(row)
        first = Variant.objects.filter(pk=row["id"], guardrail_breached_at__isnull=True).update(
            guardrail_breached_at=now, guardrail_evidence=evidence[:2000]
        )
        stopped = bool(
            experiment.guardrail_auto_stop
            and Variant.objects.filter(pk=row["id"], retired_at__isnull=True, is_control=False).update(
                retired_at=now, retired_reason=("Stopped by a guardrail. " + evidence)[:2000]
            )
        )
        if stopped:
            retired.append(row["id"])
        if first:
            guardrail_breach_notify(experiment=experiment, variant=by_id[row["id"]], evidence=evidence, stopped=stopped)
    return retired


@transaction.atomic
def experiment_srm_check(*, experiment: Experiment, variants: list[Variant] | None = None, now=None) -> str:
    """Store the sample-ratio status when it changes; a change to a warning or an alert is
    notified once (a second run finds the status stored and sends nothing). Returns the status."""
    if variants is None:
        variants = list(Variant.objects.filter(experiment=experiment).order_by("id"))
    found = experiment_srm(experiment=experiment, variants=variants)
    status = found["status"]
    if status == experiment.srm_status:
        return status
    now = now or timezone.now()
    moved = Experiment.objects.filter(pk=experiment.pk, srm_status=experiment.srm_status).update(
        srm_status=status, srm_changed_at=now
    )
    if moved:
        experiment.srm_status, experiment.srm_changed_at = status, now
        if status in (srm.WARNING, srm.ALERT):
            message = " ".join(check["message"] for check in found["checks"] if check["status"] == status)
            srm_notify(experiment=experiment, status=status, message=message)
    return status


def experiments_trust_check(*, now=None) -> int:
    """The periodic check of every running experiment: guardrails (record, notify, auto-stop) and
    the sample-ratio check. Idempotent: what was recorded once is not recorded again. Returns how
    many experiments were checked."""
    now = now or timezone.now()
    checked = 0
    for experiment in Experiment.objects.filter(status=Status.RUNNING).select_related("team").order_by("id"):
        variants = list(Variant.objects.filter(experiment=experiment).order_by("id"))
        guardrails_enforce(experiment=experiment, variants=variants, now=now)
        experiment_srm_check(experiment=experiment, variants=variants, now=now)
        checked += 1
    return checked
