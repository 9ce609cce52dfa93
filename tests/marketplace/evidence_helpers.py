"""Helpers of the evidence tests: teams that run a version through the real ingest."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter

from django.utils import timezone

from crucible import sql
from marketplace import services
from marketplace.evidence_stats import DURATION_HISTOGRAM
from observability.services import executions_ingest

_ids = itertools.count(1)


def run_version(
    team,
    version,
    *,
    runs: int,
    failures: int = 0,
    duration_ms: float = 100.0,
    cost=None,
    quality=None,
    started_at: dt.datetime | None = None,
):
    """``runs`` executions of ``version`` by ``team`` through observability's ingest, started at
    ``started_at`` (default: five minutes ago; pass it to know their day, even just after
    midnight)."""
    started = (started_at or timezone.now() - dt.timedelta(minutes=5)).isoformat()
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


def record_day(team, version, *, days_ago: int, runs: int, duration_ms: float, failures: int = 0):
    """``runs`` executions of ``duration_ms`` on the UTC day ``days_ago`` days before today, as
    observability's ingest records them (one upsert statement)."""
    hist = DURATION_HISTOGRAM.empty()
    hist[DURATION_HISTOGRAM.bucket_of(duration_ms)] = runs
    services.version_evidence_record(
        team_id=team.pk,
        rows=[
            {
                "version_id": version.pk,
                "day": timezone.now().date() - dt.timedelta(days=days_ago),
                "executions": runs,
                "successes": runs - failures,
                "duration_sum_ms": runs * duration_ms,
                "hist": hist,
                "tokens": runs * 100,
                "tokens_sq": runs * 100.0**2,
                "cost": "0",
                "cost_sq": 0.0,
                "priced": 0,
                "quality_sum": 0.0,
                "quality_sq": 0.0,
                "quality_count": 0,
            }
        ],
    )


# Merged rows and daily rows in one statement: one snapshot, as a reader sees them.
STATE_SQL = """
SELECT 'merged' AS kind, team_id, version_id, days, through_day, NULL::date AS day, hist_buckets AS buckets,
       hist_counts AS counts, 0 AS hist_offset
FROM marketplace_versionevidencehistogram
UNION ALL
SELECT 'daily', team_id, version_id, NULL, NULL, day, NULL, hist, hist_offset FROM marketplace_versionevidencedaily
"""


def stale_merged_rows() -> list[dict]:
    """The merged histogram rows a reader would see now that differ from the daily rows they cover."""
    rows = sql.fetch_rows(STATE_SQL)
    daily = [row for row in rows if row["kind"] == "daily"]
    stale = []
    for merged in (row for row in rows if row["kind"] == "merged"):
        first = merged["through_day"] - dt.timedelta(days=merged["days"] - 2)
        expected = Counter()
        for row in daily:
            key = (row["team_id"], row["version_id"])
            if key == (merged["team_id"], merged["version_id"]) and first <= row["day"] <= merged["through_day"]:
                expected.update({row["hist_offset"] + i: c for i, c in enumerate(row["counts"]) if c})
        if dict(zip(merged["buckets"], merged["counts"], strict=True)) != dict(expected):
            stale.append(merged)
    return stale
