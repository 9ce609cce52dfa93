"""The dashboard benchmark's generator (benchmarks/_dashboard_rows.py) runs under the project's
database settings (server-side binding: small ints are bound as int2, and
``generate_series(int2, int2)`` is ambiguous). It failed so once; the dashboard figures of the
README come from it."""

import datetime as dt
import importlib.util
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from crucible import services as core
from observability.models import Execution

# Loaded by path: the benchmarks folder holds scripts named like the apps, so it stays off sys.path.
_spec = importlib.util.spec_from_file_location(
    "bench_dashboard_rows", Path(__file__).resolve().parents[2] / "benchmarks" / "_dashboard_rows.py"
)
_rows = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_rows)
GENERATE_SQL = _rows.GENERATE_SQL

pytestmark = pytest.mark.django_db


def test_the_dashboard_generator_writes_the_rows_asked_for_with_small_bounds():
    team = core.team_create(name="Bench rows", slug="bench-rows")
    end = timezone.now() - dt.timedelta(seconds=1)
    with connection.cursor() as cursor:
        cursor.execute(GENERATE_SQL, {"team": team.pk, "end": end, "lo": 1, "hi": 30, "n": 30})
    rows = Execution.objects.filter(team=team)
    assert rows.count() == 30
    assert rows.values("agent_name").distinct().count() == 30  # agent-001 .. agent-030


def test_the_dashboard_generator_writes_runs_in_the_order_they_end_as_live_ingest_does():
    """Live ingest writes a run when it ends, so its table holds runs by end time; the generator
    wrote them in a random order of time before, which made every index walk by start time visit
    pages all over the table (docs/observability.md, "The benchmark's rows in time order")."""
    team = core.team_create(name="Bench order", slug="bench-order")
    end = timezone.now() - dt.timedelta(seconds=1)
    with connection.cursor() as cursor:
        for lo in (1, 101):  # two chunks: the second is the later stretch of time
            cursor.execute(GENERATE_SQL, {"team": team.pk, "end": end, "lo": lo, "hi": lo + 99, "n": 200})
    runs = list(
        Execution.objects.filter(team=team).order_by("id").values_list("client_id", "started_at", "duration_ms")
    )
    ends = [started + dt.timedelta(milliseconds=duration) for _, started, duration in runs]
    assert len(runs) == 200
    assert ends == sorted(ends)
    assert {int(client[2:]) for client, _, _ in runs[:100]} == set(range(1, 101))
    assert end - dt.timedelta(days=29) <= min(s for _, s, _ in runs) and max(s for _, s, _ in runs) <= end
