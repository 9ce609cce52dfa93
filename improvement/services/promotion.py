"""Concluding an experiment and promoting its winner to a marketplace agent version."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from improvement.models import Experiment, Status, Variant
from improvement.selectors import experiment_report
from marketplace import services as marketplace_services


@transaction.atomic
def experiment_conclude(
    *,
    experiment: Experiment,
    winner: Variant | None = None,
    use_report_winner: bool = True,
    promote: bool = False,
    user=None,
) -> Experiment:
    """Stop the experiment. The winner is ``winner`` (any variant of it, the team's call) or, by
    default, the variant the report names on the evidence (none when the evidence is not there).
    With ``promote``, the winner's prompt is published as a new version of the experiment's agent."""
    experiment = Experiment.objects.select_for_update(no_key=True).get(pk=experiment.pk)
    if experiment.status == Status.CONCLUDED:
        raise ValidationError({"status": "This experiment is already concluded."})
    if winner is not None and winner.experiment_id != experiment.pk:
        raise ValidationError({"winner": "The winner must be a variant of this experiment."})
    if winner is None and use_report_winner:
        report = experiment_report(experiment=experiment)
        if report["winner"] is not None:
            winner = Variant.objects.get(pk=report["winner"]["id"])
    if promote:
        _check_promotable(experiment, winner)
    experiment.status = Status.CONCLUDED
    experiment.concluded_at = timezone.now()
    experiment.winner = winner
    experiment.save(update_fields=["status", "concluded_at", "winner", "updated_at"])
    _record_version_outcomes(experiment)
    if promote:
        experiment_promote(experiment=experiment, user=user)
    return experiment


def _record_version_outcomes(experiment: Experiment) -> None:
    """Tell the marketplace's version evidence how each variant that runs a marketplace version
    (its ``agent_version``, where variants carry one) fared: won, lost, or no clear winner."""
    outcomes = []
    for variant in Variant.objects.filter(experiment=experiment):
        version_id = getattr(variant, "agent_version_id", None)
        if version_id is None:
            continue
        if experiment.winner_id is None:
            outcome = "no_winner"
        else:
            outcome = "won" if variant.pk == experiment.winner_id else "lost"
        outcomes.append(
            {
                "version_id": version_id,
                "outcome": outcome,
                "samples": variant.results_count,
                "successes": variant.success_count,
            }
        )
    if outcomes:
        marketplace_services.version_experiment_record(
            team_id=experiment.team_id,
            experiment_id=experiment.pk,
            concluded_at=experiment.concluded_at,
            outcomes=outcomes,
        )


def _check_promotable(experiment: Experiment, winner: Variant | None) -> None:
    if winner is None:
        raise ValidationError(
            {"winner": "There is no winner to promote: the evidence does not name one; pick one or keep testing."}
        )
    if experiment.agent_id is None:
        raise ValidationError(
            {"agent": "This experiment tunes no marketplace agent; set its agent to promote the winner."}
        )
    if experiment.promoted_version_id is not None:
        raise ValidationError({"promoted_version": "The winner has already been promoted."})


@transaction.atomic
def experiment_promote(*, experiment: Experiment, user=None, version: str | None = None):
    """Publish the winner's prompt as the next version of the experiment's agent."""
    experiment = (
        Experiment.objects.select_for_update(no_key=True, of=("self",))
        .select_related("agent", "winner")
        .get(pk=experiment.pk)
    )
    if experiment.status != Status.CONCLUDED:
        raise ValidationError({"status": "Conclude the experiment before promoting its winner."})
    winner = experiment.winner
    _check_promotable(experiment, winner)
    changelog = (
        f"Prompt from variant '{winner.name}', winner of the experiment '{experiment.name}' "
        f"({winner.results_count} results"
        + (f", mean objective {winner.objective_mean:.3f}" if winner.objective_mean is not None else "")
        + ")."
    )
    agent_version = marketplace_services.version_publish(
        agent=experiment.agent,
        system_prompt=winner.prompt,
        version=version,
        changelog=changelog,
        published_by=user if getattr(user, "pk", None) else None,
    )
    experiment.promoted_version = agent_version
    experiment.save(update_fields=["promoted_version", "updated_at"])
    return agent_version
