"""Writes of the improvement app: experiments, variants, selection, results, conclusion, promotion.

Counters move only in the database (``F()`` updates and ``INSERT ... ON CONFLICT DO UPDATE``), so
concurrent results and selections stay exact. Selection reads statistics without locking anything
and writes one small assignment row (plus a traffic counter for the hour) in one statement.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crucible import sql
from improvement import bandits, conf
from improvement.models import Assignment, Experiment, Status, Strategy, Variant, VariantBucket

OBJECTIVE_FIELDS = (
    "weight_quality",
    "weight_success",
    "weight_speed",
    "weight_cost",
    "speed_reference_ms",
    "cost_reference",
)
EXPERIMENT_FIELDS = (
    "name",
    "agent",
    "description",
    "strategy",
    "epsilon",
    "min_results",
    *OBJECTIVE_FIELDS,
)
MAX_WEIGHT = 1000.0
MAX_DURATION_MS = 7 * 24 * 3600 * 1000  # a week
MAX_TOKENS = 10**12
MAX_COST = Decimal("1000000")

_rng = random.SystemRandom()


# --- objective ------------------------------------------------------------------------------


def objective_score(
    experiment: Experiment, *, success: bool, duration_ms: float, quality: float | None, cost: Decimal | float | None
) -> float | None:
    """One result's score in [0, 1]: the weighted mean of its parts (quality/100, success 1 or 0,
    speed ref/(ref + duration), cost ref/(ref + cost)). A part with no value (quality not given)
    drops out and the other weights are renormalised; None when no weighted part has a value."""
    parts = []
    if experiment.weight_quality > 0 and quality is not None:
        parts.append((experiment.weight_quality, float(quality) / 100.0))
    if experiment.weight_success > 0:
        parts.append((experiment.weight_success, 1.0 if success else 0.0))
    if experiment.weight_speed > 0:
        ref = float(experiment.speed_reference_ms)
        parts.append((experiment.weight_speed, ref / (ref + max(0.0, float(duration_ms)))))
    if experiment.weight_cost > 0:
        ref = float(experiment.cost_reference)
        parts.append((experiment.weight_cost, ref / (ref + max(0.0, float(cost or 0)))))
    weight = sum(w for w, _ in parts)
    if weight <= 0:
        return None
    return min(1.0, max(0.0, sum(w * s for w, s in parts) / weight))


# --- validation helpers -------------------------------------------------------------------


def _check_experiment_fields(experiment: Experiment) -> None:
    errors = {}
    if experiment.strategy not in Strategy.values:
        errors["strategy"] = f"Choose one of: {', '.join(Strategy.values)}."
    eps = experiment.epsilon
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not math.isfinite(eps) or not 0.0 <= eps <= 1.0:
        errors["epsilon"] = "Epsilon must be a number between 0 and 1."
    weights = {}
    for field in ("weight_quality", "weight_success", "weight_speed", "weight_cost"):
        value = getattr(experiment, field)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            errors[field] = "A weight must be a finite number."
        elif value < 0:
            errors[field] = "A weight cannot be negative."
        elif value > MAX_WEIGHT:
            errors[field] = f"A weight cannot exceed {MAX_WEIGHT:g}."
        else:
            weights[field] = value
    if len(weights) == 4 and not any(v > 0 for v in weights.values()):
        errors["weight_quality"] = "At least one weight (quality, success, speed or cost) must be above zero."
    if not isinstance(experiment.min_results, int) or experiment.min_results < 1:
        errors["min_results"] = "The minimum results per variant must be at least 1."
    if not isinstance(experiment.speed_reference_ms, int) or experiment.speed_reference_ms < 1:
        errors["speed_reference_ms"] = "The speed reference must be at least 1 ms."
    try:
        if Decimal(str(experiment.cost_reference)) <= 0:
            errors["cost_reference"] = "The cost reference must be above zero."
    except InvalidOperation:
        errors["cost_reference"] = "The cost reference must be a number."
    if experiment.agent_id is not None and experiment.agent.team_id != experiment.team_id:
        errors["agent"] = "The agent must belong to this team (promotion publishes a version of it)."
    if errors:
        raise ValidationError(errors)


def _check_name(team, name: str, *, exclude_pk=None) -> None:
    if not name or not name.strip():
        raise ValidationError({"name": "A name is required."})
    clash = Experiment.objects.filter(team=team, name=name)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        raise ValidationError({"name": f"This team already has an experiment named '{name}'."})


# --- experiments ----------------------------------------------------------------------------


def experiment_validate(*, team, experiment: Experiment | None = None, **fields) -> Experiment:
    """Every check of ``experiment_create`` (``experiment`` None) or ``experiment_update`` without
    writing anything; returns the unsaved experiment with the changes applied. Forms (admin,
    pages) call it to show errors next to the fields."""
    unknown = set(fields) - set(EXPERIMENT_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown field." for name in sorted(unknown)})
    if experiment is None:
        candidate = Experiment(team=team, **fields)
    else:
        if experiment.status == Status.CONCLUDED:
            raise ValidationError({"status": "A concluded experiment cannot be changed."})
        current = Experiment.objects.get(pk=experiment.pk)
        changed_objective = [f for f in OBJECTIVE_FIELDS if f in fields and _differs(getattr(current, f), fields[f])]
        if changed_objective and Variant.objects.filter(experiment_id=experiment.pk, results_count__gt=0).exists():
            raise ValidationError(
                {
                    f: "The objective cannot change once results are recorded (scores were computed with it); start a new experiment."
                    for f in changed_objective
                }
            )
        candidate = current
        for key, value in fields.items():
            setattr(candidate, key, value)
    candidate.name = (candidate.name or "").strip()
    _check_name(candidate.team, candidate.name, exclude_pk=candidate.pk)
    _check_experiment_fields(candidate)
    return candidate


@transaction.atomic
def experiment_create(*, team, name: str, created_by=None, variants: list[dict] | None = None, **fields) -> Experiment:
    """A new experiment (draft unless ``status`` says running) with optional initial variants
    (``[{"name", "prompt", "is_control"}]``)."""
    status = fields.pop("status", Status.DRAFT)
    if status not in (Status.DRAFT, Status.RUNNING):
        raise ValidationError({"status": "A new experiment starts as draft or running."})
    experiment = experiment_validate(team=team, name=name, **fields)
    experiment.created_by = created_by if getattr(created_by, "pk", None) else None
    experiment.save()
    for i, spec in enumerate(variants or []):
        try:
            variant_create(experiment=experiment, **spec)
        except ValidationError as exc:
            # Name the variant the error is about: a bare "name" would read as the experiment's.
            raise ValidationError({f"variants.{i}.{field}": errors for field, errors in exc.message_dict.items()})
    if status == Status.RUNNING:
        experiment = experiment_start(experiment=experiment)
    return experiment


@transaction.atomic
def experiment_update(*, experiment: Experiment, **fields) -> Experiment:
    """Change settings. The objective (weights and references) is fixed once results exist, since
    stored scores were computed with it; a concluded experiment is read-only."""
    locked = Experiment.objects.select_for_update(no_key=True).get(pk=experiment.pk)
    experiment = experiment_validate(team=locked.team, experiment=locked, **fields)
    experiment.save()
    return experiment


def _differs(old, new) -> bool:
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        try:
            return Decimal(str(old)) != Decimal(str(new))
        except InvalidOperation:
            return True
    return old != new


@transaction.atomic
def experiment_start(*, experiment: Experiment) -> Experiment:
    """draft or paused -> running. Needs at least one active variant."""
    experiment = Experiment.objects.select_for_update(no_key=True).get(pk=experiment.pk)
    if experiment.status not in (Status.DRAFT, Status.PAUSED):
        raise ValidationError(
            {"status": f"Only a draft or paused experiment can start; this one is {experiment.status}."}
        )
    if not Variant.objects.filter(experiment=experiment, retired_at__isnull=True).exists():
        raise ValidationError({"variants": "Add at least one variant before starting the experiment."})
    experiment.status = Status.RUNNING
    experiment.started_at = experiment.started_at or timezone.now()
    experiment.save(update_fields=["status", "started_at", "updated_at"])
    return experiment


@transaction.atomic
def experiment_pause(*, experiment: Experiment) -> Experiment:
    experiment = Experiment.objects.select_for_update(no_key=True).get(pk=experiment.pk)
    if experiment.status != Status.RUNNING:
        raise ValidationError({"status": f"Only a running experiment can pause; this one is {experiment.status}."})
    experiment.status = Status.PAUSED
    experiment.save(update_fields=["status", "updated_at"])
    return experiment


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
    from improvement.selectors import experiment_report

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
    if promote:
        experiment_promote(experiment=experiment, user=user)
    return experiment


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
    from marketplace import services as marketplace_services

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


# --- variants -------------------------------------------------------------------------------


@transaction.atomic
def variant_create(*, experiment: Experiment, name: str, prompt: str, is_control: bool = False) -> Variant:
    """Add a variant; allowed while the experiment is draft, running or paused."""
    # Lock the experiment so two concurrent adds cannot both pass the variant cap.
    experiment = Experiment.objects.select_for_update(no_key=True).get(pk=experiment.pk)
    errors = {}
    name = (name or "").strip()
    if experiment.status == Status.CONCLUDED:
        errors["experiment"] = "A concluded experiment takes no new variants."
    if not name:
        errors["name"] = "A name is required."
    elif len(name) > 100:
        errors["name"] = "At most 100 characters."
    if not prompt or not prompt.strip():
        errors["prompt"] = "The prompt cannot be empty."
    if not errors:
        if Variant.objects.filter(experiment=experiment, name=name).exists():
            errors["name"] = f"The experiment already has a variant named '{name}'."
        if is_control and Variant.objects.filter(experiment=experiment, is_control=True).exists():
            errors["is_control"] = "The experiment already has a control variant."
        if Variant.objects.filter(experiment=experiment, retired_at__isnull=True).count() >= conf.MAX_VARIANTS:
            errors["experiment"] = f"An experiment has at most {conf.MAX_VARIANTS} active variants."
    if errors:
        raise ValidationError(errors)
    return Variant.objects.create(
        team_id=experiment.team_id, experiment=experiment, name=name, prompt=prompt, is_control=bool(is_control)
    )


@transaction.atomic
def variant_update(*, variant: Variant, **fields) -> Variant:
    """Rename a variant or change its control flag; its prompt only until it has results."""
    unknown = set(fields) - {"name", "prompt", "is_control"}
    if unknown:
        raise ValidationError({name: "Unknown field." for name in sorted(unknown)})
    variant = (
        Variant.objects.select_for_update(no_key=True, of=("self",)).select_related("experiment").get(pk=variant.pk)
    )
    errors = {}
    if variant.experiment.status == Status.CONCLUDED:
        errors["experiment"] = "Variants of a concluded experiment cannot change."
    if "prompt" in fields and fields["prompt"] != variant.prompt:
        if variant.results_count > 0:
            errors["prompt"] = "The prompt cannot change once results are recorded; add a new variant instead."
        elif not (fields["prompt"] or "").strip():
            errors["prompt"] = "The prompt cannot be empty."
    if "name" in fields:
        name = (fields["name"] or "").strip()
        if not name:
            errors["name"] = "A name is required."
        elif Variant.objects.filter(experiment_id=variant.experiment_id, name=name).exclude(pk=variant.pk).exists():
            errors["name"] = f"The experiment already has a variant named '{name}'."
        fields["name"] = name
    if (
        fields.get("is_control")
        and Variant.objects.filter(experiment_id=variant.experiment_id, is_control=True).exclude(pk=variant.pk).exists()
    ):
        errors["is_control"] = "The experiment already has a control variant."
    if errors:
        raise ValidationError(errors)
    for key, value in fields.items():
        setattr(variant, key, value)
    variant.save()
    return variant


@transaction.atomic
def variant_retire(*, variant: Variant) -> Variant:
    """Stop serving a variant. Its statistics stay in the report; it takes no more results."""
    variant = (
        Variant.objects.select_for_update(no_key=True, of=("self",)).select_related("experiment").get(pk=variant.pk)
    )
    if variant.retired_at is not None:
        raise ValidationError({"variant": "This variant is already retired."})
    if variant.experiment.status == Status.CONCLUDED:
        raise ValidationError({"experiment": "Variants of a concluded experiment cannot change."})
    if (
        variant.experiment.status == Status.RUNNING
        and not Variant.objects.filter(experiment_id=variant.experiment_id, retired_at__isnull=True)
        .exclude(pk=variant.pk)
        .exists()
    ):
        raise ValidationError(
            {
                "variant": "This is the last active variant of a running experiment; pause or conclude the experiment instead."
            }
        )
    variant.retired_at = timezone.now()
    variant.save(update_fields=["retired_at"])
    return variant


# --- selection ------------------------------------------------------------------------------

# The hot path is two statements: one read of the experiment and its active variants' running
# sums (no lock), one write of the assignment plus the hour's traffic counter. Both are plain SQL
# so the per-request cost stays close to the framework's floor (see benchmarks/improvement.py).
_STATE_SQL = f"""
SELECT e.id AS experiment_id, e.team_id, e.name AS experiment_name, e.status, e.strategy, e.epsilon, e.min_results,
       v.id AS variant_id, v.name AS variant_name, v.prompt, v.is_control, v.results_count, v.objective_count,
       v.objective_sum
