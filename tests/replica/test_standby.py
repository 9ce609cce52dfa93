"""The read replica against a real streaming standby (tests/replica/standby.py): where each query
goes, read-your-writes for API keys and browsers, lag beyond the bound, and a stopped replica.

The tests of this module run in order on one primary/standby pair; they write on the primary
(autocommit, no test transaction: the standby sees only committed rows) and the pair is thrown
away at the end.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import override_settings
from rest_framework.test import APIClient

from crucible import db_router, replica, services
from crucible.models import Role
from crucible.replica import REPLICA
from tests.hardening.servers import PrivatePostgres
from tests.replica import standby as standby_servers

RULES = "/api/v1/alerts/rules/"
_names = itertools.count(1)


@dataclass
class Pair:
    primary: PrivatePostgres
    standby: PrivatePostgres


@pytest.fixture(scope="module")
def pair(django_db_setup, django_db_blocker):
    reason = standby_servers.missing_tool()
    if reason:
        pytest.skip(reason)
    with django_db_blocker.unblock():
        default = connections[DEFAULT_DB_ALIAS]
        saved = default.settings_dict
        servers = Pair(*standby_servers.start_pair())
        default.close()
        default.settings_dict = standby_servers.settings_of(servers.primary, saved)
        connections.settings[REPLICA] = standby_servers.settings_of(servers.standby, saved)
        replica.reset()
        try:
            yield servers
        finally:
            for alias in (DEFAULT_DB_ALIAS, REPLICA):
                connections[alias].close()
            del connections[REPLICA]
            del connections.settings[REPLICA]
            default.settings_dict = saved
            replica.reset()
            servers.standby.destroy()
            servers.primary.destroy()


@pytest.fixture(scope="module")
def team(pair):
    return services.team_create(name="Replica team", slug="replica-team")


def _key_client(team):
    _, raw = services.api_key_create(team=team, name=f"key {next(_names)}", role=Role.MEMBER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture(scope="module")
def browser(team):
    user = services.user_create(username="replica-user", password="pw-for-tests-1")
    services.membership_set(team=team, user=user, role=Role.MEMBER)
    client = APIClient()
    client.force_login(user)
    return client


def _rule(client, **over) -> dict:
    body = {"name": f"rule {next(_names)}", "metric": "error_rate", "window_minutes": 15, "critical_threshold": 0.2}
    response = client.post(RULES, {**body, **over}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _get(client, path: str):
    """The response, and which aliases ran a query on the alert rules table."""
    touched = set()

    def watch(alias):
        def record(execute, sql, params, many, context):
            result = execute(sql, params, many, context)  # recorded once it ran there
            if "alerts_alertrule" in sql:
                touched.add(alias)
            return result

        return record

    with connections[DEFAULT_DB_ALIAS].execute_wrapper(watch(DEFAULT_DB_ALIAS)):
        with connections[REPLICA].execute_wrapper(watch(REPLICA)):
            response = client.get(path)
    return response, touched


def _names_listed(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {rule["name"] for rule in response.json()["results"]}


def _on_standby(pair, name: str) -> bool:
    return standby_servers.sql(pair.standby, f"SELECT count(*) FROM alerts_alertrule WHERE name = '{name}'") == 1


def _replay(pair, run: bool) -> None:
    standby_servers.sql(pair.standby, "SELECT pg_wal_replay_resume()" if run else "SELECT pg_wal_replay_pause()")


def test_a_list_read_goes_to_the_replica_and_sees_what_the_primary_wrote(pair, team):
    writer, reader = _key_client(team), _key_client(team)
    rule = _rule(writer)
    standby_servers.wait_until(lambda: _on_standby(pair, rule["name"]), "the standby to replay the rule")
    assert standby_servers.sql(pair.standby, "SELECT pg_is_in_recovery()") is True  # a real standby

    response, touched = _get(reader, RULES)

    assert rule["name"] in _names_listed(response)
    assert touched == {REPLICA}
    detail, touched = _get(reader, f"{RULES}{rule['id']}/")
    assert detail.status_code == 200 and touched == {REPLICA}


@override_settings(REPLICA_MAX_LAG_SECONDS=3600)
def test_a_clients_write_and_its_next_read_go_to_the_primary(pair, team):
    writer, other = _key_client(team), _key_client(team)
    _replay(pair, run=False)
    try:
        rule = _rule(writer)  # the standby does not replay it while paused

        mine, touched = _get(writer, RULES)
        assert rule["name"] in _names_listed(mine) and touched == {DEFAULT_DB_ALIAS}
        theirs, touched = _get(other, RULES)  # another client reads the (stale) standby
        assert rule["name"] not in _names_listed(theirs) and touched == {REPLICA}
    finally:
        _replay(pair, run=True)
    standby_servers.wait_until(lambda: _on_standby(pair, rule["name"]), "the standby to replay the rule")

    again, touched = _get(writer, RULES)  # the standby has passed the writer's last commit
    assert rule["name"] in _names_listed(again) and touched == {REPLICA}


@override_settings(REPLICA_MAX_LAG_SECONDS=3600)
def test_a_browsers_write_is_remembered_in_a_cookie(pair, browser):
    _replay(pair, run=False)
    try:
        rule = _rule(browser)
        assert db_router.MARKER_COOKIE in browser.cookies
        response, touched = _get(browser, RULES)
        assert rule["name"] in _names_listed(response) and touched == {DEFAULT_DB_ALIAS}
        page, touched = _get(browser, "/alerts/")  # a list page, same rule
        assert page.status_code == 200 and rule["name"] in page.content.decode()
        assert touched == {DEFAULT_DB_ALIAS}
    finally:
        _replay(pair, run=True)
    standby_servers.wait_until(lambda: _on_standby(pair, rule["name"]), "the standby to replay the rule")
    page, touched = _get(browser, "/alerts/")
    assert page.status_code == 200 and rule["name"] in page.content.decode() and touched == {REPLICA}


def test_a_write_inside_a_request_keeps_its_reads_on_the_primary(pair, team):
    writer = _key_client(team)
    ran = []
    with connections[REPLICA].execute_wrapper(lambda execute, sql, *args: ran.append(sql) or execute(sql, *args)):
        _rule(writer)
    assert ran == []  # POST: every statement on the primary


@override_settings(REPLICA_MAX_LAG_SECONDS=0.2, REPLICA_CHECK_SECONDS=0)
def test_lag_beyond_the_bound_sends_reads_to_the_primary(pair, team):
    reader = _key_client(team)
    _replay(pair, run=False)
    try:
        rule = _rule(_key_client(team))
        time.sleep(0.4)
        replica.reset()
        response, touched = _get(reader, RULES)
        assert rule["name"] in _names_listed(response) and touched == {DEFAULT_DB_ALIAS}
        health = APIClient().get("/healthz")
        assert health.status_code == 200
        assert health.json()["replica"]["status"] == "lagging" and health.json()["replica"]["lag_seconds"] > 0.2
    finally:
        _replay(pair, run=True)
    standby_servers.wait_until(lambda: _on_standby(pair, rule["name"]), "the standby to catch up")
    replica.reset()
    response, touched = _get(reader, RULES)
    assert rule["name"] in _names_listed(response) and touched == {REPLICA}
    assert APIClient().get("/healthz").json()["replica"]["status"] == "ok"


def test_a_stopped_replica_sends_reads_to_the_primary_and_pages_still_answer(pair, team, browser, monkeypatch):
    reader = _key_client(team)
    page, touched = _get(browser, "/alerts/")
    assert page.status_code == 200 and touched == {REPLICA}

    pair.standby.stop("immediate")
    # The replica dies between the request's check of its connection and its first statement:
    # the statement fails on the replica and the GET runs again on the primary.
    with monkeypatch.context() as patch:
        patch.setattr(connections[REPLICA], "close_if_health_check_failed", lambda: None)
        page, touched = _get(browser, "/alerts/")
    assert page.status_code == 200 and touched == {DEFAULT_DB_ALIAS}
    assert replica.current().status == replica.DOWN

    response, touched = _get(reader, RULES)  # marked down: straight to the primary
    assert response.status_code == 200 and touched == {DEFAULT_DB_ALIAS}
    replica.reset()  # a fresh process: its first check finds the replica unreachable
    page, touched = _get(browser, "/alerts/")
    assert page.status_code == 200 and touched == {DEFAULT_DB_ALIAS}
    health = APIClient().get("/healthz")
    assert health.status_code == 200 and health.json()["replica"]["status"] == "down"
