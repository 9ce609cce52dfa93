"""Guarded rollout of a promoted winner.

Promotion publishes the winner on the marketplace's ``candidate`` channel beside ``stable``;
installs on the default channel get the candidate for a growing share of their runs
(``schedule``, 5% -> 25% -> 50% -> 100% by default, one step every
``CRUCIBLE_IMPROVEMENT_ROLLOUT_STEP_HOURS`` once the step has ``min_results`` candidate runs)
while the guardrails (improvement.guardrails) compare candidate and stable after every batch of
runs. A breach stops the rollout and yanks the candidate with the evidence as the reason; a
completed rollout moves ``stable``. Every step is a ``RolloutStep`` row.

``rollouts_advance_due`` checks every running rollout: the worker runs it every five minutes
(``improvement.tasks.trust_check``), ``manage.py improvement_rollouts`` runs it by hand.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from crucible import limits, sql
from crucible import validation as v
from improvement import conf, guardrails
from improvement.models import Experiment, Rollout, RolloutStatus, RolloutStep, RolloutTally, Status, default_schedule
from improvement.services.notices import rollout_step_notify
from improvement.trust import rollout_checks
from marketplace import selectors as marketplace_selectors
from marketplace import services as marketplace_services

MAX_STEPS = 10
ARMS = ("stable", "candidate")


def _schedule(value) -> list[float]:
    if value is None:
        return default_schedule()
    if not isinstance(value, (list, tuple)) or not 1 <= len(value) <= MAX_STEPS:
        raise v.Invalid(f"A schedule is a list of 1 to {MAX_STEPS} shares.")
    shares = [v.number(share, low=0.0, high=1.0, required=True) for share in value]
    if shares[0] <= 0 or shares[-1] != 1.0 or any(b <= a for a, b in zip(shares[:-1], shares[1:], strict=True)):
        raise v.Invalid("Shares must rise strictly, start above 0 and end at 1 (100%).")
    return shares


def _record(rollout: Rollout, action: str, evidence: str, now) -> None:
    step = RolloutStep.objects.create(
        rollout=rollout, action=action, share=rollout.share, evidence=evidence, created_at=now
    )
    rollout_step_notify(rollout=rollout, step=step)


@transaction.atomic
def rollout_start(*, experiment: Experiment, user=None, version: str | None = None, schedule=None, now=None) -> Rollout:
    """Publish the concluded experiment's winner as the agent's candidate and start its rollout."""
    experiment = (
        Experiment.objects.select_for_update(no_key=True, of=("self",))
        .select_related("agent", "winner")
        .get(pk=experiment.pk)
    )
    errors = v.Errors()
    shares = errors.check("schedule", _schedule, schedule)
    if experiment.status != Status.CONCLUDED:
        errors.add("status", "Conclude the experiment before promoting its winner.")
    if experiment.winner is None:
        errors.add("winner", "There is no winner to promote.")
    if experiment.agent_id is None:
        errors.add("agent", "This experiment tunes no marketplace agent; set its agent to promote the winner.")
    elif experiment.agent.latest_version_id is None:
        errors.add(
            "agent", "A guarded rollout compares with a stable version, and the agent has none; promote directly."
        )
    if experiment.promoted_version_id is not None:
        errors.add("promoted_version", "The winner has already been promoted.")
    errors.raise_if_any()
    now = now or timezone.now()
    winner = experiment.winner
    candidate = marketplace_services.candidate_publish(
        agent=experiment.agent,
        system_prompt=winner.prompt,
        version=version,
        changelog=f"Candidate from variant '{winner.name}', winner of the experiment '{experiment.name}' "
        "(guarded rollout).",
        published_by=user if getattr(user, "pk", None) else None,
    )
    rollout = Rollout.objects.create(
        team=experiment.team,
        experiment=experiment,
        agent=experiment.agent,
        candidate=candidate,
        stable_id=experiment.agent.latest_version_id,
        schedule=shares,
        share=shares[0],
        min_results=experiment.min_results,
        next_step_at=now + timedelta(hours=conf.ROLLOUT_STEP_HOURS),
        started_at=now,
    )
    marketplace_services.candidate_share_set(version=candidate, share=shares[0])
    _record(rollout, RolloutStep.Action.START, f"Candidate {candidate.version} gets {shares[0]:.0%} of runs.", now)
    experiment.promoted_version = candidate
    experiment.save(update_fields=["promoted_version", "updated_at"])
    return rollout


def _result_clean(raw, errors: v.Errors, rollout: Rollout) -> dict | None:
    if not isinstance(raw, dict):
        errors.add(None, "Each run must be an object.")
        return None
    version_id = errors.check("version_id", v.whole, raw.get("version_id"), low=1, required=True)
    success = errors.check("success", v.boolean, raw.get("success"))
    duration = errors.check(
        "duration_ms", v.number, raw.get("duration_ms"), low=0, high=limits.MAX_DURATION_MS, default=0.0
    )
    cost = errors.check("cost", v.number, raw.get("cost"), low=0, high=float(limits.MAX_COST), default=0.0)
    arms = {rollout.stable_id: "stable", rollout.candidate_id: "candidate"}
    if version_id is not None and version_id not in arms:
        errors.add("version_id", "This version is neither the rollout's stable nor its candidate.")
    if errors:
        return None
    return {"arm": arms[version_id], "success": success, "bin": guardrails.duration_bin(duration), "cost": cost}


@transaction.atomic
def rollout_results_record(*, rollout: Rollout, results: list, now=None) -> dict:
    """Record runs of the stable or candidate version (``[{version_id, success, duration_ms,
    cost}]``, all or nothing, every bad field as ``results.<i>.<field>``), then read the guardrails:
    a breach stops the rollout at once. Returns ``{"recorded": n, "status": ...}``."""
    if not isinstance(results, list) or not results:
        raise ValidationError({"results": "Send a non-empty list of runs."})
    if len(results) > conf.MAX_RESULTS_PER_REQUEST:
        raise ValidationError({"results": f"At most {conf.MAX_RESULTS_PER_REQUEST} runs per request."})
    if rollout.status != RolloutStatus.RUNNING:
        raise ValidationError({"status": f"This rollout is {rollout.status} and takes no more runs."})
    errors = v.Errors()
    cleaned = [_result_clean(raw, errors.at("results", i), rollout) for i, raw in enumerate(results)]
    errors.raise_if_any()
    _tallies_add(rollout, cleaned, team_id=rollout.team_id)
    rollout = rollout_check(rollout=rollout, now=now, advance=False)
    return {"recorded": len(cleaned), "status": rollout.status}


def _tallies_add(rollout: Rollout, cleaned: list[dict], *, team_id: int) -> None:
    """Add one team's runs (``{arm, success, bin, cost}``) to the rollout's tallies in one upsert."""
    tallies: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0, 0.0, 0.0])
    for r in cleaned:
        t = tallies[(r["arm"], r["bin"])]
        t[0] += 1
        t[1] += 1 if r["success"] else 0
        t[2] += r["cost"]
        t[3] += r["cost"] ** 2
    table = RolloutTally._meta.db_table
    keys = sorted(tallies)
    params = {"rollout": rollout.pk, "team": team_id}
    for i, key in enumerate(keys):
        n, ok, cost, cost_sq = tallies[key]
        params |= {f"a{i}": key[0], f"b{i}": key[1], f"n{i}": n, f"s{i}": ok, f"c{i}": cost, f"q{i}": cost_sq}
    values = ", ".join(
        f"(%(rollout)s, %(team)s, %(a{i})s, %(b{i})s, %(n{i})s, %(s{i})s, %(c{i})s, %(q{i})s)" for i in range(len(keys))
    )
    sql.execute(
        f"""INSERT INTO {table} (rollout_id, team_id, arm, bin, results, successes, cost_sum, cost_sum_sq)
        VALUES {values}
        ON CONFLICT (rollout_id, team_id, arm, bin) DO UPDATE SET
            results = {table}.results + EXCLUDED.results,
            successes = {table}.successes + EXCLUDED.successes,
            cost_sum = {table}.cost_sum + EXCLUDED.cost_sum,
            cost_sum_sq = {table}.cost_sum_sq + EXCLUDED.cost_sum_sq""",
        params,
    )


@transaction.atomic
def rollout_executions_record(*, team, runs: list[dict], now=None) -> int:
    """Observability's feed: executions of ``team`` that ran a version under a guarded rollout
    (``[{version_id, success, duration_ms, cost}]``, already checked by ingest) are added to the
    rollout as that team's runs of stable or candidate, then its guardrails are read (a breach
    stops it). Runs of other versions, or of rollouts already finished, are ignored: an execution
    is stored whatever the rollout's state. Returns how many runs were counted (one query when no
    rollout is concerned).

    The rollout's own team's executions always count; an installing team's only while it shares
    evidence (``EvidenceSharing``), and the guardrails read them only once K such teams ran the
    rollout's versions (improvement.trust.rollout_figures): the evidence rules (opt-in, K teams,
    never named) hold for the publisher too."""
    versions = {run["version_id"] for run in runs if run.get("version_id") is not None}
    if not versions:
        return 0
    rollouts = list(
        Rollout.objects.select_for_update(of=("self",))
        .filter(status=RolloutStatus.RUNNING)
        .filter(Q(candidate_id__in=versions) | Q(stable_id__in=versions))
        .order_by("id")
    )
    if any(rollout.team_id != team.pk for rollout in rollouts) and not (
        marketplace_selectors.evidence_sharing_team_ids(team_ids=[team.pk])
    ):
        rollouts = [rollout for rollout in rollouts if rollout.team_id == team.pk]
    counted = 0
    for rollout in rollouts:
        arms = {rollout.stable_id: "stable", rollout.candidate_id: "candidate"}
        mine = [
            {
                "arm": arms[run["version_id"]],
                "success": bool(run["success"]),
                "bin": guardrails.duration_bin(float(run.get("duration_ms") or 0.0)),
                "cost": float(run.get("cost") or 0.0),
            }
            for run in runs
            if run.get("version_id") in arms
        ]
        if mine:
            _tallies_add(rollout, mine, team_id=team.pk)
            rollout_check(rollout=rollout, now=now, advance=False)
            counted += len(mine)
    return counted


@transaction.atomic
def rollout_check(*, rollout: Rollout, now=None, advance: bool = True) -> Rollout:
    """Read the guardrails: a breach stops the rollout and yanks the candidate (the evidence is
    the reason). Otherwise, with ``advance``, a step that is due (its time has come and the
    candidate has ``min_results`` runs in it) raises the share; after 100% it completes and the
    candidate becomes stable."""
    rollout = (
        Rollout.objects.select_for_update(of=("self",))
        .select_related("candidate", "experiment", "agent", "team")
        .get(pk=rollout.pk)
    )
    if rollout.status != RolloutStatus.RUNNING:
        return rollout
    now = now or timezone.now()
    figures, checks = rollout_checks(rollout=rollout)
    breached = [check for check in checks if check.breached]
    if breached:
        evidence = " ".join(check.evidence(f"candidate {rollout.candidate.version}", "stable") for check in breached)
        rollout.status, rollout.reason, rollout.finished_at = RolloutStatus.STOPPED, evidence, now
        rollout.save(update_fields=["status", "reason", "finished_at"])
        marketplace_services.candidate_yank(
            version=rollout.candidate, reason=("Guarded rollout stopped. " + evidence)[:300]
        )
        _record(rollout, RolloutStep.Action.STOP, evidence, now)
        return rollout
    candidate_runs = figures["candidate"].results
    if not advance or now < rollout.next_step_at or candidate_runs - rollout.step_results_start < rollout.min_results:
        return rollout
    summary = " ".join(check.evidence(f"candidate {rollout.candidate.version}", "stable") for check in checks)
    if rollout.step + 1 >= len(rollout.schedule):
        rollout.status, rollout.finished_at = RolloutStatus.COMPLETED, now
        rollout.save(update_fields=["status", "finished_at"])
        marketplace_services.candidate_promote(version=rollout.candidate)
        _record(rollout, RolloutStep.Action.COMPLETE, summary, now)
        return rollout
    rollout.step += 1
    rollout.share = rollout.schedule[rollout.step]
    rollout.step_results_start = candidate_runs
    rollout.next_step_at = now + timedelta(hours=conf.ROLLOUT_STEP_HOURS)
    rollout.save(update_fields=["step", "share", "step_results_start", "next_step_at"])
    marketplace_services.candidate_share_set(version=rollout.candidate, share=rollout.share)
    _record(rollout, RolloutStep.Action.ADVANCE, summary, now)
    return rollout


def rollouts_advance_due(*, now=None) -> list[Rollout]:
    """Check every running rollout (one transaction each): a guardrail breach stops it, a step
    that is due is taken. Idempotent: a step sets the next one's time, so a second run (a retried
    job) finds nothing due and applies no step twice."""
    now = now or timezone.now()
    running = Rollout.objects.filter(status=RolloutStatus.RUNNING).order_by("id")
    return [rollout_check(rollout=rollout, now=now) for rollout in running]


def rollout_version_for_run(*, rollout: Rollout, run_key: str):
    """Which version a default-channel run uses now (see ``marketplace.selectors.version_for_run``)."""
    return marketplace_selectors.version_for_run(agent=rollout.agent, run_key=run_key)
