"""Measured evidence: the reads (selectors) behind the agent page, the version page and the API.

Whose data: the caller's own team always sees its own figures. Other teams' figures come only
from teams that opted in (``EvidenceSharing``), and only as a spread (min / median / max of the
per-team figures) when at least ``CRUCIBLE_EVIDENCE_MIN_TEAMS`` teams other than the caller's
contributed to that figure (the caller's own figure never counts among them: knowing it, the
caller could take it out of a spread of K and read the others exactly); below that, the figure is absent (nothing says how many teams there were). Teams are never named.
Statistics: ``marketplace.evidence_stats``. Everything is read from the daily rollups.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from crucible import formatting, sql
from marketplace import conf
from marketplace.evidence_stats import DURATION_HISTOGRAM, mean_interval, percentile_interval, spread, wilson
from marketplace.models import Agent, AgentVersion, EvidenceSharing, VersionExperimentOutcome

PERIODS = {7: "Last 7 days", 30: "Last 30 days", 90: "Last 90 days"}
DEFAULT_DAYS = 30


class TeamEvidence(NamedTuple):
    team_id: int
    shares: bool
    executions: int
    successes: int
    duration_sum_ms: float
    hist_buckets: list | None
    hist_counts: list | None
    tokens: int
    tokens_sq: float
    cost: Decimal
    cost_sq: float
    priced: int
    quality_sum: float
    quality_sq: float
    quality_count: int
    builds: int
    build_successes: int
    build_quality_sum: float
    build_quality_sq: float
    build_quality_count: int
    all_builds: int
    all_build_successes: int
    all_build_quality_sum: float
    all_build_quality_sq: float
    all_build_quality_count: int


# Per team that measured the version in the period: the caller's team and opted-in teams only.
# Durations: the team's merged histogram of the closed days (``VersionEvidenceHistogram``, kept
# exact by crucible.merge_guard: a late write deletes it) plus its rows of today, or, without a
# merged row, its daily rows merged here. Exact either way, with no check per row.
TEAM_EVIDENCE_SQL = """
WITH days AS (
    SELECT e.team_id, e.day, e.executions, e.successes, e.duration_sum_ms, e.hist_offset, e.hist,
           e.tokens, e.tokens_sq, e.cost, e.cost_sq, e.priced, e.quality_sum, e.quality_sq, e.quality_count,
           e.builds, e.build_successes, e.build_quality_sum, e.build_quality_sq, e.build_quality_count
    FROM marketplace_versionevidencedaily e
    WHERE e.version_id = %(version)s AND e.day >= %(since)s
      AND (e.team_id = %(viewer)s
           OR e.team_id IN (SELECT team_id FROM marketplace_evidencesharing WHERE share_evidence))
),
merged AS (
    SELECT m.team_id, m.hist_buckets, m.hist_counts FROM marketplace_versionevidencehistogram m
    WHERE m.version_id = %(version)s AND m.days = %(days)s AND m.through_day = %(through)s
      AND m.team_id IN (SELECT team_id FROM days)
),
sums AS (
    SELECT team_id, sum(executions)::bigint AS executions, sum(successes)::bigint AS successes,
           sum(duration_sum_ms) AS duration_sum_ms, sum(tokens)::bigint AS tokens, sum(tokens_sq) AS tokens_sq,
           sum(cost) AS cost, sum(cost_sq) AS cost_sq, sum(priced)::bigint AS priced,
           sum(quality_sum) AS quality_sum, sum(quality_sq) AS quality_sq, sum(quality_count)::bigint AS quality_count,
           sum(builds)::bigint AS builds, sum(build_successes)::bigint AS build_successes,
           sum(build_quality_sum) AS build_quality_sum, sum(build_quality_sq) AS build_quality_sq,
           sum(build_quality_count)::bigint AS build_quality_count
    FROM days GROUP BY team_id
),
hist_parts AS (
    SELECT m.team_id, u.b, u.c
    FROM merged m CROSS JOIN LATERAL unnest(m.hist_buckets, m.hist_counts) AS u(b, c)
    UNION ALL
    SELECT d.team_id, d.hist_offset + h.i - 1, h.c
    FROM days d CROSS JOIN LATERAL unnest(d.hist) WITH ORDINALITY AS h(c, i)
    WHERE d.day > %(through)s OR d.team_id NOT IN (SELECT team_id FROM merged)
),
hists AS (
    SELECT team_id, array_agg(b ORDER BY b) AS hist_buckets, array_agg(c ORDER BY b) AS hist_counts
    FROM (SELECT team_id, b, sum(c)::bigint AS c FROM hist_parts GROUP BY 1, 2) per_bucket
    GROUP BY team_id
),
team_builds AS (
    SELECT team_id, sum(builds)::bigint AS all_builds, sum(build_successes)::bigint AS all_build_successes,
           sum(build_quality_sum) AS all_build_quality_sum, sum(build_quality_sq) AS all_build_quality_sq,
           sum(build_quality_count)::bigint AS all_build_quality_count
    FROM marketplace_teambuilddaily
    WHERE day >= %(since)s AND team_id IN (SELECT team_id FROM sums) GROUP BY team_id
)
SELECT s.team_id, coalesce(sh.share_evidence, false) AS shares, s.executions, s.successes, s.duration_sum_ms,
       h.hist_buckets, h.hist_counts, s.tokens, s.tokens_sq, s.cost, s.cost_sq, s.priced, s.quality_sum, s.quality_sq, s.quality_count,
       s.builds, s.build_successes, s.build_quality_sum, s.build_quality_sq, s.build_quality_count,
       coalesce(b.all_builds, 0) AS all_builds, coalesce(b.all_build_successes, 0) AS all_build_successes,
       coalesce(b.all_build_quality_sum, 0) AS all_build_quality_sum,
       coalesce(b.all_build_quality_sq, 0) AS all_build_quality_sq,
       coalesce(b.all_build_quality_count, 0) AS all_build_quality_count
