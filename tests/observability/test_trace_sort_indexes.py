"""The traces list, page and API, sorted by any of its columns in either direction, reads an index
in that order and stops at the page (migration 0019): before, each sort but the start read every
trace of the team and sorted them (90-180 ms at 177,000 traces, growing until the statement
timeout). The API's next page starts inside the same index (the keyset cursor's row comparison)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from observability.models import Trace

from .test_execution_indexes import _full_sorts, _ordered_read, _plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def traces(team):
    start = timezone.now() - timedelta(hours=1)
    Trace.objects.bulk_create(
        Trace(
            team=team,
            trace_id=f"{n:032x}",
            started_at=start + timedelta(seconds=n),
            ended_at=start + timedelta(seconds=n + 1),
            duration_ms=n % 7,
            span_count=n % 3,
            error_count=n % 2,
        )
        for n in range(60)
    )


def _trace_reads(client, url: str) -> tuple[str, dict]:
    sql, response = _ordered_read(client, url, "observability_trace")
    return sql, (response.json() if url.startswith("/api/") else {})


@pytest.mark.parametrize("ordering", ["started", "duration", "cost", "spans", "errors"])
@pytest.mark.parametrize("direction", ["", "-"])
def test_the_traces_page_reads_each_sort_from_an_index(traces, client_for, member, ordering, direction):
    sql, _ = _trace_reads(client_for(member), f"/observability/traces/?ordering={direction}{ordering}")
    plan = _plan(sql, sorting=False)
    assert not _full_sorts(plan), plan


@pytest.mark.parametrize("ordering", ["started_at", "duration_ms", "cost", "span_count", "error_count"])
@pytest.mark.parametrize("direction", ["", "-"])
def test_the_traces_api_reads_each_sort_and_its_next_page_from_an_index(traces, team_key_client, ordering, direction):
    sql, body = _trace_reads(
        team_key_client, f"/api/v1/observability/traces/?ordering={direction}{ordering}&page_size=10"
    )
    assert not _full_sorts(_plan(sql, sorting=False))
    sql, _ = _trace_reads(team_key_client, body["next"])
    plan = _plan(sql, sorting=False)
    assert not _full_sorts(plan), plan


def test_each_direction_of_the_page_is_the_other_reversed(traces, client_for, member):
    """Traces of equal error count: the ascending list is the descending one read backwards (the
    tie-break by id turns with the sort), so one index serves both."""
    client = client_for(member)

    def listed(ordering):
        """The trace ids the page shows, in the order it shows them."""
        html = client.get(f"/observability/traces/?ordering={ordering}").content.decode()
        shown = [trace_id for trace_id in (f"{n:032x}" for n in range(60)) if trace_id in html]
        return sorted(shown, key=html.index)

    down, up = listed("-errors"), listed("errors")
    assert len(down) == 50 and len(up) == 50  # a page of 50 out of 60
    ordered = sorted(Trace.objects.all(), key=lambda t: (t.error_count, t.pk))
    assert up == [t.trace_id for t in ordered[:50]]
    assert down == [t.trace_id for t in ordered[::-1][:50]]
