"""Fixtures shared by every app's tests: teams, users with roles, API clients with keys."""

from __future__ import annotations

import itertools

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from crucible import keycache, services
from crucible.models import Role
from tests import migrated_template

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, django_db_blocker):
    """The test database is created as a copy of the run's migrated template (see
    tests/migrated_template.py) instead of by applying every migration again."""
    with django_db_blocker.unblock():
        template = migrated_template.ensure()
    settings.DATABASES["default"]["TEST"]["TEMPLATE"] = template


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's, and before it drops the test database at the end: the sessions that other
    threads of this run left open on it (a live server's, a thread pool's) are ended, or the drop
    fails ("is being accessed by other users") when such a test was the last of its process."""
    yield
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(autouse=True)
def _clear_cache():
    # Tests must not share cached values (rate counters live in the database, rolled back per test).
    cache.clear()
    keycache.forget()
    yield
    cache.clear()
    keycache.forget()


@pytest.fixture
def make_team(db):
    def make(name: str | None = None, **kwargs):
        n = next(_counter)
        return services.team_create(name=name or f"Team {n}", slug=kwargs.pop("slug", None) or f"team-{n}", **kwargs)

    return make


@pytest.fixture
def make_user(db):
    def make(username: str | None = None, team=None, role: str = Role.MEMBER, **kwargs):
        user = services.user_create(username=username or f"user{next(_counter)}", password="pw-for-tests-1", **kwargs)
        if team is not None:
            services.membership_set(team=team, user=user, role=role)
        return user

    return make


@pytest.fixture
def team(make_team):
    return make_team("Acme", slug="acme")


@pytest.fixture
def other_team(make_team):
    return make_team("Globex", slug="globex")


@pytest.fixture
def member(make_user, team):
    return make_user("member", team=team, role=Role.MEMBER)


@pytest.fixture
def viewer(make_user, team):
    return make_user("viewer", team=team, role=Role.VIEWER)


@pytest.fixture
def team_admin(make_user, team):
    return make_user("teamadmin", team=team, role=Role.ADMIN)


@pytest.fixture
def outsider(make_user, other_team):
    return make_user("outsider", team=other_team, role=Role.OWNER)


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_for():
    """An APIClient logged in (session) as ``user``."""

    def make(user):
        client = APIClient()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def key_client():
    """An APIClient that sends a fresh API key of ``team`` (role member or viewer)."""

    def make(team, role: str = Role.MEMBER, user=None):
        _, raw = services.api_key_create(team=team, name="test key", role=role, created_by=user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        client.raw_key = raw
        return client

    return make


@pytest.fixture
def member_client(client_for, member):
    return client_for(member)


@pytest.fixture
def team_key_client(key_client, team, member):
    return key_client(team, user=member)


@pytest.fixture
def outsider_client(client_for, outsider):
    return client_for(outsider)
