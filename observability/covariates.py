"""CUPED's covariate from observability: each unit's success rate before its experiment started.

When an execution that names a prompt variant is forwarded to improvement as a result, and the
variant's experiment has ``cuped`` on, the result gets ``covariate``: the share of successful
executions of the same unit (its end user, else its session) in the ``LOOKBACK_DAYS`` before the
experiment started. A unit with no execution in that window gets none (its result is counted,
just not adjusted). One query per batch for the experiments, one for the units' history.
"""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

from crucible.sql import fetch_rows
from improvement import selectors as improvement_selectors
from observability.models import Execution

LOOKBACK_DAYS = 30


class _History(NamedTuple):
    unit: str
    before: object
    metric: float


def _unit(row: dict) -> str:
    return row.get("end_user_id") or row.get("session_id") or ""


def covariates_attach(*, team, rows: list[dict], results: list[dict]) -> None:
    """Set ``results[i]["covariate"]`` from ``rows[i]``'s unit history when its experiment has CUPED on."""
    wanted = [(i, row) for i, row in enumerate(rows) if _unit(row)]
    if not wanted:
        return
    variants = improvement_selectors.variants_for_team(team=team, ids={row["variant_id"] for _, row in wanted})
    starts = {
        pk: variant.experiment.started_at
        for pk, variant in variants.items()
        if variant.experiment.cuped and variant.experiment.started_at is not None
    }
    pairs = sorted({(_unit(row), starts[row["variant_id"]]) for _, row in wanted if row["variant_id"] in starts})
    if not pairs:
        return
    table = Execution._meta.db_table
    history = fetch_rows(
        f"""SELECT u.unit, u.before, avg(CASE WHEN e.status = 'success' THEN 1.0 ELSE 0.0 END)::float AS metric
            FROM unnest(%(units)s::text[], %(befores)s::timestamptz[]) AS u(unit, before)
            JOIN {table} e ON e.team_id = %(team)s AND e.counts_execution
                AND (e.end_user_id = u.unit OR (e.end_user_id = '' AND e.session_id = u.unit))
                AND e.started_at < u.before AND e.started_at >= u.before - %(lookback)s
            GROUP BY u.unit, u.before""",
        {
            "units": [unit for unit, _ in pairs],
            "befores": [before for _, before in pairs],
            "team": team.pk,
            "lookback": timedelta(days=LOOKBACK_DAYS),
        },
        _History,
    )
    metric = {(h.unit, h.before): h.metric for h in history}
    for i, row in wanted:
        found = metric.get((_unit(row), starts.get(row["variant_id"])))
        if found is not None:
            results[i]["covariate"] = found
