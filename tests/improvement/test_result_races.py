"""A result for an assignment that a concurrent request answers first (after this request read it
free): that result is refused by name, as a sequential duplicate is; in a per-item batch
(``skip_refused``) only that one, the others are recorded."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction
from django.utils import timezone

from crucible import sql
from improvement import services
from improvement.models import Assignment, Variant

pytestmark = pytest.mark.django_db(transaction=True)


def _someone_waits_for_a_row_lock(timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not sql.fetch_one("SELECT 1 AS waiting FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted"):
        assert time.monotonic() < deadline, "the request did not wait for the concurrent result"
        time.sleep(0.02)


def _answer_first(assignment_id: int):
    """In another connection: record that ``assignment_id`` has a result, and commit only once the
    test's own request waits for that row (it read the assignment free before)."""
    started = threading.Event()
    outcome = {}

    def run():
        try:
            with transaction.atomic():
                Assignment.objects.filter(pk=assignment_id).update(result_at=timezone.now())
                started.set()
                _someone_waits_for_a_row_lock()
        except Exception as exc:  # reported by the test
            outcome["error"] = exc
            started.set()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    assert started.wait(20)
    return thread, outcome


@pytest.fixture
def assignments(make_experiment):
    experiment = make_experiment(variants=("control",))
    return experiment, [services.variant_select(experiment=experiment)[1] for _ in range(3)]


def test_a_batch_names_the_result_answered_meanwhile_and_writes_nothing(team_key_client, assignments):
    experiment, (first, raced, last) = assignments
    thread, outcome = _answer_first(raced)
    body = {"results": [{"assignment_id": a, "success": True, "tokens": 5} for a in (first, raced, last)]}
    response = team_key_client.post("/api/v1/improvement/results/batch/", body, format="json")
    thread.join(20)
    assert "error" not in outcome, outcome
    assert response.status_code == 400, response.content
    assert response.json()["fields"] == {"results.1.assignment_id": ["This assignment already has a result."]}
    assert Variant.objects.get(experiment=experiment).results_count == 0
    assert not Assignment.objects.filter(pk__in=[first, last], result_at__isnull=False).exists()


def test_a_per_item_batch_keeps_its_other_results(team, assignments):
    # skip_refused (the per-item mode observability's ingest uses): the race refused the whole batch.
    experiment, (first, raced, last) = assignments
    thread, outcome = _answer_first(raced)
    results = [{"assignment_id": a, "success": True, "tokens": 5} for a in (first, raced, last)]
    recorded = services.results_record_bulk(team=team, results=results, skip_refused=True)
    thread.join(20)
    assert "error" not in outcome, outcome
    assert recorded["recorded"] == 2
    assert {i: e.as_dict() for i, e in recorded["refused"].items()} == {
        1: {"assignment_id": ["This assignment already has a result."]}
    }
    variant = Variant.objects.get(experiment=experiment)
    assert (variant.results_count, variant.tokens_sum) == (2, 10)
