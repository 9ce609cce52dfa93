"""One rule for money in the whole API (crucible.money): a decimal string with 8 decimal places;
stored amounts and sums exact, averages rounded half-even to 8 places. Before, the dashboard
answered rounded floats (6 places) while executions answered 8-place strings."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.utils import timezone

from improvement import services as improvement_services
from teammemory import services as teammemory_services

pytestmark = pytest.mark.django_db

MONEY = re.compile(r"^-?[0-9]+\.[0-9]{8}$")
COST = "0.12345679"  # 8 places: a float rounded to 6 places loses the last two


def money_values(body, path=""):
    """(path, value) of every money field in a response body: the key names money (cost...)."""
    if isinstance(body, dict):
        for key, value in body.items():
            here = f"{path}.{key}"
            if isinstance(value, (dict, list)):
                yield from money_values(value, here)
            elif key.startswith("cost") and key not in ("cost_source", "cost_share") or key == "total_cost":
                yield here, value
    elif isinstance(body, list):
        for i, item in enumerate(body):
            yield from money_values(item, f"{path}[{i}]")


def assert_money(body, *, at_least: int) -> list:
    found = [(path, value) for path, value in money_values(body) if value is not None]
    assert len(found) >= at_least, found
    for path, value in found:
        assert isinstance(value, str) and MONEY.match(value), (path, value)
    return found


def test_observability_money_is_exact_decimal_strings_everywhere(team_key_client):
    started = (timezone.now() - dt.timedelta(minutes=10)).isoformat()
    events = [
        {"id": f"m-{i}", "agent": "planner", "model": "gpt-4o", "started_at": started, "duration_ms": 900, "cost": COST}
        for i in range(3)
    ]
    assert team_key_client.post("/api/v1/observability/ingest/", {"events": events}, format="json").status_code in (
        200,
        201,
        207,
    )
    dashboard = team_key_client.get("/api/v1/observability/dashboard/").json()
    assert dashboard["totals"]["cost"] == "0.37037037"  # exact sum, not the float 0.37037
    assert dashboard["totals"]["cost_per_execution"] == COST
    assert_money(dashboard, at_least=5)
    agent = team_key_client.get("/api/v1/observability/agents/planner/").json()
    assert agent["slowest_recent"][0]["cost"] == COST
    assert_money(agent, at_least=6)
    assert_money(team_key_client.get("/api/v1/observability/bottlenecks/").json(), at_least=3)
    executions = team_key_client.get("/api/v1/observability/executions/").json()
    assert [e["cost"] for e in executions["results"]] == [COST] * 3


def test_team_memory_money_is_exact_decimal_strings(team_key_client, team):
    now = timezone.now()
    for i, cost in enumerate(["0.100000", "0.200001", "0.300000"]):
        teammemory_services.build_record(
            team=team,
            client_build_id=f"money-{i}",
            status="succeeded",
            started_at=now - dt.timedelta(hours=2),
            finished_at=now - dt.timedelta(hours=1),
            cost=Decimal(cost),
        )
    builds = team_key_client.get("/api/v1/teammemory/builds/").json()
    assert sorted(b["cost"] for b in builds["results"]) == ["0.10000000", "0.20000100", "0.30000000"]
    insights = team_key_client.get("/api/v1/teammemory/insights/").json()
    assert insights["summary"]["total_cost"] == "0.60000100"
    assert insights["summary"]["cost_per_build"] == "0.20000033"  # 0.600001 / 3, half-even to 8 places
    assert_money(insights, at_least=2)


def test_improvement_money_is_exact_decimal_strings(team_key_client, team):
    experiment = improvement_services.experiment_create(
        team=team,
        name="money",
        status="running",
        variants=[{"name": "a", "prompt": "A", "is_control": True}, {"name": "b", "prompt": "B"}],
    )
    variant = experiment.variants.get(name="a")
    improvement_services.results_record_bulk(
        team=team,
        results=[
            {"variant_id": variant.pk, "success": True, "duration_ms": 10, "quality": 50, "tokens": 1, "cost": c}
            for c in (0.000001, 0.000002, 0.000002)
        ],
    )
    detail = team_key_client.get(f"/api/v1/improvement/experiments/{experiment.pk}/").json()
    assert {v["name"]: v["cost_sum"] for v in detail["variants"]} == {"a": "0.00000500", "b": "0.00000000"}
    assert MONEY.match(detail["cost_reference"])
    report = team_key_client.get(f"/api/v1/improvement/experiments/{experiment.pk}/report/").json()
    assert {v["name"]: v["cost_mean"] for v in report["variants"]} == {"a": "0.00000167", "b": None}
