from __future__ import annotations

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from tests.hardening.registry import make_world


@pytest.fixture(scope="module")
def _module_world(django_db_setup, django_db_blocker):
    """Team A's world, built once per module inside a transaction that is rolled back at the end.
    Each test runs in a savepoint inside it (pytest-django's ``db``), so a test's writes vanish
    after the test and the next test sees the world as built (Django's TestCase.setUpTestData
    works the same way)."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield make_world()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture
def world(_module_world, db):
    return _module_world


@pytest.fixture
def fresh_world(transactional_db):
    """A world for tests that need real commits (transactional_db); slower, built per test."""
    return make_world()


@pytest.fixture
def hostile_world(db):
    return make_world(hostile=True)


def _client_for(world, who: str) -> APIClient:
    client = APIClient()
    if who == "anonymous":
        return client
    if who.endswith("_key"):
        raw = {
            "other_team_key": "member_b",
            "viewer_key": "viewer_a",
            "revoked_key": "revoked_a",
            "owner_key": "member_a",
        }[who]
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.keys[raw]}")
        return client
    user = {"other_team_user": world.owner_b, "viewer_user": world.viewer_a, "owner_user": world.owner_a}[who]
    client.force_login(user)
    return client


@pytest.fixture
def caller(world):
    """``caller(who)`` -> a client acting as one of the matrix's callers."""
    return lambda who: _client_for(world, who)


# Bugs the hardening suites found in the feature apps that were still open when this suite was
# handed over (the apps' owners fix them in their own files). Each marks its tests
# xfail(strict=True): a fix makes the test pass, strict turns that into a failure, and the entry
# must then be deleted here. Keys are the ends of test node ids.
KNOWN_APP_BUGS: dict[str, str] = {}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fragment, reason in KNOWN_APP_BUGS.items():
            if item.nodeid.endswith(fragment):
                item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
