"""The page benchmark's live stream (benchmarks/_live.py): a benchmark database generated hours ago
is brought to what a team with traffic and a running worker has (every hour since filled, the
closed hours compacted), so the pages are measured on that state, not on a gap without blocks."""

import datetime as dt
import importlib.util
from pathlib import Path

import pytest
from django.utils import timezone

from crucible import services as core
from observability.ingest import executions_ingest
from observability.models import Execution, HourBlockRollup

_spec = importlib.util.spec_from_file_location(
    "bench_live", Path(__file__).resolve().parents[2] / "benchmarks" / "_live.py"
)
_live = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_live)

pytestmark = pytest.mark.django_db


def test_every_hour_since_the_generated_data_is_filled_and_the_closed_ones_compacted():
    team = core.team_create(name="Bench live", slug="bench-live")
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    generated_until = hour - dt.timedelta(hours=3)
    executions_ingest(
        team=team,
        events=[
            {
                "id": "old-1",
                "agent": "agent-000",
                "started_at": (generated_until + dt.timedelta(minutes=5)).isoformat(),
                "duration_ms": 10,
                "status": "success",
            }
        ],
        source="api",
    )

    added, hours = _live.live_until_now(team, 6)

    assert hours == 4  # the generated data's hour (topped up), the two after it, and the open one
    for n in range(4):
        start = generated_until + dt.timedelta(hours=n)
        assert (
            Execution.objects.filter(
                team=team, started_at__gte=start, started_at__lt=start + dt.timedelta(hours=1)
            ).count()
            == 6
        )
    assert added == 6 * 4 - 1
    closed = [generated_until + dt.timedelta(hours=n) for n in range(2)]  # closed for more than 15 minutes
    compacted = set(HourBlockRollup.objects.filter(team=team, hours=1, total=True).values_list("hour", flat=True))
    assert set(closed) <= compacted
    assert _live.live_until_now(team, 6) == (0, 0)  # idempotent: a second run adds nothing
