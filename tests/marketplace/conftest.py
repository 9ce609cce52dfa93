"""Marketplace fixtures: agents built through the services, as users build them."""

from __future__ import annotations

import itertools

import pytest

from marketplace import services

_n = itertools.count(1)


@pytest.fixture
def make_agent(db):
    def make(team, name: str | None = None, **kwargs):
        n = next(_n)
        kwargs.setdefault("system_prompt", f"You are helpful agent number {n}.")
        kwargs.setdefault("summary", f"Summary of agent {n}")
        return services.agent_create(team=team, name=name or f"Agent {n}", **kwargs)

    return make


@pytest.fixture
def agent(make_agent, team, member):
    return make_agent(team, "Code Reviewer", created_by=member, tags=["review", "python"], category="code-review")


@pytest.fixture
def public_agent(make_agent, other_team, outsider):
    """A public agent published by another team (Globex)."""
    return make_agent(other_team, "Test Writer", created_by=outsider, tags=["testing"], category="testing")