FROM sums s
LEFT JOIN hists h ON h.team_id = s.team_id
LEFT JOIN team_builds b ON b.team_id = s.team_id
LEFT JOIN marketplace_evidencesharing sh ON sh.team_id = s.team_id
ORDER BY s.team_id
"""


SHOW = {
    "percent": formatting.percent,
    "duration": formatting.duration,
    "number": lambda value: (
        formatting.number(value, 1) if value is not None and value % 1 else formatting.number(value)
    ),
    "money": formatting.money,
    "quality": lambda value: formatting.number(value, 1),
}


@dataclass
class Figure:
    """One measured figure: ``own`` (value/low/high/n for the caller's team, or None) and
    ``others`` (min/median/max/teams across opted-in teams, or None below the threshold)."""

    key: str
    label: str
    kind: str  # percent, duration, number, money, quality
    own: dict | None
    others: dict | None

    def show(self, value) -> str:
        return SHOW[self.kind](value)

    @property
    def own_display(self) -> str:
        return self.show(self.own["value"]) if self.own else formatting.EMPTY

    @property
    def own_interval(self) -> str:
        if not self.own or self.own.get("low") is None:
            return formatting.EMPTY
        return f"{self.show(self.own['low'])} – {self.show(self.own['high'])}"

    @property
    def own_n(self) -> str:
        return formatting.number(self.own["n"]) if self.own else formatting.EMPTY

    @property
    def others_display(self) -> str:
        if not self.others:
            return formatting.EMPTY
        o = self.others
        return f"{self.show(o['min'])} / {self.show(o['median'])} / {self.show(o['max'])}"

    @property
    def others_teams(self) -> str:
        return formatting.number(self.others["teams"]) if self.others else formatting.EMPTY


def _dense(buckets, counts) -> list[int]:
    hist = DURATION_HISTOGRAM.empty()
    for bucket, count in zip(buckets or (), counts or (), strict=True):
        hist[bucket] = count
    return hist


def _own_figures(t: TeamEvidence) -> dict[str, dict | None]:
    other_builds = t.all_builds - t.builds
    hist = _dense(t.hist_buckets, t.hist_counts)
    return {
        "executions": {"value": t.executions, "low": None, "high": None, "n": t.executions} if t.executions else None,
        "success_rate": wilson(t.successes, t.executions),
        "p50_ms": percentile_interval(hist, 0.5),
        "p95_ms": percentile_interval(hist, 0.95),
        "tokens_per_run": mean_interval(t.tokens, t.tokens_sq, t.executions),
        "cost_per_run": mean_interval(float(t.cost), t.cost_sq, t.priced),
        "quality": mean_interval(t.quality_sum, t.quality_sq, t.quality_count),
        "build_success_with": wilson(t.build_successes, t.builds),
        "build_success_other": wilson(t.all_build_successes - t.build_successes, other_builds),
        "build_quality_with": mean_interval(t.build_quality_sum, t.build_quality_sq, t.build_quality_count),
        "build_quality_other": mean_interval(
            t.all_build_quality_sum - t.build_quality_sum,
            t.all_build_quality_sq - t.build_quality_sq,
            t.all_build_quality_count - t.build_quality_count,
        ),
    }


FIGURES = (
    ("executions", "Executions", "number"),
    ("success_rate", "Success rate", "percent"),
    ("p50_ms", "Duration p50", "duration"),
    ("p95_ms", "Duration p95", "duration"),
    ("tokens_per_run", "Tokens per run", "number"),
    ("cost_per_run", "Cost per run", "money"),
    ("quality", "Average quality", "quality"),
    ("build_success_with", "Build success, builds using it", "percent"),
    ("build_success_other", "Build success, the same teams' other builds", "percent"),
    ("build_quality_with", "Build quality, builds using it", "quality"),
    ("build_quality_other", "Build quality, the same teams' other builds", "quality"),
)


@dataclass
class Evidence:
    version: AgentVersion
    days: int
    since: dt.date
    min_teams: int
    figures: list[Figure]
    experiments_own: list[dict]
    experiments_others: dict | None

    @property
    def has_own(self) -> bool:
        return any(f.own for f in self.figures) or bool(self.experiments_own)

    @property
    def has_others(self) -> bool:
        return any(f.others for f in self.figures) or self.experiments_others is not None

    def as_dict(self) -> dict:
        return {
            "version": {"id": self.version.pk, "version": self.version.version, "agent": self.version.agent_id},
            "days": self.days,
            "since": self.since.isoformat(),
            "min_teams": self.min_teams,
            "own": {f.key: f.own for f in self.figures},
            "others": {f.key: f.others for f in self.figures},
            "experiments": {"own": self.experiments_own, "others": self.experiments_others},
        }


def _experiments(version, viewer_id: int, since: dt.date, min_teams: int) -> tuple[list[dict], dict | None]:
    since_time = dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC)
    rows = list(
        VersionExperimentOutcome.objects.filter(version=version, concluded_at__gte=since_time)
        .annotate(shared=Exists(EvidenceSharing.objects.filter(team_id=OuterRef("team_id"), share_evidence=True)))
        .filter(Q(team_id=viewer_id) | Q(shared=True))
        .order_by("-concluded_at", "pk")
        .values("team_id", "outcome", "samples", "successes", "low", "high", "concluded_at", "shared")
    )
    own = [
        {k: r[k] for k in ("outcome", "samples", "successes", "low", "high", "concluded_at")}
        for r in rows
        if r["team_id"] == viewer_id
    ]
    shared = [r for r in rows if r["shared"] and r["team_id"] != viewer_id]
    teams = {r["team_id"] for r in shared}
    others = None
    if len(teams) >= min_teams:
        others = {
            "teams": len(teams),
            "won": sum(r["outcome"] == VersionExperimentOutcome.Outcome.WON for r in shared),
            "lost": sum(r["outcome"] == VersionExperimentOutcome.Outcome.LOST for r in shared),
            "no_winner": sum(r["outcome"] == VersionExperimentOutcome.Outcome.NO_WINNER for r in shared),
        }
    return own, others


def version_evidence(*, version: AgentVersion, team, days: int = DEFAULT_DAYS) -> Evidence:
    """The evidence of ``version`` over the last ``days`` UTC days (today included) as ``team``
    may see it: its own figures with intervals, and the opted-in teams' spread (K teams or more)."""
    days = days if days in PERIODS else DEFAULT_DAYS
    min_teams = conf.EVIDENCE_MIN_TEAMS
    today = timezone.now().date()
    since = today - dt.timedelta(days=days - 1)
    viewer_id = team.pk if team is not None else -1
    params = {"version": version.pk, "since": since, "viewer": viewer_id, "days": days}
    teams = sql.fetch_rows(TEAM_EVIDENCE_SQL, params | {"through": today - dt.timedelta(days=1)}, TeamEvidence)
    own_row = next((t for t in teams if t.team_id == viewer_id), None)
    own = _own_figures(own_row) if own_row is not None else {}
    # Other teams only: with its own figure in the spread, a viewer would read K - 1 others' exactly.
    per_team = [_own_figures(t) for t in teams if t.shares and t.team_id != viewer_id]
    figures = []
    for key, label, kind in FIGURES:
        values = [(f[key] or {}).get("value") for f in per_team]
        figures.append(Figure(key, label, kind, own.get(key), spread(values, min_teams=min_teams)))
    experiments_own, experiments_others = _experiments(version, viewer_id, since, min_teams)
    return Evidence(version, days, since, min_teams, figures, experiments_own, experiments_others)


# --- search: the denormalised figures on the agent row ------------------------------------------------


def agent_search_evidence(agent: Agent) -> dict | None:
    """What search shows of an agent's measured evidence (the opted-in teams' medians of its latest
    version), or None below the K-team threshold."""
    if agent.evidence_teams < conf.EVIDENCE_MIN_TEAMS:
        return None
    return {
        "teams": agent.evidence_teams,
        "success_rate_median": agent.evidence_success_rate,
        "cost_per_run_median": agent.evidence_cost_per_run,
        "failure_rose": agent.evidence_failure_warning,
    }
