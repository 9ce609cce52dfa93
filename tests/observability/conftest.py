import datetime as dt

import pytest
from django.utils import timezone


@pytest.fixture(autouse=True)
def default_prices(request):
    """The seeded prices come from a data migration; a transactional test elsewhere in the suite
    flushes every table, so put them back for tests that use the database."""
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue(
        "transactional_db" if request.node.get_closest_marker("django_db").kwargs.get("transaction") else "db"
    )
    from observability.pricing import seed_default_prices

    seed_default_prices()


@pytest.fixture
def now():
    return timezone.now()


@pytest.fixture
def event_factory(now):
    """Valid events with sensible defaults; keyword arguments override fields."""
    counter = iter(range(1, 10**9))

    def make(**overrides):
        n = next(counter)
        event = {
            "id": f"evt-{n}",
            "agent": "planner",
            "model": "gpt-4o",
            "started_at": (now - dt.timedelta(minutes=5)).isoformat(),
            "duration_ms": 1200.0,
            "status": "success",
            "input_tokens": 1000,
            "output_tokens": 200,
        }
        event.update(overrides)
        return {k: v for k, v in event.items() if v is not ...}

    return make


INGEST_URL = "/api/v1/observability/ingest/"


@pytest.fixture
def ingest():
    """Store events through the service (as the API does); fails the test on any per-event error."""
    from observability.services import executions_ingest

    def run(team, events):
        results = []
        for start in range(0, len(events), 1000):
            results += executions_ingest(team=team, events=events[start : start + 1000])
        errors = [r for r in results if r["status"] == "error"]
        assert not errors, errors[:3]
        return results

    return run


def nearest_rank(values, q):
    import math

    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]
