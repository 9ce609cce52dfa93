"""Writes of the improvement app: experiments, variants, selection, results, conclusion, promotion.

Counters move only in the database (``F()`` updates and ``INSERT ... ON CONFLICT DO UPDATE``), so
concurrent results and selections stay exact. Selection reads statistics without locking anything
and writes one small assignment row (plus a traffic counter for the hour) in one statement.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crucible import limits, sql
from crucible import validation as v
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
MAX_MIN_RESULTS = 1_000_000
# Decimal places of a result's cost as summed (Variant.cost_sum) and of the cost reference.
RESULT_COST_PLACES = 6

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


def _weight(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise v.Invalid("A weight must be a finite number.")
    return v.number(value, low=0, high=MAX_WEIGHT)


def _epsilon(value):
    try:
        return v.number(value, low=0.0, high=1.0, required=True)
    except v.Invalid:
        raise v.Invalid("Epsilon must be a number between 0 and 1.") from None


def _whole_at_least_one(value, *, high: int, message: str):
    try:
        return v.whole(value, low=1, high=high, required=True)
    except v.Invalid:
        raise v.Invalid(message) from None


def _check_experiment_fields(experiment: Experiment, errors: v.Errors) -> None:
    """The settings of ``experiment`` (unsaved values included); every bad one filed in ``errors``."""
    errors.check("strategy", v.choice, experiment.strategy, Strategy.values)
    errors.check("epsilon", _epsilon, experiment.epsilon)
    weights = {}
    for field in ("weight_quality", "weight_success", "weight_speed", "weight_cost"):
        value = errors.check(field, _weight, getattr(experiment, field))
        if value is not None:
            weights[field] = value
    if len(weights) == 4 and not any(value > 0 for value in weights.values()):
        errors.add("weight_quality", "At least one weight (quality, success, speed or cost) must be above zero.")
    errors.check(
        "min_results",
        _whole_at_least_one,
        experiment.min_results,
        high=MAX_MIN_RESULTS,
        message=f"The minimum results per variant is a whole number from 1 to {MAX_MIN_RESULTS}.",
    )
    errors.check(
        "speed_reference_ms",
        _whole_at_least_one,
        experiment.speed_reference_ms,
        high=limits.MAX_DURATION_MS,
        message="The speed reference must be at least 1 ms (and at most a week).",
    )
    experiment.cost_reference = errors.check(
        "cost_reference",
        v.money,
        experiment.cost_reference,
        places=RESULT_COST_PLACES,
        low=Decimal("0.000001"),
        high=limits.MAX_COST,
        required=True,
    )
    if experiment.agent_id is not None and experiment.agent.team_id != experiment.team_id:
        errors.add("agent", "The agent must belong to this team (promotion publishes a version of it).")


def _check_name(team, name, errors: v.Errors, *, exclude_pk=None) -> str | None:
    name = errors.check("name", v.text, name, max_length=limits.NAME_CHARS, required=True)
    if not name:
        return name
    clash = Experiment.objects.filter(team=team, name=name)
    if exclude_pk:
        clash = clash.exclude(pk=exclude_pk)
    if clash.exists():
        errors.add("name", f"This team already has an experiment named '{name}'.")
    return name


def _prompt(value) -> str:
    prompt = v.text(value, max_length=limits.PROMPT_CHARS, strip=False)
    if not prompt.strip():
        raise v.Invalid("The prompt cannot be empty.")
    return prompt


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
    errors = v.Errors()
    name = _check_name(candidate.team, candidate.name, errors, exclude_pk=candidate.pk)
    if name is not None:
        candidate.name = name
    candidate.description = errors.check(
        "description", v.text, candidate.description, max_length=limits.LONG_TEXT_CHARS, strip=False
    )
    _check_experiment_fields(candidate, errors)
    errors.raise_if_any()
    return candidate


@transaction.atomic
def experiment_create(*, team, name: str, created_by=None, variants: list[dict] | None = None, **fields) -> Experiment:
    """A new experiment (draft unless ``status`` says running) with optional initial variants
    (``[{"name", "prompt", "is_control"}]``)."""
    errors = v.Errors()
    status = fields.pop("status", Status.DRAFT)
    if status not in (Status.DRAFT, Status.RUNNING):
        errors.add("status", "A new experiment starts as draft or running.")
    experiment = errors.check(None, experiment_validate, team=team, name=name, **fields)
    _variant_specs_check(variants or [], errors)
    errors.raise_if_any()
    experiment.created_by = created_by if getattr(created_by, "pk", None) else None
    experiment.save()
    for i, spec in enumerate(variants or []):
        try:
            variant_create(experiment=experiment, **spec)
        except ValidationError as exc:
            # Name the variant the error is about: a bare "name" would read as the experiment's.
            errors.at("variants", i).merge(exc)
            errors.raise_if_any()
    if status == Status.RUNNING:
        experiment = experiment_start(experiment=experiment)
    return experiment


def _variant_specs_check(specs, errors: v.Errors) -> None:
    """The initial variants of a new experiment, each bad field as ``variants.<i>.<field>``."""
    if not isinstance(specs, (list, tuple)):
        errors.add("variants", "Send a list of variants.")
        return
    if len(specs) > conf.MAX_VARIANTS:
        errors.add("variants", f"An experiment has at most {conf.MAX_VARIANTS} active variants.")
    names: set[str] = set()
    control = False
    for i, spec in enumerate(specs):
        at = errors.at("variants", i)
        if not isinstance(spec, dict):
            at.add(None, "Each variant is an object {name, prompt, is_control}.")
            continue
        for key in sorted(set(spec) - {"name", "prompt", "is_control"}):
            at.add(key, "Unknown field.")
        name = at.check("name", v.text, spec.get("name"), max_length=limits.NAME_CHARS, required=True)
        at.check("prompt", _prompt, spec.get("prompt"))
        is_control = at.check("is_control", v.boolean, spec.get("is_control"), required=False, default=False)
        if name and name in names:
            at.add("name", f"The experiment already has a variant named '{name}'.")
        names.add(name)
        if is_control and control:
            at.add("is_control", "The experiment already has a control variant.")
        control = control or bool(is_control)


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
    errors = v.Errors()
    if experiment.status == Status.CONCLUDED:
        errors.add("experiment", "A concluded experiment takes no new variants.")
    name = errors.check("name", v.text, name, max_length=limits.NAME_CHARS, required=True)
    prompt = errors.check("prompt", _prompt, prompt)
    is_control = errors.check("is_control", v.boolean, is_control, required=False, default=False)
    if not errors:
        if Variant.objects.filter(experiment=experiment, name=name).exists():
            errors.add("name", f"The experiment already has a variant named '{name}'.")
        if is_control and Variant.objects.filter(experiment=experiment, is_control=True).exists():
            errors.add("is_control", "The experiment already has a control variant.")
        if Variant.objects.filter(experiment=experiment, retired_at__isnull=True).count() >= conf.MAX_VARIANTS:
            errors.add("experiment", f"An experiment has at most {conf.MAX_VARIANTS} active variants.")
    errors.raise_if_any()
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
    errors = v.Errors()
    if variant.experiment.status == Status.CONCLUDED:
        errors.add("experiment", "Variants of a concluded experiment cannot change.")
    if "prompt" in fields:
        prompt = errors.check("prompt", _prompt, fields["prompt"])
        if prompt is not None and prompt != variant.prompt and variant.results_count > 0:
            errors.add("prompt", "The prompt cannot change once results are recorded; add a new variant instead.")
    if "name" in fields:
        name = errors.check("name", v.text, fields["name"], max_length=limits.NAME_CHARS, required=True)
        if (
            name
            and Variant.objects.filter(experiment_id=variant.experiment_id, name=name).exclude(pk=variant.pk).exists()
        ):
            errors.add("name", f"The experiment already has a variant named '{name}'.")
        fields["name"] = name
    if "is_control" in fields:
        fields["is_control"] = errors.check("is_control", v.boolean, fields["is_control"])
    if (
        fields.get("is_control")
        and Variant.objects.filter(experiment_id=variant.experiment_id, is_control=True).exclude(pk=variant.pk).exists()
    ):
        errors.add("is_control", "The experiment already has a control variant.")
    errors.raise_if_any()
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


def _positive_id(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise v.Invalid("Must be a positive integer id.")
    return value


def _result_clean(raw, errors: v.Errors) -> dict | None:
    """One result's values (every bad field filed in ``errors``), or None."""
    if not isinstance(raw, dict):
        errors.add(None, "Each result must be an object.")
        return None
    check = errors.check
    success = check("success", v.boolean, raw.get("success"))
    quality = check("quality", v.number, raw.get("quality"), low=limits.MIN_QUALITY, high=limits.MAX_QUALITY)
    duration = check("duration_ms", v.number, raw.get("duration_ms"), low=0, high=limits.MAX_DURATION_MS, default=0.0)
    tokens = check("tokens", v.whole, raw.get("tokens"), low=0, high=limits.MAX_TOKENS, default=0)
    cost = check("cost", v.money, raw.get("cost"), places=RESULT_COST_PLACES, high=limits.MAX_COST, default=Decimal(0))
    variant_id = check("variant_id", _positive_id, raw.get("variant_id"))
    assignment_id = check("assignment_id", _positive_id, raw.get("assignment_id"))
    if raw.get("variant_id") is None and raw.get("assignment_id") is None:
        errors.add("variant_id", "Name the variant (variant_id) or the assignment (assignment_id).")
    if errors:
        return None
    return {
        "variant_id": variant_id,
        "assignment_id": assignment_id,
        "success": success,
        "quality": quality,
        "duration_ms": duration,
        "tokens": tokens,
        "cost": cost,
    }


