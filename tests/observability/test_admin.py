"""The observability admin: deleting raw executions keeps the rollups exact; rollup rows are
derived and cannot be added, edited or deleted by hand."""

import io
import random

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from crucible import services as core_services
from observability.models import DailyRollup, ErrorRollup, Execution, HourlyRollup

from .test_rollups import random_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(core_services.user_create(username="operator", password="pw-operator-1", is_superuser=True))
    return client


def _verify_ok() -> bool:
    out = io.StringIO()
    try:
        call_command("observability_rollups", "--verify-only", "--days", "3", stdout=out)
    except Exception:  # CommandError: mismatches
        return False
    return "Rollups match" in out.getvalue()


def test_deleting_executions_in_the_admin_keeps_rollups_exact(operator, team, other_team, ingest, now):
    rng = random.Random(7)
    ingest(team, random_events(rng, now, 400, hours=20))
    ingest(other_team, random_events(rng, now, 100, prefix="o", hours=20))
    assert _verify_ok()
    # Every execution of one agent (rows go to zero and disappear), the longest one of another
    # (its row's maximum must come down) and a few errors (error rollups move).
    victims = list(Execution.objects.filter(team=team, agent_name="planner").values_list("pk", flat=True))
    victims.append(Execution.objects.filter(team=team, agent_name="coder").order_by("-duration_ms").first().pk)
    victims += list(Execution.objects.filter(status="error", agent_name="reviewer").values_list("pk", flat=True)[:5])
    url = reverse("admin:observability_execution_changelist")
    response = operator.post(url, {"action": "delete_selected", "_selected_action": victims, "post": "yes"})
    assert response.status_code == 302
    assert not Execution.objects.filter(pk__in=victims).exists()
    assert Execution.objects.count() == 500 - len(set(victims))
    assert not HourlyRollup.objects.filter(team=team, agent_name="planner").exists()
    assert not DailyRollup.objects.filter(team=team, agent_name="planner").exists()
    assert not ErrorRollup.objects.filter(team=team, agent_name="planner").exists()
    assert _verify_ok()


def test_deleting_one_execution_on_its_page_keeps_rollups_exact(operator, team, ingest, event_factory, now):
    ingest(
        team,
        [
            event_factory(duration_ms=100.0, cost=0.5),
            event_factory(duration_ms=9000.0, status="error", error_type="Timeout"),
            event_factory(duration_ms=9000.0, status="error", error_type="Timeout"),
        ],
    )
    longest = Execution.objects.filter(status="error").first()
    response = operator.post(reverse("admin:observability_execution_delete", args=[longest.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert Execution.objects.count() == 2
    assert ErrorRollup.objects.get(team=team).executions == 1
    assert HourlyRollup.objects.get(team=team, status="error").executions == 1
    assert _verify_ok()


@pytest.mark.parametrize("model", [HourlyRollup, DailyRollup, ErrorRollup])
def test_rollup_rows_cannot_be_added_edited_or_deleted_in_the_admin(operator, model, team, ingest, event_factory):
    ingest(team, [event_factory(status="error", error_type="Timeout")])
    row = model.objects.get(team=team)
    model_admin = admin.site._registry[model]
    request = operator.get("/admin/").wsgi_request
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, row)
    assert not model_admin.has_delete_permission(request, row)
    name = f"admin:observability_{model._meta.model_name}"
    assert operator.post(reverse(f"{name}_delete", args=[row.pk]), {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=row.pk).exists()
    assert _verify_ok()
