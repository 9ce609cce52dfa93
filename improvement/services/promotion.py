"""Concluding an experiment and promoting its winner to a marketplace agent version."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from crucible.notifications import notification_publish
from improvement.models import Experiment, Status, Variant
from improvement.selectors import experiment_report
from improvement.services.rollouts import rollout_start
from improvement.trust import experiment_guardrails
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
    if winner is not None:
        _winner_notify(experiment, winner)
    _record_version_outcomes(experiment)
    if promote:
        experiment_promote(experiment=experiment, user=user)
    return experiment


def _winner_notify(experiment: Experiment, winner: Variant) -> None:
    notification_publish(
        team=experiment.team,
        kind="improvement.winner",
        title=f"Experiment {experiment.name}: {winner.name} wins",
        body="The experiment is concluded with this winner.",
        url=reverse("improvement:experiment-detail", kwargs={"pk": experiment.pk}),
        payload={"experiment": experiment.pk, "winner": winner.pk, "winner_name": winner.name},
        dedupe_key=f"experiment-winner:{experiment.pk}",
    )


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
    guards = experiment_guardrails(experiment=experiment, variants=list(Variant.objects.filter(experiment=experiment)))
    breach = next((row for row in guards["variants"] if row["id"] == winner.pk and row["breached"]), None)
    if breach is not None:
        evidence = " ".join(check["evidence"] for check in breach["checks"] if check["breached"])
        raise ValidationError({"winner": f"This variant breaks a guardrail; it cannot be promoted. {evidence}"})
    if experiment.agent.team_id != experiment.team_id and winner.agent_version_id is None:
        raise ValidationError(
            {"winner": "For an agent your team installed, the winner must be a version of it (it becomes your pin)."}
        )


@transaction.atomic
def experiment_promote(
    *, experiment: Experiment, user=None, version: str | None = None, guarded: bool = False, schedule=None
):
    """Promote the winner. For the team's own agent: publish the winner's prompt (with its model
    hints and schemas when it is a version) as the next version; with ``guarded``, publish it on
    the ``candidate`` channel and start a guarded rollout instead (improvement.services.rollouts).
    For an agent the team installed: pin the team's installation to the winning version. Returns
    the version published or pinned (the candidate for a guarded rollout)."""
    if guarded:
        return rollout_start(experiment=experiment, user=user, version=version, schedule=schedule).candidate
    experiment = (
        Experiment.objects.select_for_update(no_key=True, of=("self",))
        .select_related("agent", "winner")
        .get(pk=experiment.pk)
    )
    if experiment.status != Status.CONCLUDED:
        raise ValidationError({"status": "Conclude the experiment before promoting its winner."})
    winner = experiment.winner
    _check_promotable(experiment, winner)
    if experiment.agent.team_id != experiment.team_id:
        marketplace_services.installation_pin(
            team=experiment.team, agent=experiment.agent, version=winner.agent_version
        )
        return _promoted(experiment, winner.agent_version, "pinned")
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
        **_version_parts(winner),
    )
    return _promoted(experiment, agent_version, "published")


def _version_parts(winner: Variant) -> dict:
    """What a version variant adds to its prompt: model hints and schemas (else: the latest's)."""
    if winner.agent_version_id is None:
        return {"model_hints": winner.model_hints} if winner.model_hints else {}
    return {
        "model_hints": winner.model_hints,
        "input_schema": winner.input_schema,
        "output_schema": winner.output_schema,
    }


def _promoted(experiment: Experiment, agent_version, how: str):
    experiment.promoted_version = agent_version
    experiment.promoted_as = how
    experiment.save(update_fields=["promoted_version", "promoted_as", "updated_at"])
    return agent_version
