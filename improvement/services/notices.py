"""What the improvement app tells teams (crucible.notifications): a guardrail breach, a traffic
split that looks wrong (sample ratio mismatch), and each step of a guarded rollout. Every event
has a dedupe key, so a check run twice (a retried job) publishes once."""

from __future__ import annotations

from django.urls import reverse

from crucible.notifications import notification_publish
from improvement import srm
from improvement.models import Experiment, Rollout, RolloutStep, Variant


def _experiment_url(experiment: Experiment) -> str:
    return reverse("improvement:experiment-detail", kwargs={"pk": experiment.pk})


def guardrail_breach_notify(*, experiment: Experiment, variant: Variant, evidence: str, stopped: bool) -> None:
    """Once per variant: its first breach (``Variant.guardrail_breached_at``)."""
    notification_publish(
        team=experiment.team,
        kind="improvement.guardrail",
        title=f"Experiment {experiment.name}: {variant.name} breaks a guardrail"
        + (" and was stopped" if stopped else ""),
        body=evidence[:10_000],
        url=_experiment_url(experiment),
        payload={"experiment": experiment.pk, "variant": variant.pk, "variant_name": variant.name, "stopped": stopped},
        dedupe_key=f"guardrail-breach:variant:{variant.pk}",
    )


def srm_notify(*, experiment: Experiment, status: str, message: str) -> None:
    """Once per transition to a warning or an alert (the key holds the time of the change)."""
    notification_publish(
        team=experiment.team,
        kind="improvement.srm",
        title=f"Experiment {experiment.name}: traffic split {srm.LABELS[status].lower()} (sample ratio mismatch)",
        body=message,
        url=_experiment_url(experiment),
        payload={"experiment": experiment.pk, "status": status},
        dedupe_key=f"experiment-srm:{experiment.pk}:{status}:{experiment.srm_changed_at.isoformat()}",
    )


ROLLOUT_TITLES = {
    RolloutStep.Action.START: "started: the candidate gets {share:.0%} of runs",
    RolloutStep.Action.ADVANCE: "advanced: the candidate gets {share:.0%} of runs",
    RolloutStep.Action.COMPLETE: "completed: the candidate is now stable",
    RolloutStep.Action.STOP: "stopped by a guardrail: the candidate was yanked",
}


def rollout_step_notify(*, rollout: Rollout, step: RolloutStep) -> None:
    """One event per recorded step (start, advance, complete, stop)."""
    version = rollout.candidate.version
    notification_publish(
        team=rollout.team,
        kind="improvement.rollout",
        title=f"Rollout of {rollout.agent.name} {version} " + ROLLOUT_TITLES[step.action].format(share=step.share),
        body=step.evidence[:10_000],
        url=reverse("marketplace:agent-detail", kwargs={"pk": rollout.agent_id}),
        payload={
            "rollout": rollout.pk,
            "action": step.action,
            "share": step.share,
            "candidate": version,
            "agent": rollout.agent_id,
        },
        dedupe_key=f"rollout-step:{step.pk}",
    )
