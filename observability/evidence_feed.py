"""Feed the marketplace's measured evidence from ingested executions.

Executions that resolved to a marketplace agent version are summed per (version, UTC day) in
Python and handed to ``marketplace.services.version_evidence_record`` (one upsert statement per
batch). Durations go in as bucket counts of observability's own histogram, the rule the
marketplace reads them with (``marketplace.evidence_stats.DURATION_HISTOGRAM``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import NamedTuple

from crucible import sql
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


def _add(group: dict, row: dict, sign: int = 1, *, execution: bool, usage: bool) -> None:
    """What one row adds (``sign=-1``: takes away): the run when ``execution``, its tokens and
    cost when ``usage`` (the rollups' rule, docs/observability.md "Counting once")."""
    if execution:
        group["executions"] += sign
        group["successes"] += sign * (row["status"] == ExecutionStatus.SUCCESS)
        group["duration_sum_ms"] += sign * row["duration_ms"]
        group["hist"][histogram.bucket_of(row["duration_ms"])] += sign
        if row.get("quality") is not None:
            group["quality_sum"] += sign * row["quality"]
            group["quality_sq"] += sign * float(row["quality"]) ** 2
            group["quality_count"] += sign
    if usage:
        tokens = int(row["input_tokens"]) + int(row["output_tokens"])
        group["tokens"] += sign * tokens
        group["tokens_sq"] += sign * float(tokens) ** 2
        if row["cost"] is not None:
            group["cost"] += sign * row["cost"]
            group["cost_sq"] += sign * float(row["cost"]) ** 2
            group["priced"] += sign


def _record(team_id: int, changes) -> int:
    """``changes``: (sign, row, execution, usage); rows without an agent version are skipped."""
    groups: dict[tuple, dict] = {}
    for sign, row, execution, usage in changes:
        version_id = row.get("agent_version_id")
        if version_id is None:
            continue
        day = row["started_at"].astimezone(dt.UTC).date()
        group = groups.get((version_id, day))
        if group is None:
            group = groups[(version_id, day)] = _empty(version_id, day)
        _add(group, row, sign, execution=execution, usage=usage)
    if not groups:
        return 0
    return marketplace_services.version_evidence_record(team_id=team_id, rows=list(groups.values()))


def _flags(row) -> tuple[bool, bool]:
    return row.get("counts_execution", True), row.get("counts_usage", True)


def evidence_feed(*, team_id: int, rows: list[dict], uncounted_usage=()) -> int:
    """Add the stored executions that name an agent version to the version evidence, and take
    away the usage of earlier rows that stopped counting (as the rollups do)."""
    changes = [(1, row, *_flags(row)) for row in rows]
    changes += [(-1, row, False, True) for row in uncounted_usage]
    return _record(team_id, changes)


def evidence_subtract(*, team_id: int, rows: list[dict]) -> int:
    """Take deleted executions out of the version evidence (the mirror image of ``evidence_feed``)."""
    return _record(team_id, [(-1, row, *_flags(row)) for row in rows])


class _Group(NamedTuple):
    team_id: int
    version_id: int
    day: dt.date
    bucket: int
    executions: int
    successes: int
    duration_sum_ms: float
    tokens: int
    tokens_sq: float
    cost: Decimal
    cost_sq: float
    priced: int
    quality_sum: float
    quality_sq: float
    quality_count: int


EVIDENCE_FROM_RAW_SQL = """
SELECT team_id, agent_version_id AS version_id, (started_at AT TIME ZONE 'UTC')::date AS day,
       observability_hist_bucket(duration_ms) AS bucket, count(*) FILTER (WHERE counts_execution) AS executions,
       count(*) FILTER (WHERE counts_execution AND status = 'success') AS successes,
       coalesce(sum(duration_ms) FILTER (WHERE counts_execution), 0) AS duration_sum_ms,
       coalesce(sum(input_tokens + output_tokens) FILTER (WHERE counts_usage), 0)::bigint AS tokens,
       coalesce(sum(((input_tokens + output_tokens)::float8) ^ 2) FILTER (WHERE counts_usage), 0) AS tokens_sq,
       coalesce(sum(cost) FILTER (WHERE counts_usage), 0) AS cost,
       coalesce(sum((cost::float8) ^ 2) FILTER (WHERE counts_usage), 0) AS cost_sq,
       count(cost) FILTER (WHERE counts_usage) AS priced,
       coalesce(sum(quality) FILTER (WHERE counts_execution), 0) AS quality_sum,
       coalesce(sum(quality ^ 2) FILTER (WHERE counts_execution), 0) AS quality_sq,
       count(quality) FILTER (WHERE counts_execution) AS quality_count
FROM observability_execution
WHERE agent_version_id IS NOT NULL AND (counts_execution OR counts_usage)
  AND started_at >= %(start)s AND started_at < %(end)s {team_filter}
GROUP BY 1, 2, 3, 4
"""

SUMMED = ("executions", "successes", "duration_sum_ms", "tokens", "tokens_sq", "cost", "cost_sq", "priced",
          "quality_sum", "quality_sq", "quality_count")  # fmt: skip


def evidence_rebuild(*, start: dt.datetime, end: dt.datetime, team=None) -> int:
    """Recompute the version evidence of the whole UTC days [start, end) from the raw executions
    (the rollup rebuild calls it: demo data, repairs)."""
    team_filter = "AND team_id = %(team)s" if team is not None else ""
    params = {"start": start, "end": end} | ({"team": team.pk} if team is not None else {})
    by_team: dict[int, dict[tuple, dict]] = {}
    for g in sql.fetch_rows(EVIDENCE_FROM_RAW_SQL.format(team_filter=team_filter), params, _Group):
        groups = by_team.setdefault(g.team_id, {})
        group = groups.get((g.version_id, g.day))
        if group is None:
            group = groups[(g.version_id, g.day)] = _empty(g.version_id, g.day)
        for name in SUMMED:
            group[name] += getattr(g, name)
        group["hist"][g.bucket] += g.executions
    return marketplace_services.version_evidence_rebuild(
        start_day=start.astimezone(dt.UTC).date(),
        end_day=end.astimezone(dt.UTC).date(),
        rows_by_team={team_id: list(groups.values()) for team_id, groups in by_team.items()},
        team_id=team.pk if team is not None else None,
    )
