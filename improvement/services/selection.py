"""Serving a variant: the bandit choice and the assignment, in two plain SQL statements."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.utils import timezone

from crucible import sql
from improvement import bandits
from improvement.models import Assignment, Experiment, Status, Variant, VariantBucket
from improvement.services._common import _hour

_rng = random.SystemRandom()

# The hot path is two statements: one read of the experiment and its active variants' running
# sums (no lock), one write of the assignment plus the hour's traffic counter. Both are plain SQL
# so the per-request cost stays close to the framework's floor (see benchmarks/improvement.py).
_STATE_SQL = f"""
SELECT e.id AS experiment_id, e.team_id, e.name AS experiment_name, e.status, e.strategy, e.epsilon, e.min_results,
       v.id AS variant_id, v.name AS variant_name, v.prompt, v.is_control, v.results_count, v.objective_count,
       v.objective_sum, v.agent_version_id, v.version_label, v.model_hints, v.input_schema, v.output_schema
FROM {Experiment._meta.db_table} e
LEFT JOIN {Variant._meta.db_table} v ON v.experiment_id = e.id AND v.retired_at IS NULL
WHERE e.team_id = ANY(%(teams)s) AND {{match}}
ORDER BY (e.team_id = %(prefer)s) DESC, e.id, v.id
"""
_STATE_BY_NAME = _STATE_SQL.format(match="e.name = %(ref)s")
_STATE_BY_ID = _STATE_SQL.format(match="e.id = %(ref)s")


class _StateRow(NamedTuple):
    """One row of ``_STATE_SQL``: the experiment, and one of its active variants (None fields when
    it has none)."""

    experiment_id: int
    team_id: int
    experiment_name: str
    status: str
    strategy: str
    epsilon: float
    min_results: int
    variant_id: int | None
    variant_name: str | None
    prompt: str | None
    is_control: bool | None
    results_count: int | None
    objective_count: int | None
    objective_sum: float | None
    agent_version_id: int | None
    version_label: str | None
    model_hints: dict | None
    input_schema: dict | None
    output_schema: dict | None


_SELECT_SQL = f"""
WITH a AS (
    INSERT INTO {Assignment._meta.db_table} (team_id, experiment_id, variant_id, created_at)
    VALUES (%(team)s, %(experiment)s, %(variant)s, %(now)s)
    RETURNING id
), b AS (
    INSERT INTO {VariantBucket._meta.db_table}
        (experiment_id, variant_id, bucket, assignments, results, successes, objective_sum)
    VALUES (%(experiment)s, %(variant)s, %(bucket)s, 1, 0, 0, 0)
    ON CONFLICT (variant_id, bucket)
    DO UPDATE SET assignments = {VariantBucket._meta.db_table}.assignments + 1
)
SELECT id FROM a
"""


def _json(value):
    # Django reads jsonb columns as text (JSONField decodes them); raw rows do the same here.
    return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Selection:
    assignment_id: int
    experiment_id: int
    experiment_name: str
    strategy: str
    variant: Variant  # id, name, prompt, is_control and the version parts loaded


def experiment_select(
    *,
    team_ids: list[int],
    name: str | None = None,
    experiment_id: int | None = None,
    prefer_team_id: int | None = None,
    rng: random.Random | None = None,
) -> Selection | None:
    """Serve a variant of the running experiment ``name`` (or ``experiment_id``) among ``team_ids``
    (``prefer_team_id``'s experiment first when names repeat across teams) and record the
    assignment. None when there is no such experiment; ValidationError when it is not running or
    has no active variant.

    Reads the variants' sums without locking anything (a result landing meanwhile only shifts the
    odds by one result), chooses with the experiment's strategy in Python, then inserts the
    assignment and bumps the hour's traffic counter in one statement. The experiment row is never
    locked or written, so selection scales with concurrent callers."""
    state_sql, ref = (_STATE_BY_ID, experiment_id) if experiment_id is not None else (_STATE_BY_NAME, name)
    rows = sql.fetch_rows(state_sql, {"teams": list(team_ids), "ref": ref, "prefer": prefer_team_id or 0}, _StateRow)
    if not rows:
        return None
    exp = rows[0]
    rows = [r for r in rows if r.experiment_id == exp.experiment_id and r.variant_id is not None]
    if exp.status != Status.RUNNING:
        raise ValidationError({"status": f"Only a running experiment serves variants; this one is {exp.status}."})
    if not rows:
        raise ValidationError({"variants": "This experiment has no active variant to serve."})
    arms = [bandits.Arm(r.variant_id, r.objective_count, r.objective_sum, r.results_count) for r in rows]
    chosen = bandits.choose(exp.strategy, arms, epsilon=exp.epsilon, min_results=exp.min_results, rng=rng or _rng)
    row = next(r for r in rows if r.variant_id == chosen.id)
    now = timezone.now()
    assignment = sql.fetch_one(
        _SELECT_SQL,
        {
            "team": exp.team_id,
            "experiment": exp.experiment_id,
            "variant": row.variant_id,
            "now": now,
            "bucket": _hour(now),
        },
    )
    variant = Variant(
        id=row.variant_id,
        team_id=exp.team_id,
        experiment_id=exp.experiment_id,
        name=row.variant_name,
        prompt=row.prompt,
        is_control=row.is_control,
        agent_version_id=row.agent_version_id,
        version_label=row.version_label,
        model_hints=_json(row.model_hints),
        input_schema=_json(row.input_schema),
        output_schema=_json(row.output_schema),
    )
    return Selection(assignment["id"], exp.experiment_id, exp.experiment_name, exp.strategy, variant)


def variant_select(*, experiment: Experiment, rng: random.Random | None = None) -> tuple[Variant, int]:
    """Serve a variant of ``experiment`` (see ``experiment_select``); returns (variant, assignment id)."""
    selection = experiment_select(team_ids=[experiment.team_id], experiment_id=experiment.pk, rng=rng)
    if selection is None:
        raise ValidationError({"experiment": "No such experiment."})
    return selection.variant, selection.assignment_id
