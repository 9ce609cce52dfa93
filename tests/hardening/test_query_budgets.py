"""Query budgets: every API read without path parameters (lists, dashboards, reports) costs the
same number of SQL queries for one object of each kind as for many, and that number is pinned in
``query_counts.json`` beside this file (as NetBox pins its list endpoints), so an N+1 or a new
query per request is a failing test, not a slow page found later.

When a change adds or removes a query on purpose, rewrite the file with
``CRUCIBLE_UPDATE_QUERY_COUNTS=1 scripts/test tests/hardening/test_query_budgets.py`` and review
the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.hardening import discovery
from tests.hardening.registry import World

pytestmark = pytest.mark.django_db

COUNTS_FILE = Path(__file__).with_name("query_counts.json")
UPDATE = os.environ.get("CRUCIBLE_UPDATE_QUERY_COUNTS") == "1"
MORE = 6  # extra objects of each kind for the "many" measurement

READS = [op for op in discovery.operations() if op.method == "get" and not op.params]


def _pinned() -> dict[str, int]:
    return json.loads(COUNTS_FILE.read_text()) if COUNTS_FILE.exists() else {}


def _count(client, path: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = discovery.read(client.get(path, format="json"))  # an export's queries run as it streams
    return response.status_code, len(queries)


def _grow(world: World, n: int) -> None:
    """``n`` more objects of every kind the lists show, for team A, made through the services."""
    import datetime as dt

    from django.utils import timezone

    from crucible import services as core
    from crucible.models import Role
    from improvement import services as imp
    from marketplace import services as mp
    from observability import services as obs
    from teammemory import services as tm

    publisher_team = core.team_create(name="Budget publisher", slug="budget-publisher")
    publisher = core.user_create(username="budget_publisher", password="pw-for-tests-1")
    core.membership_set(team=publisher_team, user=publisher, role=Role.OWNER)
    finished = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
    events = []
    for i in range(n):
        core.api_key_create(team=world.team_a, name=f"budget key {i}", role=Role.MEMBER, created_by=world.owner_a)
        agent = mp.agent_create(
            team=world.team_a,
            name=f"Budget agent {i}",
            slug=f"budget-agent-{i}",
            system_prompt="Review code.",
            visibility="private",
            created_by=world.owner_a,
        )
        mp.version_publish(agent=agent, system_prompt="Review code, again.")
        public = mp.agent_create(
            team=publisher_team,
            name=f"Budget public {i}",
            slug=f"budget-public-{i}",
            system_prompt="Help.",
            visibility="public",
            created_by=publisher,
        )
        mp.agent_install(agent=public, team=world.team_a, user=world.owner_a)
        mp.rating_set(agent=public, user=world.owner_a, team=world.team_a, stars=1 + i % 5, review=f"review {i}")
        experiment = imp.experiment_create(
            team=world.team_a,
            name=f"Budget experiment {i}",
            created_by=world.owner_a,
            agent=agent,
            variants=[
                {"name": "control", "prompt": "Review code.", "is_control": True},
                {"name": "terse", "prompt": "Review code tersely."},
            ],
            status="running",
        )
        imp.variant_select(experiment=experiment)
        tm.build_record(
            team=world.team_a,
            client_build_id=f"budget-build-{i}",
            status="failed" if i % 2 else "succeeded",
            started_at=finished - dt.timedelta(minutes=5 + i),
            finished_at=finished,
            project_name=f"Budget project {i}",
            stack={"language": "python", "framework": f"framework-{i}"},
            quality=50 + i,
            tokens=100 * i,
            cost=0.01,
            reported_by=world.owner_a,
        )
        events.append(
            {
                "id": f"budget-exec-{i}",
                "agent_ref": agent.slug,
                "status": "error" if i % 2 else "success",
                "duration_ms": 100 * (i + 1),
                "input_tokens": 10,
                "output_tokens": 5,
                "model": f"model-{i}",
                "started_at": (timezone.now() - dt.timedelta(hours=i)).isoformat(),
                **({"error_type": f"Error{i}"} if i % 2 else {}),
            }
        )
    obs.executions_ingest(team=world.team_a, events=events)


@pytest.fixture
def owner_key_client(caller):
    return caller("owner_key")


def test_there_are_reads_to_budget():
    assert len(READS) >= 10


@pytest.mark.parametrize("op", [pytest.param(op, id=op.id) for op in READS])
def test_a_read_costs_the_same_queries_for_one_object_as_for_many(world, owner_key_client, op):
    path = discovery.fill(op.path, {})
    _count(owner_key_client, path)  # warm per-process caches (prices, key use stamps)
    status, few = _count(owner_key_client, path)
    assert status < 500, status
    _grow(world, MORE)
    status_many, many = _count(owner_key_client, path)
    assert status_many == status
    assert many == few, f"{op.id}: {few} queries with one object of each kind, {many} with {MORE + 1}"
    pinned = _pinned()
    if UPDATE:
        pinned[op.id] = few
        COUNTS_FILE.write_text(json.dumps(dict(sorted(pinned.items())), indent=2) + "\n")
        return
    assert op.id in pinned, f"{op.id} has no pinned query count; see this module's docstring"
    assert few == pinned[op.id], (
        f"{op.id}: {few} queries, {pinned[op.id]} pinned; if on purpose, rewrite query_counts.json "
        "(see this module's docstring)"
    )


def test_every_pinned_read_still_exists():
    ids = {op.id for op in READS}
    stale = sorted(set(_pinned()) - ids)
    assert stale == [], f"query_counts.json pins reads that no longer exist: {stale}"
