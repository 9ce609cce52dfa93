"""CUPED's covariate for build units, from team memory (registered with improvement.covariates).

A result whose unit key is ``build:<client build id>`` or ``project:<project name>`` and whose
experiment has CUPED on gets, as its covariate, the mean **build score** of the unit's project in
the ``LOOKBACK_DAYS`` before the experiment started: per build 0 when it failed, quality/100 when it
succeeded with a score, 1 when it succeeded unscored (cancelled builds decide nothing). A build
unit's project is the recorded build's ``project_name``; a build not recorded yet, without a
project, or a project without builds in the window gets none (its result counts unadjusted).
One query per results batch.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from crucible.sql import fetch_rows
from teammemory.models import Build, BuildStatus

LOOKBACK_DAYS = 30
BUILD_PREFIX = "build:"
PROJECT_PREFIX = "project:"


class _History(NamedTuple):
    unit: str
    before: datetime
    metric: float


def build_score_history(*, team, units: list[tuple[str, datetime]]) -> dict[tuple[str, datetime], float]:
    """{(unit key, experiment start): the project's mean build score before it} for the units known."""
    if not units:
        return {}
    table = Build._meta.db_table
    rows = fetch_rows(
        f"""WITH wanted AS (
                SELECT * FROM unnest(%(units)s::text[], %(befores)s::timestamptz[], %(builds)s::text[],
                                     %(projects)s::text[]) AS w(unit, before, build_id, project)
            ), resolved AS (
                SELECT w.unit, w.before, COALESCE(b.project_name, w.project) AS project
                FROM wanted w
                LEFT JOIN {table} b ON b.team_id = %(team)s AND b.client_build_id = w.build_id
            )
            SELECT r.unit, r.before,
                   avg(CASE WHEN h.status = %(failed)s THEN 0.0
                            WHEN h.quality IS NULL THEN 1.0
                            ELSE h.quality / 100.0 END)::float AS metric
            FROM resolved r
            JOIN {table} h ON h.team_id = %(team)s AND h.project_name = r.project
                AND h.started_at < r.before AND h.started_at >= r.before - %(lookback)s
                AND h.status IN (%(failed)s, %(succeeded)s)
            WHERE r.project <> ''
            GROUP BY r.unit, r.before""",
        {
            "units": [unit for unit, _ in units],
            "befores": [before for _, before in units],
            "builds": [unit[len(BUILD_PREFIX) :] if unit.startswith(BUILD_PREFIX) else None for unit, _ in units],
            "projects": [unit[len(PROJECT_PREFIX) :] if unit.startswith(PROJECT_PREFIX) else None for unit, _ in units],
            "team": team.pk,
            "lookback": timedelta(days=LOOKBACK_DAYS),
            "failed": BuildStatus.FAILED,
            "succeeded": BuildStatus.SUCCEEDED,
        },
        _History,
    )
    return {(row.unit, row.before): row.metric for row in rows}
