import datetime as dt
import itertools

import pytest
from django.utils import timezone

from alerts import services
from alerts.services.evaluation import tick_of

_ids = itertools.count(1)


@pytest.fixture(autouse=True)
def default_prices(request):
    """Prices come from a data migration that a transactional test elsewhere may have flushed."""
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue(
        "transactional_db" if request.node.get_closest_marker("django_db").kwargs.get("transaction") else "db"
    )
    from observability.pricing import seed_default_prices

    seed_default_prices()


@pytest.fixture
def tick():
    """A whole minute a little in the past (events may not start in the future)."""
    return tick_of(timezone.now()) - dt.timedelta(minutes=2)


@pytest.fixture
def ingest():
    """Executions through observability's ingest service; fails the test on a refused event."""
    from observability.services import executions_ingest

    def run(team, *, at, n=1, **fields):
        events = []
        for _ in range(n):
            event = {
                "id": f"alert-evt-{next(_ids)}",
                "agent": "planner",
                "model": "gpt-4o",
                "started_at": at.isoformat(),
                "duration_ms": 1000.0,
                "status": "success",
                "input_tokens": 100,
                "output_tokens": 20,
            }
            event.update(fields)
            events.append(event)
        results = executions_ingest(team=team, events=events)
        assert all(r["status"] == "stored" for r in results), results
        return results

    return run


@pytest.fixture
def make_rule():
    def make(team, **data):
        data.setdefault("name", f"rule {next(_ids)}")
        data.setdefault("metric", "error_rate")
        data.setdefault("window_minutes", 15)
        data.setdefault("pending_minutes", 0)
        return services.alert_rule_create(team=team, data=data)

    return make


@pytest.fixture
def evaluate():
    def run(rule_or_team, tick):
        team = getattr(rule_or_team, "team", rule_or_team)
        transitions = services.alerts_evaluate_team(team=team, tick=tick)
        if hasattr(rule_or_team, "refresh_from_db"):
            rule_or_team.refresh_from_db()
        return transitions

    return run
