"""The team memory admin: deleting builds keeps the daily rollups exact; rollup rows are derived
and cannot be deleted there."""

import datetime as dt
import io

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from crucible import services as core_services
from teammemory.models import Build, BuildAgentDailyRollup, BuildDailyRollup, BuildErrorDailyRollup

from .conftest import NODE_STACK, NOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(core_services.user_create(username="operator", password="pw-operator-1", is_superuser=True))
    return client


def _verify_ok() -> bool:
    try:
        call_command("teammemory_rollups", "--all", "--verify-only", stdout=io.StringIO())
    except CommandError:
        return False
    return True


@pytest.fixture
def builds(make_build, agent, other_team):
    day = NOW - dt.timedelta(days=2)
    made = [
        make_build(started=day, agents=[{"agent": agent.slug}], errors=[{"type": "Timeout", "message": "slow"}]),
        make_build(
            started=day + dt.timedelta(hours=1), status="failed", errors=[{"type": "Timeout", "message": "zzz"}]
        ),
        make_build(started=day + dt.timedelta(hours=2), stack=NODE_STACK),
        make_build(started=day - dt.timedelta(days=1)),
        make_build(team=other_team, started=day),
    ]
    assert _verify_ok()
    return made


def test_deleting_builds_in_the_admin_keeps_the_rollups_exact(operator, builds, team):
    victims = [builds[1].pk, builds[2].pk, builds[3].pk]
    url = reverse("admin:teammemory_build_changelist")
    response = operator.post(url, {"action": "delete_selected", "_selected_action": victims, "post": "yes"})
    assert response.status_code == 302
    assert Build.objects.count() == 2
    assert sum(BuildDailyRollup.objects.filter(team=team).values_list("builds", flat=True)) == 1
    error = BuildErrorDailyRollup.objects.get(team=team)
    assert (error.builds, error.failed_builds, error.example_message) == (1, 0, "slow")
    assert _verify_ok()


def test_deleting_one_build_on_its_page_keeps_the_rollups_exact(operator, builds, team):
    response = operator.post(reverse("admin:teammemory_build_delete", args=[builds[0].pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not BuildAgentDailyRollup.objects.filter(team=team).exists()
    assert _verify_ok()


@pytest.mark.parametrize("model", [BuildDailyRollup, BuildAgentDailyRollup, BuildErrorDailyRollup])
def test_rollup_rows_cannot_be_deleted_in_the_admin(operator, builds, model, team):
    row = model.objects.filter(team=team).first()
    request = operator.get("/admin/").wsgi_request
    assert not admin.site._registry[model].has_delete_permission(request, row)
    name = f"admin:teammemory_{model._meta.model_name}_delete"
    assert operator.post(reverse(name, args=[row.pk]), {"post": "yes"}).status_code == 403
    assert _verify_ok()
