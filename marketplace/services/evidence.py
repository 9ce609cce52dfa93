"""Measured evidence: the writes. Higher apps feed the per-team, per-version, per-day rollups
here (observability ingest, team memory build reports, improvement experiment conclusions); each
call is one ``INSERT ... ON CONFLICT DO UPDATE`` statement whose counters are added in the
database, so concurrent writers stay exact. ``evidence_agents_refresh`` denormalises what search
sorts on onto the agent rows (a periodic job: ``manage.py marketplace_evidence_refresh``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crucible import sql
from marketplace import conf
from marketplace.evidence_stats import DURATION_HISTOGRAM, failure_rose, wilson
from marketplace.models import EvidenceSharing, VersionExperimentOutcome

EXECUTION_COLUMNS = (
    "version_id",
    "day",
    "executions",
    "successes",
    "duration_sum_ms",
    "hist",
    "tokens",
    "tokens_sq",
    "cost",
    "cost_sq",
    "priced",
    "quality_sum",
    "quality_sq",
    "quality_count",
)

EXECUTIONS_UPSERT_SQL = """
INSERT INTO marketplace_versionevidencedaily AS r (
    team_id, version_id, agent_id, day, executions, successes, duration_sum_ms, hist_offset, hist, tokens,
    tokens_sq, cost, cost_sq, priced, quality_sum, quality_sq, quality_count)
SELECT %(team)s, t.version_id, v.agent_id, t.day, t.executions, t.successes, t.duration_sum_ms, t.hist_offset,
       t.hist::bigint[],
       t.tokens, t.tokens_sq, t.cost, t.cost_sq, t.priced, t.quality_sum, t.quality_sq, t.quality_count
FROM unnest(%(version_id)s::bigint[], %(day)s::date[], %(executions)s::bigint[], %(successes)s::bigint[],
            %(duration_sum_ms)s::float8[], %(hist_offset)s::int[], %(hist)s::text[], %(tokens)s::bigint[], %(tokens_sq)s::float8[],
            %(cost)s::numeric[], %(cost_sq)s::float8[], %(priced)s::bigint[], %(quality_sum)s::float8[],
            %(quality_sq)s::float8[], %(quality_count)s::bigint[])
     AS t(version_id, day, executions, successes, duration_sum_ms, hist_offset, hist, tokens, tokens_sq, cost, cost_sq, priced,
          quality_sum, quality_sq, quality_count)
JOIN marketplace_agentversion v ON v.id = t.version_id
ORDER BY t.version_id, t.day
ON CONFLICT (team_id, version_id, day) DO UPDATE SET
    executions = r.executions + EXCLUDED.executions,
    successes = r.successes + EXCLUDED.successes,
    duration_sum_ms = r.duration_sum_ms + EXCLUDED.duration_sum_ms,
    -- Both histograms cover [offset, offset + length); the sum covers their union.
    hist_offset = CASE WHEN cardinality(r.hist) = 0 THEN EXCLUDED.hist_offset
                       ELSE least(r.hist_offset, EXCLUDED.hist_offset) END,
    hist = ARRAY(SELECT coalesce(r.hist[b - r.hist_offset + 1], 0) + coalesce(EXCLUDED.hist[b - EXCLUDED.hist_offset + 1], 0)
                 FROM generate_series(
                     CASE WHEN cardinality(r.hist) = 0 THEN EXCLUDED.hist_offset
                          ELSE least(r.hist_offset, EXCLUDED.hist_offset) END,
                     greatest(r.hist_offset + cardinality(r.hist), EXCLUDED.hist_offset + cardinality(EXCLUDED.hist)) - 1
                 ) AS b ORDER BY b),
    tokens = r.tokens + EXCLUDED.tokens,
    tokens_sq = r.tokens_sq + EXCLUDED.tokens_sq,
    cost = r.cost + EXCLUDED.cost,
    cost_sq = r.cost_sq + EXCLUDED.cost_sq,
    priced = r.priced + EXCLUDED.priced,
    quality_sum = r.quality_sum + EXCLUDED.quality_sum,
    quality_sq = r.quality_sq + EXCLUDED.quality_sq,
    quality_count = r.quality_count + EXCLUDED.quality_count
