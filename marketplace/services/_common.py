"""Helpers shared by several marketplace service topics."""

from __future__ import annotations

from marketplace.models import Agent, Visibility


def _lock_agent(agent: Agent) -> Agent:
    return Agent.objects.select_for_update().get(pk=agent.pk)


def _agent_visible_to(agent: Agent, team) -> bool:
    return agent.team_id == team.pk or (agent.visibility == Visibility.PUBLIC and agent.is_listed)
