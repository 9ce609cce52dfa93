"""Experiment settings: validation, create, update, start, pause."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crucible import limits
from crucible import validation as v
from improvement import conf
from improvement.models import Experiment, Status, Strategy, Variant
from improvement.services._common import RESULT_COST_PLACES, _prompt
from improvement.services.variants import variant_create
from marketplace import selectors as marketplace_selectors

OBJECTIVE_FIELDS = (
    "weight_quality",
    "weight_success",
    "weight_speed",
    "weight_cost",
    "speed_reference_ms",
    "cost_reference",
)
GUARDRAIL_FIELDS = ("guardrail_error_margin", "guardrail_p95_margin", "guardrail_cost_margin", "guardrail_auto_stop")
EXPERIMENT_FIELDS = (
    "name",
    "agent",
    "description",
    "strategy",
    "epsilon",
    "min_results",
    *GUARDRAIL_FIELDS,
    "cuped",
    *OBJECTIVE_FIELDS,
)
MAX_WEIGHT = 1000.0
MAX_MIN_RESULTS = 1_000_000


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
    for field, high in (
        ("guardrail_error_margin", 1.0),
        ("guardrail_p95_margin", 100.0),
        ("guardrail_cost_margin", 100.0),
    ):
        errors.check(field, v.number, getattr(experiment, field), low=0.0, high=high, required=False)
    errors.check("guardrail_auto_stop", v.boolean, experiment.guardrail_auto_stop)
    errors.check("cuped", v.boolean, experiment.cuped)
    if (
        experiment.agent_id is not None
        and experiment.agent.team_id != experiment.team_id
        and marketplace_selectors.installation_for_team(team=experiment.team, agent=experiment.agent) is None
    ):
        errors.add(
            "agent",
            "The agent must belong to this team (promotion publishes a version of it) or be installed by it "
            "(promotion pins the winning version).",
        )


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
