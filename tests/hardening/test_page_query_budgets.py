"""Page query budgets: every main page costs the same number of SQL queries with one object of each
kind as with many (the same ``_grow`` as the API budgets), and that number is pinned in
``page_query_counts.json`` beside this file, so an N+1 on a page is a failing test.

When a change adds or removes a query on purpose, rewrite the file with
``CRUCIBLE_UPDATE_QUERY_COUNTS=1 scripts/test tests/hardening/test_page_query_budgets.py`` and
review the diff. Speed of the same pages: ``benchmarks/pages.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.hardening.test_query_budgets import MORE, _grow

pytestmark = pytest.mark.django_db

COUNTS_FILE = Path(__file__).with_name("page_query_counts.json")
UPDATE = os.environ.get("CRUCIBLE_UPDATE_QUERY_COUNTS") == "1"


def _agent(w):
    return w.get("marketplace.agent")


# (name, path from team A's world): the main pages of every app.
PAGES = {
    "home": lambda w: "/",
    "marketplace browse": lambda w: "/marketplace/",
    "marketplace agent": lambda w: f"/marketplace/agents/{_agent(w).pk}/",
    "marketplace version": lambda w: (
        f"/marketplace/agents/{_agent(w).pk}/versions/{w.get('marketplace.agentversion').pk}/"
    ),
    "observability dashboard 24h": lambda w: "/observability/",
    "observability dashboard 30d": lambda w: "/observability/?range=30d",
    "observability agent": lambda w: f"/observability/agents/{w.get('observability.execution').agent_name}/",
    "observability bottlenecks": lambda w: "/observability/bottlenecks/",
    "observability recommendations": lambda w: "/observability/recommendations/",
    "observability executions": lambda w: "/observability/executions/",
    "observability traces": lambda w: "/observability/traces/",
    "observability trace": lambda w: f"/observability/traces/{w.get('observability.trace').trace_id}/",
    "observability sessions": lambda w: "/observability/sessions/",
    "observability live": lambda w: "/observability/live/",
    "observability live fragment": lambda w: "/observability/live/?range=1h&fragment=1",
    "alerts": lambda w: "/alerts/",
    "improvement": lambda w: "/improvement/",
    "improvement report": lambda w: f"/improvement/experiments/{w.get('improvement.experiment').pk}/",
    "teammemory": lambda w: "/teammemory/",
    "teammemory builds": lambda w: "/teammemory/builds/",
    "teammemory build": lambda w: f"/teammemory/builds/{w.get('teammemory.build').pk}/",
    "notifications": lambda w: "/notifications/",
}


def _pinned() -> dict[str, int]:
    return json.loads(COUNTS_FILE.read_text()) if COUNTS_FILE.exists() else {}


def _count(client, path: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    return response.status_code, len(queries)


@pytest.mark.parametrize("name", list(PAGES))
def test_a_page_costs_the_same_queries_for_one_object_as_for_many(world, name):
    client = Client()
    client.force_login(world.owner_a)
    path = PAGES[name](world)
    _count(client, path)  # warm per-process caches
    status, few = _count(client, path)
    assert status == 200, (name, status)
    _grow(world, MORE)
    status_many, many = _count(client, path)
    assert status_many == 200
    assert many == few, f"{name}: {few} queries with one object of each kind, {many} with {MORE + 1}"
    pinned = _pinned()
    if UPDATE:
        pinned[name] = few
        COUNTS_FILE.write_text(json.dumps(dict(sorted(pinned.items())), indent=2) + "\n")
        return
    assert name in pinned, f"{name} has no pinned query count; see this module's docstring"
    assert few == pinned[name], f"{name}: {few} queries, {pinned[name]} pinned; if on purpose, rewrite the file"


def test_every_pinned_page_still_exists():
    assert sorted(set(_pinned()) - set(PAGES)) == []