"""


def hist_trim(hist) -> tuple[int, list[int]]:
    """(offset, counts) of the buckets in use: the stored rows keep only those (a version's
    durations fill a few dozen of the 134 buckets), so reads sum far fewer elements."""
    used = [i for i, count in enumerate(hist) if count]
    if not used:
        return 0, []
    return used[0], [int(c) for c in hist[used[0] : used[-1] + 1]]


def version_evidence_record(*, team_id: int, rows: list[dict]) -> int:
    """Add one batch of execution figures, one dict per (version, UTC day) with the keys of
    ``EXECUTION_COLUMNS`` (``hist``: the bucket counts of ``DURATION_HISTOGRAM``, i.e.
    observability's duration histogram). One statement for the whole batch; rows naming a version
    that no longer exists are dropped. Returns the rows written."""
    if not rows:
        return 0
    for row in rows:
        if len(row["hist"]) != DURATION_HISTOGRAM.buckets:
            raise ValueError(f"hist must have {DURATION_HISTOGRAM.buckets} bucket counts.")
    ordered = sorted(rows, key=lambda r: (r["version_id"], r["day"]))  # one lock order for every writer
    params = {name: [row[name] for row in ordered] for name in EXECUTION_COLUMNS}
    trimmed = [hist_trim(row["hist"]) for row in ordered]
    params["hist_offset"] = [offset for offset, _ in trimmed]
    params["hist"] = ["{" + ",".join(str(int(c)) for c in counts) + "}" for _, counts in trimmed]
    params["cost"] = [Decimal(row["cost"]) for row in ordered]
    return sql.execute(EXECUTIONS_UPSERT_SQL, {"team": team_id, **params})


EXECUTIONS_RESET_SQL = """
UPDATE marketplace_versionevidencedaily
SET executions = 0, successes = 0, duration_sum_ms = 0, hist_offset = 0, hist = '{{}}',
    tokens = 0, tokens_sq = 0,
    cost = 0, cost_sq = 0, priced = 0, quality_sum = 0, quality_sq = 0, quality_count = 0
WHERE day >= %(start)s AND day < %(end)s {team_filter}
"""


@transaction.atomic
def version_evidence_rebuild(*, start_day: dt.date, end_day: dt.date, rows_by_team: dict, team_id=None) -> int:
    """Replace the execution figures of the UTC days [start_day, end_day) (of one team, or all)
    with ``rows_by_team`` ({team_id: rows as for ``version_evidence_record``}), computed again from
    the raw executions by observability's rollup rebuild. Build figures are kept."""
    team_filter = "" if team_id is None else "AND team_id = %(team)s"
    sql.execute(
        EXECUTIONS_RESET_SQL.format(team_filter=team_filter), {"start": start_day, "end": end_day, "team": team_id}
    )
    return sum(version_evidence_record(team_id=team, rows=rows) for team, rows in sorted(rows_by_team.items()))


BUILD_UPSERT_SQL = """
WITH team_day AS (
    INSERT INTO marketplace_teambuilddaily AS r (
        team_id, day, builds, build_successes, build_quality_sum, build_quality_sq, build_quality_count)
    VALUES (%(team)s, %(day)s, 1, %(success)s, %(quality)s, %(quality_sq)s, %(quality_count)s)
    ON CONFLICT (team_id, day) DO UPDATE SET
        builds = r.builds + 1,
        build_successes = r.build_successes + EXCLUDED.build_successes,
        build_quality_sum = r.build_quality_sum + EXCLUDED.build_quality_sum,
        build_quality_sq = r.build_quality_sq + EXCLUDED.build_quality_sq,
        build_quality_count = r.build_quality_count + EXCLUDED.build_quality_count
    RETURNING 1
)
INSERT INTO marketplace_versionevidencedaily AS r (
    team_id, version_id, agent_id, day, builds, build_successes, build_quality_sum, build_quality_sq,
    build_quality_count)
SELECT %(team)s, v.id, v.agent_id, %(day)s, 1, %(success)s, %(quality)s, %(quality_sq)s, %(quality_count)s
FROM marketplace_agentversion v WHERE v.id = ANY(%(versions)s::bigint[]) AND EXISTS (SELECT 1 FROM team_day)
ORDER BY v.id
ON CONFLICT (team_id, version_id, day) DO UPDATE SET
    builds = r.builds + 1,
    build_successes = r.build_successes + EXCLUDED.build_successes,
    build_quality_sum = r.build_quality_sum + EXCLUDED.build_quality_sum,
    build_quality_sq = r.build_quality_sq + EXCLUDED.build_quality_sq,
    build_quality_count = r.build_quality_count + EXCLUDED.build_quality_count
"""


def version_evidence_build_record(
    *, team_id: int, day: dt.date, succeeded: bool, quality: float | None, version_ids
) -> None:
    """Count one reported build: in the team's builds of ``day`` and in the builds of each
    agent version it used (``version_ids``, possibly empty). One statement."""
    has_quality = quality is not None
    sql.execute(
        BUILD_UPSERT_SQL,
        {
            "team": team_id,
            "day": day,
            "success": 1 if succeeded else 0,
            "quality": float(quality) if has_quality else 0.0,
            "quality_sq": float(quality) ** 2 if has_quality else 0.0,
            "quality_count": 1 if has_quality else 0,
            "versions": sorted({int(v) for v in version_ids or ()}),
        },
    )


def version_experiment_record(*, team_id: int, experiment_id: int, concluded_at, outcomes: list[dict]) -> int:
    """Record a concluded experiment's outcome for each version one of its variants ran:
    ``outcomes`` is a list of ``{"version_id", "outcome": won|lost|no_winner, "samples",
    "successes"}``; the success rate's Wilson interval is stored with it. Idempotent per
    (version, experiment)."""
    written = 0
    valid = set(VersionExperimentOutcome.Outcome.values)
    for item in sorted(outcomes, key=lambda o: o["version_id"]):
        if item["outcome"] not in valid:
            raise ValidationError({"outcome": f"One of {', '.join(sorted(valid))}."})
        interval = wilson(int(item["successes"]), int(item["samples"]))
        VersionExperimentOutcome.objects.update_or_create(
            version_id=item["version_id"],
            experiment_id=experiment_id,
            defaults={
                "team_id": team_id,
                "outcome": item["outcome"],
                "samples": int(item["samples"]),
                "successes": int(item["successes"]),
                "low": interval["low"] if interval else None,
                "high": interval["high"] if interval else None,
                "concluded_at": concluded_at,
            },
        )
        written += 1
    return written


# --- the team setting --------------------------------------------------------------------------


@transaction.atomic
def evidence_sharing_set(*, team, share_evidence, user=None) -> EvidenceSharing:
    """Turn the team's evidence sharing on or off. The search figures of the agents whose
    evidence the team contributed to are refreshed at once (an opt-out takes effect now)."""
    if not isinstance(share_evidence, bool):
        raise ValidationError({"share_evidence": "Must be true or false."})
    setting, _ = EvidenceSharing.objects.update_or_create(
        team=team,
        defaults={"share_evidence": share_evidence, "updated_by": user if getattr(user, "pk", None) else None},
    )
    touched = sql.fetch_rows(
        "SELECT DISTINCT agent_id FROM marketplace_versionevidencedaily WHERE team_id = %(team)s",
        {"team": team.pk},
    )
    if touched:
        evidence_agents_refresh(agent_ids=[row["agent_id"] for row in touched])
    return setting


# --- denormalised search figures -------------------------------------------------------------------


class _AgentEvidence(NamedTuple):
    agent_id: int
    which: str  # "latest" or "previous"
    team_id: int
    runs: int
    successes: int
    cost: Decimal | None
    priced: int


AGENT_EVIDENCE_SQL = """
WITH agents AS (
    SELECT a.id AS agent_id, a.latest_version_id AS latest_id,
           (SELECT p.id FROM marketplace_agentversion p
            WHERE p.agent_id = a.id AND NOT p.is_yanked
              AND (p.major, p.minor, p.patch, p.is_release, p.prerelease_key)
                  < (l.major, l.minor, l.patch, l.is_release, l.prerelease_key)
            ORDER BY p.major DESC, p.minor DESC, p.patch DESC, p.is_release DESC, p.prerelease_key DESC
            LIMIT 1) AS previous_id
    FROM marketplace_agent a JOIN marketplace_agentversion l ON l.id = a.latest_version_id
    WHERE {agent_filter}
)
SELECT g.agent_id, CASE WHEN e.version_id = g.latest_id THEN 'latest' ELSE 'previous' END AS which,
       e.team_id, sum(e.executions)::bigint AS runs, sum(e.successes)::bigint AS successes,
       sum(e.cost) AS cost, sum(e.priced)::bigint AS priced
FROM agents g
JOIN marketplace_versionevidencedaily e ON e.version_id IN (g.latest_id, g.previous_id) AND e.day >= %(since)s
JOIN marketplace_evidencesharing s ON s.team_id = e.team_id AND s.share_evidence
GROUP BY 1, 2, 3
HAVING sum(e.executions) > 0
"""

AGENT_EVIDENCE_UPDATE_SQL = """
UPDATE marketplace_agent a
SET evidence_success_rate = t.success, evidence_cost_per_run = t.cost, evidence_teams = t.teams,
    evidence_failure_warning = t.warning, evidence_refreshed_at = %(now)s
FROM unnest(%(ids)s::bigint[], %(success)s::float8[], %(cost)s::float8[], %(teams)s::int[], %(warning)s::bool[])
     AS t(id, success, cost, teams, warning)
WHERE a.id = t.id
  AND (a.evidence_success_rate, a.evidence_cost_per_run, a.evidence_teams, a.evidence_failure_warning)
      IS DISTINCT FROM (t.success, t.cost, t.teams, t.warning)
"""

AGENT_EVIDENCE_CLEAR_SQL = """
UPDATE marketplace_agent
SET evidence_success_rate = NULL, evidence_cost_per_run = NULL, evidence_teams = 0,
    evidence_failure_warning = false, evidence_refreshed_at = %(now)s
WHERE {agent_filter} AND NOT (id = ANY(%(kept)s::bigint[]))
  AND (evidence_success_rate IS NOT NULL OR evidence_cost_per_run IS NOT NULL OR evidence_teams <> 0
       OR evidence_failure_warning)
"""


def _median(values):
    values = sorted(values)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _agent_figures(rows: list[_AgentEvidence], min_teams: int) -> tuple[float | None, float | None, int, bool]:
    latest = [r for r in rows if r.which == "latest"]
    previous = [r for r in rows if r.which == "previous"]
    teams = len(latest)
    success = _median([r.successes / r.runs for r in latest]) if teams >= min_teams else None
    priced = [float(r.cost) / r.priced for r in latest if r.priced]
    cost = _median(priced) if len(priced) >= min_teams else None
    warning = (
        teams >= min_teams
        and len(previous) >= min_teams
        and failure_rose(
            latest_failures=sum(r.runs - r.successes for r in latest),
            latest_runs=sum(r.runs for r in latest),
            previous_failures=sum(r.runs - r.successes for r in previous),
            previous_runs=sum(r.runs for r in previous),
        )
    )
    return success, cost, teams, warning


@transaction.atomic
def evidence_agents_refresh(*, agent_ids=None, days: int | None = None) -> int:
    """Recompute the search figures of every agent (or of ``agent_ids``) from the opted-in teams'
    evidence of the last ``days`` days (``CRUCIBLE_EVIDENCE_SEARCH_DAYS``): the median success
    rate and cost per run of the latest version across teams, NULL below
    ``CRUCIBLE_EVIDENCE_MIN_TEAMS`` teams, and the failure-rise warning. Returns the agents changed."""
    days = days or conf.EVIDENCE_SEARCH_DAYS
    min_teams = conf.EVIDENCE_MIN_TEAMS
    since = timezone.now().date() - dt.timedelta(days=days - 1)
    agent_filter = "TRUE" if agent_ids is None else "a.id = ANY(%(agent_ids)s::bigint[])"
    params = {"since": since} | ({} if agent_ids is None else {"agent_ids": list(agent_ids)})
    rows = sql.fetch_rows(AGENT_EVIDENCE_SQL.format(agent_filter=agent_filter), params, _AgentEvidence)
    by_agent: dict[int, list[_AgentEvidence]] = {}
    for row in rows:
        by_agent.setdefault(row.agent_id, []).append(row)
    ids, success, cost, teams, warning = [], [], [], [], []
    for agent_id in sorted(by_agent):
        figures = _agent_figures(by_agent[agent_id], min_teams)
        for column, value in zip((success, cost, teams, warning), figures, strict=True):
            column.append(value)
        ids.append(agent_id)
    now = timezone.now()
    changed = sql.execute(
        AGENT_EVIDENCE_UPDATE_SQL,
        {"now": now, "ids": ids, "success": success, "cost": cost, "teams": teams, "warning": warning},
    )
    clear_filter = "TRUE" if agent_ids is None else "id = ANY(%(agent_ids)s::bigint[])"
    changed += sql.execute(
        AGENT_EVIDENCE_CLEAR_SQL.format(agent_filter=clear_filter), params | {"now": now, "kept": ids}
    )
    return changed
