"""Writes of the earlier routes, composed from the v1 services."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from improvement import services as improvement_services
from improvement.models import Experiment, Status, Variant


@transaction.atomic
def improve_test_variant(
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
        experiment = improvement_services.experiment_create(team=team, name=name, created_by=user)
    if not variant_name:
        taken = set(Variant.objects.filter(experiment=experiment).values_list("name", flat=True))
        n = len(taken) + 1
        while f"v{n}" in taken:
            n += 1
        variant_name = f"v{n}"
    try:
        variant = improvement_services.variant_create(experiment=experiment, name=variant_name, prompt=variant_prompt)
    except ValidationError as exc:
        raise ValidationError(
            {
                ("variant_prompt" if k == "prompt" else "variant_name" if k == "name" else k): v
                for k, v in exc.message_dict.items()
            }
        ) from None
    if experiment.status == Status.DRAFT:
        improvement_services.experiment_start(experiment=experiment)
    return variant
