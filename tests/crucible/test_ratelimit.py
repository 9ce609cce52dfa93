"""The shared rate counters (crucible.ratelimit): one statement per hit, a sliding estimate across
window boundaries, and expired windows swept."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crucible import ratelimit
from crucible.models import RateCounter

pytestmark = pytest.mark.django_db


def test_a_hit_is_one_statement_even_when_it_sweeps():
    RateCounter.objects.create(key="old:1", count=3, expires_at=timezone.now() - dt.timedelta(seconds=1))
    with CaptureQueriesContext(connection) as queries:
        assert ratelimit.rate_hit(name="x", seconds=60)[0] == 1
    assert len(queries) == 1 and RateCounter.objects.filter(key="old:1").exists()
    with mock.patch.object(ratelimit.random, "randrange", return_value=0), CaptureQueriesContext(connection) as queries:
        assert ratelimit.rate_hit(name="x", seconds=60)[0] == 2
    assert len(queries) == 1 and not RateCounter.objects.filter(key="old:1").exists()


def test_the_previous_window_still_counts_just_after_a_boundary():
    seconds = 300
    start = 1_000_000 * seconds  # a window boundary
    with mock.patch.object(ratelimit.time, "time", return_value=start - 1):
        for _ in range(4):
            ratelimit.rate_hit(name="login", seconds=seconds)
    with mock.patch.object(ratelimit.time, "time", return_value=start + 2):
        assert ratelimit.rate_count(name="login", seconds=seconds)[0] == 4
        assert ratelimit.rate_hit(name="login", seconds=seconds)[0] == 5
    with mock.patch.object(ratelimit.time, "time", return_value=start + seconds - 1):
        assert ratelimit.rate_count(name="login", seconds=seconds)[0] == 2  # 1 + ceil(4 * 1/300)


def test_several_limits_move_in_one_statement_in_the_order_given():
    # Mid-hour on a fixed clock: in the last minute of a real hour the hour's window has < 60 s left.
    with mock.patch.object(ratelimit.time, "time", return_value=1_000_000 * 3600 + 1800):
        ratelimit.rate_hit(name="b", seconds=60)
        with CaptureQueriesContext(connection) as queries:
            counts = ratelimit.rate_hit_many(hits=[("b", 60), ("a", 3600)])
    assert len(queries) == 1
    assert [count for count, _ in counts] == [2, 1]
    assert counts[1][1] > 60  # seconds left in the hour's window, not the minute's


def test_an_expensive_api_read_checks_both_of_its_budgets_with_one_statement(key_client, team):
    client = key_client(team)
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/observability/dashboard/").status_code == 200
    counter_statements = [q for q in queries.captured_queries if RateCounter._meta.db_table in q["sql"]]
    assert len(counter_statements) == 1
    scopes = sorted(key.split("_")[1] for key in RateCounter.objects.values_list("key", flat=True))
    assert scopes == ["api", "expensive"]  # throttle_api_key_<id>:<window>, throttle_expensive_key-<id>:<window>