def results_check(*, team, results: list, experiment: Experiment | None = None) -> tuple[list, list[v.Errors]]:
    """Every rule a result must pass, without writing: its values (limits of ``crucible.limits``),
    its assignment (of this team, without a result yet, used once in the batch), its variant (of
    this team, active, in an experiment that takes results, in ``experiment`` when given).

    Returns (cleaned results, one ``Errors`` per result with the fields as the result names them);
    a refused result's cleaned value is None. Observability calls it to refuse an event's result
    before storing the event."""
    from improvement.selectors import variants_for_team

    problems = [v.Errors() for _ in results]
    cleaned = [_result_clean(raw, errors) for raw, errors in zip(results, problems, strict=True)]

    seen_assignments: set[int] = set()
    for r, errors in zip(cleaned, problems, strict=True):
        if r is None or r["assignment_id"] is None:
            continue
        if r["assignment_id"] in seen_assignments:
            errors.add("assignment_id", "The same assignment appears twice; an assignment takes one result.")
        seen_assignments.add(r["assignment_id"])
    assignments = {
        a["id"]: a
        for a in Assignment.objects.filter(pk__in=seen_assignments, team=team).values("id", "variant_id", "result_at")
    }
    for r, errors in zip(cleaned, problems, strict=True):
        if r is None or r["assignment_id"] is None or errors:
            continue
        a = assignments.get(r["assignment_id"])
        if a is None:
            errors.add("assignment_id", "Unknown assignment.")
        elif a["result_at"] is not None:
            errors.add("assignment_id", "This assignment already has a result.")
        elif r["variant_id"] is not None and r["variant_id"] != a["variant_id"]:
            errors.add("variant_id", "This is not the variant the assignment served.")
        else:
            r["variant_id"] = a["variant_id"]

    ids = {r["variant_id"] for r, errors in zip(cleaned, problems, strict=True) if r is not None and not errors}
    variants = variants_for_team(team=team, ids=ids) if ids else {}
    for r, errors in zip(cleaned, problems, strict=True):
        if r is None or errors:
            continue
        variant = variants.get(r["variant_id"])
        if variant is None:
            errors.add("variant_id", "Unknown variant.")
        elif variant.retired_at is not None:
            errors.add("variant_id", "This variant is retired and takes no results.")
        elif not variant.experiment.accepts_results:
            errors.add("variant_id", f"The variant's experiment is {variant.experiment.status} and takes no results.")
        elif experiment is not None and variant.experiment_id != experiment.pk:
            errors.add("variant_id", f"This variant belongs to another experiment than '{experiment.name}'.")
        else:
            r["variant"] = variant
    return [r if not errors else None for r, errors in zip(cleaned, problems, strict=True)], problems


