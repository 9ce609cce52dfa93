"""Server-side binding is on by default (issue 16; docs/architecture.md "Prepared statements"):
PostgreSQL receives the parameters apart from the SQL text, and a statement a connection has run
CRUCIBLE_DB_PREPARE_THRESHOLD times is prepared. CRUCIBLE_DB_SERVER_SIDE_BINDING=false opts out
(parameters merged into the text, nothing prepared); CRUCIBLE_DB_PREPARE_THRESHOLD=off keeps the
binding but prepares nothing (a pooler in transaction mode).

Each case reads the settings from the environment in a subprocess, as a server would, and asks the
test database what it received on that connection."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    # What the server was sent for this very statement: "$1" when bound, the literal when merged.
    cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = pg_backend_pid() AND %s > 0", [41])
    sent = cursor.fetchone()[0]
    for _ in range(2):
        cursor.execute("SELECT %s::int + 1 AS crucible_binding_probe", [1])
    cursor.execute("SELECT %s::int + 2 AS crucible_binding_once", [1])
    cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%crucible_binding_probe%"])
    prepared = cursor.fetchone()[0]
    cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s", ["%crucible_binding_once%"])
    once = cursor.fetchone()[0]
from django.conf import settings
print(json.dumps({"sent": sent, "prepared": prepared, "once": once, "age": settings.DATABASES["default"]["CONN_MAX_AGE"]}))
"""


def _probe(**env) -> dict:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CRUCIBLE_DB_")}
    full.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    full.update(CRUCIBLE_TESTING="1", DJANGO_SETTINGS_MODULE="crucible.settings", **env)
    full["CRUCIBLE_DB_NAME"] = os.environ.get("CRUCIBLE_TEST_DB_NAME", "test_crucible")
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(autouse=True)
def _test_database(django_db_setup):
    """The probes connect to the test database, which must exist."""


def test_parameters_are_bound_by_the_server_and_repeated_statements_prepared_by_default():
    """By default a statement is prepared on its second run on a connection (so its generic plan
    comes after six runs, not ten); one run once is not."""
    facts = _probe()
    assert "$1 > 0" in facts["sent"] and "41" not in facts["sent"]
    assert facts["prepared"] == 1
    assert facts["once"] == 0


def test_binding_false_merges_parameters_into_the_sql_and_prepares_nothing():
    facts = _probe(CRUCIBLE_DB_SERVER_SIDE_BINDING="false")
    assert "41 > 0" in facts["sent"] and "$1" not in facts["sent"]
    assert facts["prepared"] == 0


def test_prepare_threshold_off_keeps_the_binding_but_prepares_nothing():
    facts = _probe(CRUCIBLE_DB_PREPARE_THRESHOLD="off")
    assert "$1 > 0" in facts["sent"]
    assert facts["prepared"] == 0


def test_a_thread_keeps_its_connection_ten_minutes_by_default_and_the_setting_changes_it():
    """Its prepared statements' plans live as long as the connection (Django closed it after 60 s
    before: a page opened every ten seconds was planned on every request)."""
    assert _probe()["age"] == 600
    assert _probe(CRUCIBLE_DB_CONN_MAX_AGE="0")["age"] == 0
