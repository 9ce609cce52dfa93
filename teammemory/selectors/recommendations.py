"""Recommendations: flaky stacks and the rules of ``teammemory.recommendations`` over the insights."""

from __future__ import annotations

import datetime as dt

from crucible.rules import run_rules
from crucible.sql import fetch_rows
from teammemory import conf
from teammemory import recommendations as tm_recommendations
from teammemory.selectors import insights as insight_selectors
from teammemory.selectors._common import FAILED, SUCCEEDED, _complete_range


def _days_before(moment: dt.datetime, days: int) -> dt.datetime:
    """``moment`` minus ``days``, or the earliest datetime when that is before year 1."""
    try:
        return moment - dt.timedelta(days=days)
    except OverflowError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def flaky_stacks(
    *,
    team,
    since: dt.datetime,
    until: dt.datetime,
    window_hours: int | None = None,
    min_flips: int | None = None,
    min_rate: float | None = None,
) -> list[dict]:
    """Stacks where the same requirements (same normalised text) both passed and failed within
    ``window_hours``: consecutive decided builds of one (stack, requirements) whose status flips.
    A stack is listed from ``min_flips`` flips and ``min_rate`` flips per decided build of the
    stack, so a busy stack with the odd retry is not called flaky.

    This needs the builds themselves, so it is bounded: only the last RECO_FLAKY_LOOKBACK_DAYS of
    the range, and at most RECO_FLAKY_MAX_BUILDS of its most recent decided builds (an index-only
    scan of ``build_team_started`` backwards)."""
    window_hours = conf.RECO_FLAKY_WINDOW_HOURS if window_hours is None else window_hours
    min_flips = conf.RECO_FLAKY_MIN_FLIPS if min_flips is None else min_flips
    min_rate = conf.RECO_FLAKY_MIN_RATE if min_rate is None else min_rate
    start = max(since, _days_before(until, conf.RECO_FLAKY_LOOKBACK_DAYS))
    sql = """
        WITH decided AS (
            SELECT b.id, b.stack_key, b.requirements_hash, b.status, b.started_at
            FROM teammemory_build b
            WHERE b.team_id = %(team)s AND b.started_at >= %(start)s AND b.started_at < %(until)s
              AND b.status IN (%(succeeded)s, %(failed)s) AND b.stack_key <> ''
            ORDER BY b.started_at DESC
            LIMIT %(max_builds)s
        ), per_stack AS (
            SELECT stack_key, count(*) AS builds FROM decided GROUP BY stack_key
        ), pairs AS (
            SELECT stack_key, requirements_hash, status, started_at,
                   lag(status) OVER w AS previous_status,
                   lag(started_at) OVER w AS previous_started_at
            FROM decided
            WHERE requirements_hash <> md5('')
            WINDOW w AS (PARTITION BY stack_key COLLATE "C", requirements_hash COLLATE "C" ORDER BY started_at, id)
        )
        SELECT p.stack_key, s.builds,
               count(*) FILTER (WHERE p.previous_status <> p.status) AS flips,
               count(*) AS repeats,
               count(DISTINCT p.requirements_hash) FILTER (WHERE p.previous_status <> p.status) AS requirement_sets,
               max(p.started_at) FILTER (WHERE p.previous_status <> p.status) AS last_flip_at
        FROM pairs p JOIN per_stack s ON s.stack_key = p.stack_key
        WHERE p.previous_status IS NOT NULL
          AND p.started_at - p.previous_started_at <= make_interval(hours => %(window_hours)s)
        GROUP BY p.stack_key, s.builds
        HAVING count(*) FILTER (WHERE p.previous_status <> p.status) >= greatest(%(min_flips)s, %(min_rate)s * s.builds)
        ORDER BY flips DESC, p.stack_key
        LIMIT %(limit)s
    """
    rows = fetch_rows(
        sql,
        {
            "team": team.pk,
            "start": start,
            "until": until,
            "succeeded": SUCCEEDED,
            "failed": FAILED,
            "max_builds": conf.RECO_FLAKY_MAX_BUILDS,
            "window_hours": window_hours,
            "min_flips": min_flips,
            "min_rate": min_rate,
            "limit": conf.INSIGHTS_TOP_N,
        },
    )
    for row in rows:
        row["window_start"] = start
    return rows


def team_recommendations(
    *, team, since: dt.datetime | None = None, until: dt.datetime | None = None, insights: dict | None = None
) -> dict:
    """Findings from the data, each with its evidence and a suggested action: the rules of
    ``teammemory.recommendations`` over the insights of the period."""
    since, until = _complete_range(since, until)
    insights = insights or insight_selectors.team_insights(team=team, since=since, until=until)
    context = tm_recommendations.Context(
        insights=insights, flaky_stacks=lambda: flaky_stacks(team=team, since=since, until=until)
    )
    recs = [rec.as_dict() for rec in run_rules(tm_recommendations.RULES, context)]
    return {
        "team": team.slug,
        "since": since,
        "until": until,
        "builds": insights["summary"]["builds"],
        "recommendations": recs,
    }
