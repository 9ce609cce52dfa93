"""Issue 15, items 3 and 4: the failed-login limits and the API throttles are counted in the
database, so two server processes share one budget (a per-process cache let each worker count on
its own: the login limit of 10 first answered 429 at attempt 29)."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import requests
from django.db import connection

from crucible import services as core
from crucible.models import Role
from tests.hardening.servers import Gunicorn, app_env

pytestmark = pytest.mark.django_db(transaction=True)


def _database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"], safe="") + (":" + quote(s["PASSWORD"], safe="") if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{quote(str(s['HOST']), safe='')}:{s['PORT']}/{s['NAME']}"


@pytest.fixture
def two_servers():
    """Two gunicorn masters of one worker each on the test database: two processes for sure."""
    env = app_env(
        DATABASE_URL=_database_url(),
        CRUCIBLE_LOGIN_THROTTLE_ATTEMPTS="4",
        CRUCIBLE_LOGIN_THROTTLE_ADDRESS_ATTEMPTS="6",
        CRUCIBLE_THROTTLE_API_KEY="6/hour",
    )
    servers = [Gunicorn(env, workers=1, threads=2) for _ in range(2)]
    try:
        for server in servers:
            server.wait_ready()
        yield servers
    finally:
        for server in servers:
            server.stop()


def _login(server, session: requests.Session, username: str, password: str) -> int:
    page = session.get(server.base_url + "/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(
        server.base_url + "/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": server.base_url + "/login/"},
        allow_redirects=False,
        timeout=30,
    )
    return response.status_code


def test_limits_are_shared_by_two_processes(two_servers):
    user = core.user_create(username="shared-limit", password="pw-for-tests-1")
    team = core.team_create(name="Shared", slug="shared")
    core.membership_set(team=team, user=user, role=Role.OWNER)
    _, raw = core.api_key_create(team=team, name="shared", role=Role.MEMBER)

    # Failed logins alternate between the two processes: the 5th attempt is refused (limit 4).
    session = requests.Session()
    codes = [_login(two_servers[i % 2], session, "shared-limit", "wrong") for i in range(4)]
    assert codes == [200, 200, 200, 200]
    assert _login(two_servers[0], session, "shared-limit", "pw-for-tests-1") == 429
    assert _login(two_servers[1], session, "shared-limit", "pw-for-tests-1") == 429

    # The API key's budget (6 an hour) is one budget across both processes.
    headers = {"Authorization": f"Bearer {raw}"}
    statuses = [
        requests.get(two_servers[i % 2].base_url + "/api/v1/teams/", headers=headers, timeout=30).status_code
        for i in range(8)
    ]
    assert statuses[:6] == [200] * 6
    assert statuses[6:] == [429, 429]
