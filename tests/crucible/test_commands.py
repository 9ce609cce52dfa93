import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from crucible.models import ApiKey, Membership, Role, Team

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_create_team_and_api_key_bootstrap_a_client():
    out = StringIO()
    call_command("create_team", "Hooli", "--owner", "gavin", "--password", "pw-hooli-123", stdout=out)
    assert out.getvalue().strip() == "hooli"
    team = Team.objects.get(slug="hooli")
    assert Membership.objects.get(team=team).role == Role.OWNER
    out = StringIO()
    call_command("create_api_key", "hooli", "--name", "script", "--user", "gavin", stdout=out)
    raw = out.getvalue().strip()
    assert ApiKey.objects.get(team=team).name == "script"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/v1/teams/").json()["results"][0]["slug"] == "hooli"


@pytest.mark.django_db
def test_create_api_key_for_unknown_team_fails():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("create_api_key", "nope")


def test_check_deploy_is_clean_with_production_settings():
    env = dict(
        os.environ,
        CRUCIBLE_DEBUG="0",
        CRUCIBLE_SECRET_KEY="x" * 20 + "production-secret-from-the-environment-0123456789",
        CRUCIBLE_HTTPS="1",
        CRUCIBLE_ALLOWED_HOSTS="crucible.example.com",
    )
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser tests for their own thread
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
