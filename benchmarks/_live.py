"""A live stream for the page benchmarks (``benchmarks/pages.py``): a benchmark database generated
hours ago has no executions since, and no worker compacted its closed hours, so its pages read a
state no running app is in. ``live_until_now`` brings it to what a team with steady traffic and a
running worker sees."""

from __future__ import annotations

import datetime as dt
import random

from django.utils import timezone

from crucible import periods
from observability import ingest
from observability.models import Execution
from observability.windows import blocks_refresh

MAX_GAP_HOURS = 48  # hours filled at most between the generated data and now (older gaps stay empty)


def live_until_now(team, events: int) -> tuple[int, int]:
    """A live stream: bring every hour from the last one with executions (at most
    ``MAX_GAP_HOURS`` back) up to the current one to ``events`` executions each, through the
    ingest service (rollups included), as the generated agents run them (the models and versions
    of ``benchmarks/_dashboard_rows.py``, 3 % errors); then run the worker's block job (every 15
    minutes in a running app: compaction of the closed hours and days, and the window blocks of
    the standard periods, ``observability.windows.blocks_refresh``). So a database generated
    hours ago is read as a team with steady traffic and a running worker sees it: the open
    hour's rollup rows, which no block can hold, and the closed hours in their blocks. Returns
    (executions added, hours filled)."""
    now = timezone.now()
    hour = periods.floor(now, "hour")
    last = Execution.objects.filter(team=team, started_at__lt=hour).order_by("-started_at").first()
    first = hour - dt.timedelta(hours=MAX_GAP_HOURS)
    if last is not None:
        first = max(first, periods.floor(last.started_at, "hour"))
    added = filled = 0
    while first <= hour:
        end = min(first + dt.timedelta(hours=1), now)
        n = _hour_fill(team, first, end, events)
        added, filled = added + n, filled + bool(n)
        first += dt.timedelta(hours=1)
    blocks_refresh(team=team)
    return added, filled


def _hour_fill(team, hour, end, events: int) -> int:
    """Bring the executions started in [hour, end) up to ``events`` (spread over that span)."""
    present = Execution.objects.filter(team=team, started_at__gte=hour, started_at__lt=end).count()
    missing = events - present
    if missing <= 0:
        return 0
    rng = random.Random(f"{hour.timestamp()}-{present}")  # new ids on each top-up of the same hour
    models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"]
    span = max(1.0, (end - hour).total_seconds())
    batch = []
    for _ in range(missing):
        agent = rng.randrange(200)
        failed = rng.random() < 0.03
        batch.append(
            {
                "id": f"live-{hour:%Y%m%d%H}-{rng.getrandbits(64):016x}",
                "agent": f"agent-{agent:03d}",
                "model": models[agent % 4],
                "agent_version": "1.1.0" if agent % 5 == 0 else "1.0.0",
                "started_at": (hour + dt.timedelta(seconds=rng.random() * span)).isoformat(),
                "duration_ms": round(rng.lognormvariate(6.5 + agent / 100, 0.8), 3),
                "status": "error" if failed else "success",
                "input_tokens": rng.randint(200, 8200),
                "output_tokens": rng.randint(50, 2050),
                **({"error_type": "Timeout"} if failed else {}),
            }
        )
    for start in range(0, len(batch), 1000):
        ingest.executions_ingest(team=team, events=batch[start : start + 1000], source="api")
    return len(batch)
