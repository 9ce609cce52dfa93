"""Fixtures for team memory tests: a build factory going through the real service."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from teammemory import services

_ids = itertools.count(1)

# A fixed "now" so tests that place builds in weeks are deterministic.
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)  # a Monday

PYTHON_STACK = {"language": "Python", "framework": "Django", "database": "Postgres"}
NODE_STACK = {"language": "TypeScript", "framework": "Express", "database": "MongoDB"}


@pytest.fixture
def make_build(db, team):
    """make_build(status="succeeded", quality=80, started=..., minutes=10, **fields) -> Build."""

    def make(*, team=team, status="succeeded", quality=80, started=None, minutes=10.0, **fields):
        started = started or NOW - dt.timedelta(days=1)
        fields.setdefault("client_build_id", f"b-{next(_ids)}")
        fields.setdefault("stack", PYTHON_STACK)
        build, created = services.build_record(
            team=team,
            status=status,
            quality=quality,
            started_at=started,
            finished_at=started + dt.timedelta(minutes=minutes),
            **fields,
        )
        assert created
        return build

    return make


@pytest.fixture
def agent(db, team):
    from marketplace import services as marketplace_services

    return marketplace_services.agent_create(team=team, name="Coder", system_prompt="You write code.", version="1.0.0")