@transaction.atomic
def results_record_bulk(
    *,
    team,
    results: list[dict],
    experiment: Experiment | None = None,
    skip_refused: bool = False,
    prefix: str = "results",
) -> dict:
    """Record results and move each variant's statistics in the database.

    ``results``: ``[{variant_id or assignment_id, success, duration_ms, quality (0-100 or None),
    tokens, cost}]``, checked by ``results_check``. By default any refused result raises one
    ``ValidationError`` naming every bad field as ``<prefix>.<index>.<field>`` and nothing is
    written. With ``skip_refused`` the others are recorded and the refusals come back as
    ``{"refused": {index: Errors}}``. Then one ``UPDATE ... SET x = x + n`` per variant (in id
    order, so concurrent batches cannot deadlock) and one upsert of the hour's buckets. With
    ``experiment``, every result must belong to it. Returns ``{"recorded": n}``.
    """
    if not isinstance(results, list):
        raise ValidationError({prefix or "results": "Send a list of results."})
    if not results:
        return {"recorded": 0}
    checked, problems = results_check(team=team, results=results, experiment=experiment)
    refused = {index: errors for index, errors in enumerate(problems) if errors}
    if refused and not skip_refused:
        errors = v.Errors()
        for index, problem in refused.items():
            (errors.at(prefix, index) if prefix else errors).merge(problem)
        errors.raise_if_any()
    cleaned = [r for r in checked if r is not None]
    if not cleaned:
        return {"recorded": 0, "refused": refused}
    variants = {r["variant"].pk: r["variant"] for r in cleaned}
    assignment_ids = [r["assignment_id"] for r in cleaned if r["assignment_id"] is not None]

    now = timezone.now()
    if assignment_ids:
        marked = Assignment.objects.filter(pk__in=assignment_ids, result_at__isnull=True).update(result_at=now)
        if marked != len(assignment_ids):
            # Another request recorded a result for one of them in the meantime.
            raise ValidationError({prefix or "assignment_id": "An assignment in this batch already has a result."})

    totals: dict[int, dict] = defaultdict(lambda: defaultdict(float))
    for r in cleaned:
        variant = variants[r["variant_id"]]
        t = totals[variant.pk]
        t["n"] += 1
        t["succ"] += 1 if r["success"] else 0
        score = objective_score(
            variant.experiment, success=r["success"], duration_ms=r["duration_ms"], quality=r["quality"], cost=r["cost"]
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
    outcome = {"recorded": len(cleaned)}
    if skip_refused:
        outcome["refused"] = refused
    return outcome


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
    """One result (see ``results_record_bulk``); bad fields are named as sent (``quality``)."""
    return results_record_bulk(team=team, results=[result], experiment=experiment, prefix="")


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
        ) from None
    if experiment.status == Status.DRAFT:
        experiment_start(experiment=experiment)
    return variant
