"""Variants of an experiment: add, change, retire."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crucible import limits
from crucible import validation as v
from improvement import conf
from improvement.models import Experiment, Status, Variant
from improvement.services._common import _prompt


@transaction.atomic
def variant_create(
    *,
    experiment: Experiment,
    name: str,
    prompt: str | None = None,
    is_control: bool = False,
    agent_version=None,
    model_hints: dict | None = None,
) -> Variant:
    """Add a variant; allowed while the experiment is draft, running or paused. With
    ``agent_version`` (a marketplace version of the experiment's agent) the variant is that whole
    version: its prompt, model hints and schemas (``prompt``/``model_hints`` override them)."""
    # Lock the experiment so two concurrent adds cannot both pass the variant cap.
    experiment = Experiment.objects.select_for_update(no_key=True).get(pk=experiment.pk)
    errors = v.Errors()
    version_fields = {}
    if agent_version is not None:
        if experiment.agent_id is not None and agent_version.agent_id != experiment.agent_id:
            errors.add("agent_version", "The version must be a version of the experiment's agent.")
        prompt = agent_version.system_prompt if prompt is None else prompt
        version_fields = {
            "agent_version": agent_version,
            "version_label": agent_version.version,
            "model_hints": agent_version.model_hints if model_hints is None else model_hints,
            "input_schema": agent_version.input_schema,
            "output_schema": agent_version.output_schema,
        }
    elif model_hints is not None:
        version_fields = {"model_hints": model_hints}
    if not isinstance(version_fields.get("model_hints", {}), dict):
        errors.add("model_hints", "Model hints are a JSON object.")
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
        team_id=experiment.team_id,
        experiment=experiment,
        name=name,
        prompt=prompt,
        is_control=bool(is_control),
        **version_fields,
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
