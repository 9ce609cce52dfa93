"""Issue 15, item 10: a production configuration (debug off, a secret key of its own) does not
start while a demo account's published password works, and no API key is printed to a log."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from unittest import mock
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection

from crucible import demo, services
from crucible.models import ApiKey, Team
from tests.hardening.servers import ROOT, app_env

PRODUCTION = {"DEBUG": False, "SECRET_KEY": "a-production-secret-from-the-environment-" + "x" * 30}


def _database_url() -> str:
    s = connection.settings_dict
    auth = quote(s["USER"], safe="") + (":" + quote(s["PASSWORD"], safe="") if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{quote(str(s['HOST']), safe='')}:{s['PORT']}/{s['NAME']}"


def _start_wsgi(**env) -> subprocess.CompletedProcess:
    """Build the WSGI application in a fresh process, as a server does when it starts."""
    return subprocess.run(
        [sys.executable, "-c", "import crucible.wsgi"],
        cwd=ROOT,
        env=app_env(DATABASE_URL=_database_url(), **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db
def test_seed_demo_prints_where_to_log_in_and_no_key():
    out = StringIO()
    with mock.patch("crucible.management.commands.seed_demo.APP_ORDER", []):
        call_command("seed_demo", "--quiet", stdout=out)
    assert ApiKey.objects.count() == len(demo.TEAMS)  # the demo keys exist ...
    assert "crk_" not in out.getvalue()  # ... but none is printed
    assert "alice / crucible-demo" in out.getvalue() and "create_api_key" in out.getvalue()


@pytest.mark.django_db
def test_seed_demo_loads_nothing_with_production_settings(settings):
    settings.DEBUG, settings.SECRET_KEY = PRODUCTION["DEBUG"], PRODUCTION["SECRET_KEY"]
    out = StringIO()
    call_command("seed_demo", "--quiet", stdout=out)
    assert not Team.objects.exists()
    assert "no demo data" in out.getvalue()


@pytest.mark.django_db
def test_deploy_check_names_accounts_with_published_passwords(settings):
    services.user_create(username="alice", password=demo.DEMO_PASSWORD)
    services.user_create(username="admin", password=demo.ADMIN_PASSWORD, is_superuser=True)
    services.user_create(username="bob", password="not-the-published-one")
    settings.DEBUG, settings.SECRET_KEY = PRODUCTION["DEBUG"], PRODUCTION["SECRET_KEY"]
    with pytest.raises(SystemCheckError) as exc:
        call_command("check", "--deploy", "--database", "default", "--tag", "security")
    assert "crucible.E002" in str(exc.value) and "admin, alice." in str(exc.value)
    # On a laptop (the built-in development key) the demo accounts are expected.
    settings.SECRET_KEY = "crucible-insecure-development-key-do-not-use-in-production-0123456789"
    from crucible.checks import no_published_passwords_in_production

    assert no_published_passwords_in_production(None, databases=["default"]) == []


@pytest.mark.django_db(transaction=True)
def test_a_production_server_refuses_to_start_with_a_published_password():
    user = services.user_create(username="alice", password=demo.DEMO_PASSWORD)
    production = {"CRUCIBLE_DEBUG": "0", "CRUCIBLE_SECRET_KEY": PRODUCTION["SECRET_KEY"]}
    refused = _start_wsgi(**production)
    assert refused.returncode != 0
    assert "crucible.E002" in refused.stderr and "alice" in refused.stderr
    # A laptop (no secret key of its own) starts with the demo accounts.
    assert _start_wsgi().returncode == 0
    user.set_password("a-new-secret-password-9")
    user.save()
    started = _start_wsgi(**production)
    assert started.returncode == 0, started.stderr[-2000:]
