"""Helpers of the evidence tests: teams that run a version through the real ingest."""

from __future__ import annotations

import datetime as dt
import itertools

from django.utils import timezone

from marketplace import services
from observability.services import executions_ingest

_ids = itertools.count(1)


def run_version(team, version, *, runs: int, failures: int = 0, duration_ms: float = 100.0, cost=None, quality=None):
    """``runs`` executions of ``version`` by ``team`` through observability's ingest."""
    started = (timezone.now() - dt.timedelta(minutes=5)).isoformat()
    events = []
    for i in range(runs):
        event = {
            "id": f"ev-{next(_ids)}",
            "agent": version.agent.slug,
            "agent_ref": f"{version.agent.team.slug}/{version.agent.slug}",
            "agent_version": version.version,
            "model": "no-such-model",
            "started_at": started,
            "duration_ms": duration_ms,
            "status": "error" if i < failures else "success",
            "input_tokens": 100,
            "output_tokens": 50,
        }
        if cost is not None:
            event["cost"] = cost
        if quality is not None:
            event["quality"] = quality
        events.append(event)
    results = executions_ingest(team=team, events=events)
    assert all(r["status"] == "stored" for r in results), results[:2]


def share(team, on: bool = True):
    return services.evidence_sharing_set(team=team, share_evidence=on)
