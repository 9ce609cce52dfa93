"""Routing rules of the read replica that need no standby: which views may read from it, which
raw SQL may run there, which tables never do, how lag is judged, and that nothing changes when no
replica is configured (the standby itself: test_standby.py)."""

from __future__ import annotations

import math

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.urls import resolve

from crucible import db_router, replica
from crucible.db_router import ReadPlan, read_alias
from crucible.models import ApiKey, Membership, Team
from crucible.sql import is_plain_read


@pytest.mark.parametrize(
    ("path", "method", "expected"),
    [
        ("/api/v1/alerts/rules/", "GET", True),  # a team-scoped list
        ("/api/v1/alerts/rules/1/", "GET", True),  # its detail
        ("/api/v1/alerts/rules/", "POST", False),
        ("/api/v1/alerts/rules/1/", "DELETE", False),
        ("/alerts/", "GET", True),  # a list page
        ("/alerts/", "POST", False),
        ("/", "GET", True),  # the home page (a function view)
        ("/observability/", "GET", True),  # the dashboard
        ("/api/v1/observability/dashboard/", "GET", True),
        ("/teammemory/", "GET", True),
        ("/api/v1/teammemory/insights/", "GET", True),
        ("/observability/agents/planner/", "GET", True),
        ("/api/v1/observability/agents/planner/", "GET", True),
        ("/healthz", "GET", False),  # not declared: the primary
        ("/settings/api-keys/", "GET", False),
    ],
)
def test_views_that_read_from_the_replica(path, method, expected):
    assert db_router._view_reads_replica(resolve(path).func, method) is expected


@pytest.mark.parametrize(
    ("sql", "plain"),
    [
        ("SELECT count(*) FROM observability_hourlyrollup WHERE team_id = %(team)s", True),
        ("  with w AS (SELECT 1 AS updated_at) SELECT updated_at FROM w", True),
        ("INSERT INTO t (a) VALUES (1) RETURNING id", False),
        ("WITH moved AS (UPDATE t SET a = 1 RETURNING id) SELECT id FROM moved", False),
        ("SELECT id FROM t WHERE a = 1 FOR UPDATE", False),
        ("SELECT nextval('t_id_seq')", False),
        ("SELECT pg_advisory_xact_lock(1)", False),
        ("SELECT k FROM unnest(%(keys)s::bigint[]) k WHERE pg_try_advisory_xact_lock(k)", False),
        ("DELETE FROM t", False),
    ],
)
def test_raw_sql_that_may_run_on_the_replica(sql, plain):
    assert is_plain_read(sql) is plain


def test_who_may_do_what_is_always_read_on_the_primary():
    token = db_router._plan.set(ReadPlan(eligible=True, alias=replica.REPLICA))
    try:
        assert read_alias(Team) == replica.REPLICA
        assert read_alias(ApiKey) == "default" and read_alias(Membership) == "default"
        db_router.ReplicaRouter().db_for_write(ApiKey)  # bookkeeping: the plan stands
        assert read_alias(Team) == replica.REPLICA
        db_router.ReplicaRouter().db_for_write(Team)  # a write: the rest of the request reads the primary
        assert read_alias(Team) == "default"
    finally:
        db_router._plan.reset(token)


def test_lag_is_judged_by_what_the_replica_has_replayed(monkeypatch):
    monkeypatch.setattr(replica, "_last_primary", (100, 50.0))
    assert replica._lag(200, 200, last_replay_age=30.0, now=51.0) == 0.0  # all replayed
    assert replica._lag(150, 200, last_replay_age=30.0, now=51.0) == 1.0  # what the primary had at the last check
    assert replica._lag(90, 200, last_replay_age=30.0, now=51.0) == 30.0  # behind that: its last transaction
    assert math.isinf(replica._lag(90, 200, last_replay_age=None, now=51.0))


@pytest.mark.django_db
def test_without_a_replica_nothing_changes(client, member_client):
    body = client.get("/healthz").json()
    assert body["replica"] == {"status": "off"}
    response = member_client.post(
        "/api/v1/alerts/rules/",
        {"name": "r", "metric": "error_rate", "window_minutes": 15, "critical_threshold": 0.2},
        format="json",
    )
    assert response.status_code == 201
    assert db_router.MARKER_COOKIE not in response.cookies
    assert read_alias() == "default"


def test_a_replica_alias_that_is_not_a_standby_is_never_read(django_db_setup, django_db_blocker, client):
    """A second alias of the primary itself (a mistaken DATABASE_REPLICA_URL, or a promoted
    former replica) is found out by the check and serves no reads."""
    with django_db_blocker.unblock():
        connections.settings[replica.REPLICA] = dict(connections[DEFAULT_DB_ALIAS].settings_dict)
        replica.reset()
        token = db_router._plan.set(ReadPlan(eligible=True))
        try:
            assert replica.check().status == replica.NOT_STANDBY
            assert read_alias(Team) == DEFAULT_DB_ALIAS
            assert client.get("/healthz").json()["replica"]["status"] == "not_standby"
        finally:
            db_router._plan.reset(token)
            connections[replica.REPLICA].close()
            del connections[replica.REPLICA]
            del connections.settings[replica.REPLICA]
            replica.reset()
