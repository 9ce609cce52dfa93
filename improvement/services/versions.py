"""Experiments whose variants are whole marketplace versions: "current against new" from the
upgrade advisor, and the experiments a finding (observability, team memory) starts.

Callers above improvement in the layers (observability, teammemory) call
``experiment_versions_start`` with the variants their finding suggests; the experiment remembers
the finding (``source_kind``, ``source_key``) so each links to the other, and a second click on the
same finding opens the experiment already running instead of starting another.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from crucible import limits
from improvement.models import Experiment, SourceKind, Status
from improvement.services.experiments import experiment_create, experiment_start
from improvement.services.variants import variant_create
from marketplace import selectors as marketplace_selectors


@dataclass(frozen=True)
class VersionVariant:
    """One variant to create: a version of the agent, optionally with other model hints or prompt."""

    name: str
    version: object  # a marketplace AgentVersion
    is_control: bool = False
    model_hints: dict | None = None
    prompt: str | None = None


def _free_name(team, name: str) -> str:
    name = name[: limits.NAME_CHARS - 6]
    taken = set(Experiment.objects.filter(team=team, name__startswith=name).values_list("name", flat=True))
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    return candidate


def experiment_for_source(*, team, source_kind: str, source_key: str) -> Experiment | None:
    """The experiment a finding started that is not concluded yet, if any."""
    return (
        Experiment.objects.filter(team=team, source_kind=source_kind, source_key=source_key)
        .exclude(status=Status.CONCLUDED)
        .order_by("-created_at")
        .first()
    )


@transaction.atomic
def experiment_versions_start(
    *,
    team,
    agent,
    variants: list[VersionVariant],
    name: str,
    source_kind: str = "",
    source_key: str = "",
    description: str = "",
    start: bool = True,
    created_by=None,
) -> tuple[Experiment, bool]:
    """Create (and with ``start``, run) an experiment on ``agent`` whose variants are versions.
    Returns (experiment, created); an open experiment from the same source is returned as is.
    The guardrails are the experiment's per-metric margins (error rate, p95 duration, cost per
    run), at their defaults."""
    if source_kind and source_kind not in SourceKind.values:
        raise ValidationError({"source_kind": "Unknown source."})
    if source_kind:
        existing = experiment_for_source(team=team, source_kind=source_kind, source_key=source_key[:300])
        if existing is not None:
            return existing, False
    experiment = experiment_create(
        team=team,
        name=_free_name(team, name),
        agent=agent,
        description=description,
        created_by=created_by,
    )
    if source_kind:
        experiment.source_kind = source_kind
        experiment.source_key = source_key[:300]
        experiment.save(update_fields=["source_kind", "source_key", "updated_at"])
    for spec in variants:
        variant_create(
            experiment=experiment,
            name=spec.name,
            is_control=spec.is_control,
            agent_version=spec.version,
            model_hints=spec.model_hints,
            prompt=spec.prompt,
        )
    if start:
        experiment = experiment_start(experiment=experiment)
    return experiment, True


def experiment_upgrade_start(*, team, agent, created_by=None) -> tuple[Experiment, bool]:
    """The upgrade advisor's one click: the team's installed version (control) against the agent's
    newest version, on the team's own traffic, with the default guardrails."""
    installation = marketplace_selectors.installation_for_team(team=team, agent=agent) if agent else None
    if installation is None:
        raise ValidationError({"agent": "Your team has not installed this agent."})
    current, newest = installation.version, agent.latest_version
    if newest is None or newest.sort_tuple <= current.sort_tuple:
        raise ValidationError({"agent": f"Version {current.version} is already the newest version of this agent."})
    return experiment_versions_start(
        team=team,
        agent=agent,
        name=f"{agent.slug} {current.version} vs {newest.version}",
        description=f"Upgrade advisor: the installed version {current.version} against the new {newest.version}.",
        variants=[
            VersionVariant(f"current {current.version}", current, is_control=True),
            VersionVariant(f"new {newest.version}", newest),
        ],
        source_kind=SourceKind.UPGRADE,
        source_key=f"{agent.pk}:{current.pk}:{newest.pk}",
        created_by=created_by,
    )
