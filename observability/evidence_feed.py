"""Feed the marketplace's measured evidence from ingested executions.

Executions that resolved to a marketplace agent version are summed per (version, UTC day) in
Python and handed to ``marketplace.services.version_evidence_record`` (one upsert statement per
batch). Durations go in as bucket counts of observability's own histogram, the rule the
marketplace reads them with (``marketplace.evidence_stats.DURATION_HISTOGRAM``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from marketplace import services as marketplace_services
from observability import histogram
from observability.models import ExecutionStatus


def _empty(version_id, day) -> dict:
    return {
        "version_id": version_id,
        "day": day,
        "executions": 0,
        "successes": 0,
        "duration_sum_ms": 0.0,
        "hist": histogram.empty(),
        "tokens": 0,
        "tokens_sq": 0.0,
        "cost": Decimal(0),
        "cost_sq": 0.0,
        "priced": 0,
        "quality_sum": 0.0,
        "quality_sq": 0.0,
        "quality_count": 0,
    }


def _add(group: dict, row: dict) -> None:
    group["executions"] += 1
    group["successes"] += row["status"] == ExecutionStatus.SUCCESS
    group["duration_sum_ms"] += row["duration_ms"]
    group["hist"][histogram.bucket_of(row["duration_ms"])] += 1
    tokens = int(row["input_tokens"]) + int(row["output_tokens"])
    group["tokens"] += tokens
    group["tokens_sq"] += float(tokens) ** 2
    if row["cost"] is not None:
        group["cost"] += row["cost"]
        group["cost_sq"] += float(row["cost"]) ** 2
        group["priced"] += 1
    if row.get("quality") is not None:
        group["quality_sum"] += row["quality"]
        group["quality_sq"] += float(row["quality"]) ** 2
        group["quality_count"] += 1


def evidence_feed(*, team_id: int, rows: list[dict]) -> int:
    """Add the stored executions that name an agent version to the version evidence."""
    groups: dict[tuple, dict] = {}
    for row in rows:
        version_id = row.get("agent_version_id")
        if version_id is None:
            continue
        day = row["started_at"].astimezone(dt.UTC).date()
        key = (version_id, day)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _empty(version_id, day)
        _add(group, row)
    if not groups:
        return 0
    return marketplace_services.version_evidence_record(team_id=team_id, rows=list(groups.values()))
