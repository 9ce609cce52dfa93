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