FROM {Experiment._meta.db_table} e
LEFT JOIN {Variant._meta.db_table} v ON v.experiment_id = e.id AND v.retired_at IS NULL
WHERE e.team_id = ANY(%(teams)s) AND {{match}}
ORDER BY (e.team_id = %(prefer)s) DESC, e.id, v.id
"""
_STATE_BY_NAME = _STATE_SQL.format(match="e.name = %(ref)s")
_STATE_BY_ID = _STATE_SQL.format(match="e.id = %(ref)s")


class _StateRow(NamedTuple):
    """One row of ``_STATE_SQL``: the experiment, and one of its active variants (None fields when
    it has none)."""

    experiment_id: int
    team_id: int
    experiment_name: str
    status: str
    strategy: str
    epsilon: float
    min_results: int
    variant_id: int | None
    variant_name: str | None
    prompt: str | None
    is_control: bool | None
    results_count: int | None
    objective_count: int | None
    objective_sum: float | None


_SELECT_SQL = f"""
WITH a AS (
    INSERT INTO {Assignment._meta.db_table} (team_id, experiment_id, variant_id, created_at)
    VALUES (%(team)s, %(experiment)s, %(variant)s, %(now)s)
    RETURNING id
), b AS (
    INSERT INTO {VariantBucket._meta.db_table}
        (experiment_id, variant_id, bucket, assignments, results, successes, objective_sum)
    VALUES (%(experiment)s, %(variant)s, %(bucket)s, 1, 0, 0, 0)
    ON CONFLICT (variant_id, bucket)
    DO UPDATE SET assignments = {VariantBucket._meta.db_table}.assignments + 1
)
SELECT id FROM a
"""


def _hour(moment):
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True)
class Selection:
    assignment_id: int
    experiment_id: int
    experiment_name: str
    strategy: str
    variant: Variant  # id, name, prompt, is_control loaded


def experiment_select(
    *,
    team_ids: list[int],
    name: str | None = None,
    experiment_id: int | None = None,
    prefer_team_id: int | None = None,
    rng: random.Random | None = None,
) -> Selection | None:
    """Serve a variant of the running experiment ``name`` (or ``experiment_id``) among ``team_ids``
    (``prefer_team_id``'s experiment first when names repeat across teams) and record the
    assignment. None when there is no such experiment; ValidationError when it is not running or
    has no active variant.

    Reads the variants' sums without locking anything (a result landing meanwhile only shifts the
    odds by one result), chooses with the experiment's strategy in Python, then inserts the
    assignment and bumps the hour's traffic counter in one statement. The experiment row is never
    locked or written, so selection scales with concurrent callers."""
    state_sql, ref = (_STATE_BY_ID, experiment_id) if experiment_id is not None else (_STATE_BY_NAME, name)
    rows = sql.fetch_rows(state_sql, {"teams": list(team_ids), "ref": ref, "prefer": prefer_team_id or 0}, _StateRow)
    if not rows:
        return None
    exp = rows[0]
    rows = [r for r in rows if r.experiment_id == exp.experiment_id and r.variant_id is not None]
    if exp.status != Status.RUNNING:
        raise ValidationError({"status": f"Only a running experiment serves variants; this one is {exp.status}."})
    if not rows:
        raise ValidationError({"variants": "This experiment has no active variant to serve."})
    arms = [bandits.Arm(r.variant_id, r.objective_count, r.objective_sum, r.results_count) for r in rows]
    chosen = bandits.choose(exp.strategy, arms, epsilon=exp.epsilon, min_results=exp.min_results, rng=rng or _rng)
    row = next(r for r in rows if r.variant_id == chosen.id)
    now = timezone.now()
    assignment = sql.fetch_one(
        _SELECT_SQL,
        {
            "team": exp.team_id,
            "experiment": exp.experiment_id,
            "variant": row.variant_id,
            "now": now,
            "bucket": _hour(now),
        },
    )
    variant = Variant(
        id=row.variant_id,
        team_id=exp.team_id,
        experiment_id=exp.experiment_id,
        name=row.variant_name,
        prompt=row.prompt,
        is_control=row.is_control,
    )
    return Selection(assignment["id"], exp.experiment_id, exp.experiment_name, exp.strategy, variant)


def variant_select(*, experiment: Experiment, rng: random.Random | None = None) -> tuple[Variant, int]:
    """Serve a variant of ``experiment`` (see ``experiment_select``); returns (variant, assignment id)."""
    selection = experiment_select(team_ids=[experiment.team_id], experiment_id=experiment.pk, rng=rng)
    if selection is None:
        raise ValidationError({"experiment": "No such experiment."})
    return selection.variant, selection.assignment_id


# --- results --------------------------------------------------------------------------------


def _number(value, field, errors, *, low=None, high=None, integer=False, allow_none=False):
    if value is None:
        if allow_none:
            return None
        errors[field] = "This field is required."
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        errors[field] = "Must be a number."
        return None
    if isinstance(value, float) and not math.isfinite(value):
        errors[field] = "Must be a finite number."
        return None
    if integer and not float(value).is_integer():
        errors[field] = "Must be a whole number."
        return None
    if (low is not None and value < low) or (high is not None and value > high):
        errors[field] = f"Must be between {low} and {high}."
        return None
    return int(value) if integer else value


def _clean_result(raw: dict, prefix: str, errors: dict) -> dict | None:
    local: dict[str, str] = {}
    if not isinstance(raw, dict):
        errors[prefix.rstrip(".") or "results"] = "Each result must be an object."
        return None
    success = raw.get("success")
    if not isinstance(success, bool):
        local["success"] = "Must be true or false."
    quality = _number(raw.get("quality"), "quality", local, low=0, high=100, allow_none=True)
    duration = _number(raw.get("duration_ms", 0), "duration_ms", local, low=0, high=MAX_DURATION_MS)
    tokens = _number(raw.get("tokens", 0) or 0, "tokens", local, low=0, high=MAX_TOKENS, integer=True)
    cost_raw = raw.get("cost", 0) or 0
    cost = _number(cost_raw, "cost", local, low=0, high=MAX_COST)
    variant_id = raw.get("variant_id")
    assignment_id = raw.get("assignment_id")
    if variant_id is None and assignment_id is None:
        local["variant_id"] = "Name the variant (variant_id) or the assignment (assignment_id)."
    for key, value in (("variant_id", variant_id), ("assignment_id", assignment_id)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            local[key] = "Must be a positive integer id."
    for key, message in local.items():
        errors[f"{prefix}{key}"] = message
    if local:
        return None
    return {
        "variant_id": variant_id,
        "assignment_id": assignment_id,
        "success": success,
        "quality": float(quality) if quality is not None else None,
        "duration_ms": float(duration),
        "tokens": tokens,
        "cost": Decimal(str(cost)).quantize(Decimal("0.000001")),
    }


@transaction.atomic
def results_record_bulk(*, team, results: list[dict], experiment: Experiment | None = None) -> dict:
    """Record results and move each variant's statistics in the database.

    ``results``: ``[{variant_id or assignment_id, success, duration_ms, quality (0-100 or None),
    tokens, cost}]``. Everything is validated first (team, variant active, experiment taking
    results, assignment not yet used, ranges); any error raises ``ValidationError`` naming
    ``results.<index>.<field>`` and nothing is written. Then one ``UPDATE ... SET x = x + n`` per
    variant (in id order, so concurrent batches cannot deadlock) and one upsert of the hour's
    buckets. With ``experiment``, every result must belong to it. Returns ``{"recorded": n}``.
    """
    from improvement.selectors import variants_for_team

    if not isinstance(results, list):
        raise ValidationError({"results": "Send a list of results."})
    if not results:
        return {"recorded": 0}
    errors: dict[str, str] = {}
    cleaned = [_clean_result(raw, f"results.{i}.", errors) for i, raw in enumerate(results)]
    if errors:
        raise ValidationError(errors)

    assignment_ids = [r["assignment_id"] for r in cleaned if r["assignment_id"] is not None]
    if len(set(assignment_ids)) != len(assignment_ids):
        raise ValidationError({"results": "The same assignment appears twice; an assignment takes one result."})
    assignments = {
        a["id"]: a
        for a in Assignment.objects.filter(pk__in=assignment_ids, team=team).values("id", "variant_id", "result_at")
    }
    for i, r in enumerate(cleaned):
        if r["assignment_id"] is None:
            continue
        a = assignments.get(r["assignment_id"])
        if a is None:
            errors[f"results.{i}.assignment_id"] = "Unknown assignment."
        elif a["result_at"] is not None:
            errors[f"results.{i}.assignment_id"] = "This assignment already has a result."
        elif r["variant_id"] is not None and r["variant_id"] != a["variant_id"]:
            errors[f"results.{i}.variant_id"] = "This is not the variant the assignment served."
        else:
            r["variant_id"] = a["variant_id"]
    if errors:
        raise ValidationError(errors)

    variants = variants_for_team(team=team, ids={r["variant_id"] for r in cleaned})
    for i, r in enumerate(cleaned):
        v = variants.get(r["variant_id"])
        if v is None:
            errors[f"results.{i}.variant_id"] = "Unknown variant."
        elif v.retired_at is not None:
            errors[f"results.{i}.variant_id"] = "This variant is retired and takes no results."
        elif not v.experiment.accepts_results:
            errors[f"results.{i}.variant_id"] = (
                f"The variant's experiment is {v.experiment.status} and takes no results."
            )
        elif experiment is not None and v.experiment_id != experiment.pk:
            errors[f"results.{i}.variant_id"] = f"This variant belongs to another experiment than '{experiment.name}'."
    if errors:
        raise ValidationError(errors)

    now = timezone.now()
    if assignment_ids:
        marked = Assignment.objects.filter(pk__in=assignment_ids, result_at__isnull=True).update(result_at=now)
        if marked != len(assignment_ids):
            # Another request recorded a result for one of them in the meantime.
            raise ValidationError({"results": "An assignment in this batch already has a result."})

    totals: dict[int, dict] = defaultdict(lambda: defaultdict(float))
    for r in cleaned:
        v = variants[r["variant_id"]]
        t = totals[v.pk]
        t["n"] += 1
        t["succ"] += 1 if r["success"] else 0
        score = objective_score(
            v.experiment, success=r["success"], duration_ms=r["duration_ms"], quality=r["quality"], cost=r["cost"]
        )
        if score is not None:
            t["obj_n"] += 1
            t["obj"] += score
            t["obj_sq"] += score * score
        if r["quality"] is not None:
            t["q_n"] += 1
            t["q"] += r["quality"]
            t["q_sq"] += r["quality"] ** 2
        t["d"] += r["duration_ms"]
        t["d_sq"] += r["duration_ms"] ** 2
        t["tokens"] += r["tokens"]
        t.setdefault("cost", Decimal(0))
        t["cost"] += r["cost"]

    for variant_id in sorted(totals):
        t = totals[variant_id]
        Variant.objects.filter(pk=variant_id).update(
            results_count=F("results_count") + int(t["n"]),
            success_count=F("success_count") + int(t["succ"]),
            objective_count=F("objective_count") + int(t["obj_n"]),
            objective_sum=F("objective_sum") + t["obj"],
            objective_sum_sq=F("objective_sum_sq") + t["obj_sq"],
            quality_count=F("quality_count") + int(t["q_n"]),
            quality_sum=F("quality_sum") + t["q"],
            quality_sum_sq=F("quality_sum_sq") + t["q_sq"],
            duration_sum=F("duration_sum") + t["d"],
            duration_sum_sq=F("duration_sum_sq") + t["d_sq"],
            tokens_sum=F("tokens_sum") + int(t["tokens"]),
            cost_sum=F("cost_sum") + t.get("cost", Decimal(0)),
        )
    _buckets_add_results(
        [
            (variants[vid].experiment_id, vid, int(totals[vid]["n"]), int(totals[vid]["succ"]), totals[vid]["obj"])
            for vid in sorted(totals)
        ],
        bucket=_hour(now),
    )
    return {"recorded": len(cleaned)}


def _buckets_add_results(rows: list[tuple], *, bucket) -> None:
    table = VariantBucket._meta.db_table
    values = ", ".join(
        f"(%(experiment_{i})s, %(variant_{i})s, %(bucket)s, 0, %(results_{i})s, %(successes_{i})s, %(objective_{i})s)"
        for i in range(len(rows))
    )
    params = {"bucket": bucket}
    for i, (experiment_id, variant_id, n, successes, objective) in enumerate(rows):
        params |= {
            f"experiment_{i}": experiment_id,
            f"variant_{i}": variant_id,
            f"results_{i}": n,
            f"successes_{i}": successes,
            f"objective_{i}": objective,
        }
    sql.execute(
        f"""INSERT INTO {table} (experiment_id, variant_id, bucket, assignments, results, successes, objective_sum)
        VALUES {values}
        ON CONFLICT (variant_id, bucket) DO UPDATE SET
            results = {table}.results + EXCLUDED.results,
            successes = {table}.successes + EXCLUDED.successes,
            objective_sum = {table}.objective_sum + EXCLUDED.objective_sum""",
        params,
    )


def result_record(*, team, experiment: Experiment | None = None, **result) -> dict:
    """One result (see ``results_record_bulk``)."""
    return results_record_bulk(team=team, results=[result], experiment=experiment)


# --- the earlier implementation's entry point ------------------------------------------------


@transaction.atomic
def legacy_test_variant(
    *, team, agent_name: str, variant_prompt: str, variant_name: str | None = None, user=None
) -> Variant:
    """``POST /api/improve/test-variant``: add a variant to the experiment named ``agent_name``,
    creating it (running, epsilon-greedy) if needed; an unnamed variant gets ``v<n>``."""
    name = (agent_name or "").strip()
    if not name:
        raise ValidationError({"agent_name": "Name the prompt (agent_name) the variant is for."})
    if len(name) > 100:
        raise ValidationError({"agent_name": "At most 100 characters."})
    experiment = Experiment.objects.filter(team=team, name=name).first()
    created = experiment is None
    if created:
        experiment = experiment_create(team=team, name=name, created_by=user)
    if not variant_name:
        taken = set(Variant.objects.filter(experiment=experiment).values_list("name", flat=True))
        n = len(taken) + 1
        while f"v{n}" in taken:
            n += 1
        variant_name = f"v{n}"
    try:
        variant = variant_create(experiment=experiment, name=variant_name, prompt=variant_prompt)
    except ValidationError as exc:
        raise ValidationError(
            {
                ("variant_prompt" if k == "prompt" else "variant_name" if k == "name" else k): v
                for k, v in exc.message_dict.items()
            }
        )
    if experiment.status == Status.DRAFT:
        experiment_start(experiment=experiment)
    return variant
