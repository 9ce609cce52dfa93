"""Forks: copy an agent another team published into your own team, keeping a link to it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F

from marketplace.models import Agent, AgentVersion, Visibility
from marketplace.services._common import _agent_visible_to
from marketplace.services.agents import agent_create


def _free_slug(team, slug: str) -> str:
    """``slug`` when the team has no agent with it, else ``slug-fork``, ``slug-fork-2``, ..."""
    taken = set(Agent.objects.filter(team=team, slug__startswith=slug).values_list("slug", flat=True))
    if slug not in taken:
        return slug
    base = f"{slug[:95]}-fork"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


@transaction.atomic
def agent_fork(
    *,
    agent: Agent,
    team,
    version: AgentVersion | None = None,
    name: str | None = None,
    slug: str | None = None,
    visibility: str = Visibility.PRIVATE,
    created_by=None,
) -> Agent:
    """A new agent of ``team`` whose first version (1.0.0) copies ``version`` of ``agent`` (default:
    its latest): system prompt, schemas and model hints, plus the listing. The fork remembers the
    agent and version it came from; the original's ``fork_count`` moves in the database. A fork is
    private unless asked otherwise."""
    if not _agent_visible_to(agent, team):
        if agent.visibility == Visibility.PRIVATE:
            raise PermissionDenied("This agent is private to its team.")
        raise ValidationError({"agent": "This agent has been unlisted and cannot be forked."})
    if version is None:
        version = agent.latest_version
        if version is None:
            raise ValidationError({"version": "This agent has no version to fork (all are yanked)."})
    elif version.agent_id != agent.pk:
        raise ValidationError({"version": "That version belongs to another agent."})
    fork = agent_create(
        team=team,
        name=name or agent.name,
        slug=slug or _free_slug(team, agent.slug),
        system_prompt=version.system_prompt,
        summary=agent.summary,
        description=agent.description,
        category=agent.category,
        tags=list(agent.tags),
        visibility=visibility,
        version="1.0.0",
        changelog=f"Forked from {agent.team.slug}/{agent.slug} {version.version}.",
        input_schema=version.input_schema,
        output_schema=version.output_schema,
        model_hints=version.model_hints,
        created_by=created_by,
    )
    Agent.objects.filter(pk=fork.pk).update(forked_from=agent, forked_from_version=version)
    Agent.objects.filter(pk=agent.pk).update(fork_count=F("fork_count") + 1)
    fork.refresh_from_db()
    return fork
