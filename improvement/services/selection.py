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
from improvement.models import (
    BUCKET_SHARD_SQL,
    Assignment,
    Experiment,
    Status,
    Strategy,
    UnitAssignment,
    Variant,
    VariantBucket,
    VariantContext,
)
from improvement.services._common import _hour

_rng = random.SystemRandom()
UNIT_KEY_CHARS = 200
CONTEXT_CHARS = 100

# The hot path is two statements: one read of the experiment and its active variants' running
# sums (no lock), one write of the assignment plus the hour's traffic counter. Both are plain SQL
# so the per-request cost stays close to the framework's floor (see benchmarks/improvement.py).
# A returning unit (its sticky variant still active, the experiment running) needs no choice, so
# its assignment is written by the read itself: one statement (``_UNIT_STATE_SQL``).
_STATE_COLUMNS = """e.id AS experiment_id, e.team_id, e.name AS experiment_name, e.status, e.strategy, e.epsilon,
       e.min_results, v.id AS variant_id, v.name AS variant_name, v.prompt, v.is_control, v.results_count,
       v.objective_count, v.objective_sum, v.agent_version_id, v.version_label, v.model_hints, v.input_schema,
       v.output_schema"""
_STATE_SQL = f"""
SELECT {_STATE_COLUMNS}, NULL::bigint AS unit_variant_id, {{context_cols}}, NULL::bigint AS assignment_id
FROM {Experiment._meta.db_table} e
LEFT JOIN {Variant._meta.db_table} v ON v.experiment_id = e.id AND v.retired_at IS NULL{{context_join}}
WHERE e.team_id = ANY(%(teams)s) AND {{match}}
ORDER BY (e.team_id = %(prefer)s) DESC, e.id, v.id
"""
# With a unit key: the experiment, the unit's sticky variant (an index lookup) and, when that
# variant is still active and the experiment running, the assignment and the hour's traffic
# counter written for it (``kept``); otherwise nothing is written and the caller chooses.
_UNIT_STATE_SQL = f"""
WITH e AS (
    SELECT e.id, e.team_id, e.name, e.status, e.strategy, e.epsilon, e.min_results
    FROM {Experiment._meta.db_table} e
    WHERE e.team_id = ANY(%(teams)s) AND {{match}}
    ORDER BY (e.team_id = %(prefer)s) DESC, e.id
    LIMIT 1
), u AS (
    SELECT u.variant_id FROM {UnitAssignment._meta.db_table} u JOIN e ON u.experiment_id = e.id
    WHERE u.unit_key = %(unit)s
), kept AS (
    SELECT e.team_id, e.id AS experiment_id, v.id AS variant_id
    FROM e JOIN u ON true JOIN {Variant._meta.db_table} v ON v.id = u.variant_id AND v.experiment_id = e.id
    WHERE e.status = '{Status.RUNNING.value}' AND v.retired_at IS NULL
), a AS (
    INSERT INTO {Assignment._meta.db_table} (team_id, experiment_id, variant_id, created_at, context)
    SELECT team_id, experiment_id, variant_id, %(now)s, %(context)s FROM kept
    RETURNING id
), b AS ({{bucket_upsert}})
SELECT {_STATE_COLUMNS}, (SELECT variant_id FROM u) AS unit_variant_id, {{context_cols}},
       (SELECT id FROM a) AS assignment_id
FROM e
LEFT JOIN {Variant._meta.db_table} v ON v.experiment_id = e.id AND v.retired_at IS NULL{{context_join}}
ORDER BY v.id
"""
# With a context, the variants' sums within that context bucket come along (Thompson per bucket).
_CONTEXT_JOIN = f"""
LEFT JOIN {VariantContext._meta.db_table} c ON c.variant_id = v.id AND c.context = %(context)s"""
_CONTEXT_COLUMNS = {
    True: "c.results AS context_results, c.objective_count AS context_objective_count, "
    "c.objective_sum AS context_objective_sum",
    False: "NULL::bigint AS context_results, NULL::bigint AS context_objective_count, "
    "NULL::float AS context_objective_sum",
}


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
    unit_variant_id: int | None  # the unit's sticky variant (None without a unit key, or a new unit)
    context_results: int | None  # the variant's sums within the select's context (None: none yet)
    context_objective_count: int | None
    context_objective_sum: float | None
    assignment_id: int | None  # the returning unit's assignment, written by the read (else None)


_BUCKET_UPSERT = f"""
    INSERT INTO {VariantBucket._meta.db_table}
        (experiment_id, variant_id, bucket, assignments, results, successes, objective_sum, uniform_draws, greedy_draws,
         shard)
    {{source}}
    ON CONFLICT (variant_id, bucket, shard)
    DO UPDATE SET assignments = {VariantBucket._meta.db_table}.assignments + 1,
        uniform_draws = {VariantBucket._meta.db_table}.uniform_draws + EXCLUDED.uniform_draws,
        greedy_draws = {VariantBucket._meta.db_table}.greedy_draws + EXCLUDED.greedy_draws
"""
_SELECT_SQL = f"""
WITH a AS (
    INSERT INTO {Assignment._meta.db_table} (team_id, experiment_id, variant_id, created_at, context)
    VALUES (%(team)s, %(experiment)s, %(variant)s, %(now)s, %(context)s)
    RETURNING id, variant_id
), b AS ({
    _BUCKET_UPSERT.format(
        source=f"VALUES (%(experiment)s, %(variant)s, %(bucket)s, 1, 0, 0, 0, %(uniform)s, %(greedy)s, {BUCKET_SHARD_SQL})"
    )
})
SELECT id, variant_id FROM a
"""
# A unit seen for the first time (or whose variant was retired: ``stale``): claim its sticky row
# and, only if the claim won, write the assignment and the traffic counter, all in one statement.
# An empty answer means a concurrent request claimed the unit first; its variant is then read.
_UNIT_SELECT_SQL = f"""
WITH u AS (
    INSERT INTO {UnitAssignment._meta.db_table} AS t (experiment_id, unit_key, variant_id, created_at)
    VALUES (%(experiment)s, %(unit)s, %(variant)s, %(now)s)
    ON CONFLICT (experiment_id, unit_key) DO UPDATE SET variant_id = EXCLUDED.variant_id
    WHERE t.variant_id = %(stale)s
    RETURNING variant_id
), a AS (
    INSERT INTO {Assignment._meta.db_table} (team_id, experiment_id, variant_id, created_at, context)
    SELECT %(team)s, %(experiment)s, variant_id, %(now)s, %(context)s FROM u
    RETURNING id, variant_id
), b AS ({
    _BUCKET_UPSERT.format(
        source=f"SELECT %(experiment)s, variant_id, %(bucket)s, 1, 0, 0, 0, %(uniform)s, %(greedy)s, {BUCKET_SHARD_SQL} FROM u"
    )
})
SELECT id, variant_id FROM a
"""
_UNIT_READ_SQL = f"SELECT variant_id FROM {UnitAssignment._meta.db_table} WHERE experiment_id = %(experiment)s AND unit_key = %(unit)s"
_STATE = {
    (by_id, with_unit, with_context): (_UNIT_STATE_SQL if with_unit else _STATE_SQL).format(
        match="e.id = %(ref)s" if by_id else "e.name = %(ref)s",
        context_cols=_CONTEXT_COLUMNS[with_context],
        context_join=_CONTEXT_JOIN if with_context else "",
        bucket_upsert=_BUCKET_UPSERT.format(
            source=f"SELECT experiment_id, variant_id, %(bucket)s, 1, 0, 0, 0, 0, 0, {BUCKET_SHARD_SQL} FROM kept"
        ),
    )
    for by_id in (False, True)
    for with_unit in (False, True)
    for with_context in (False, True)
}


def _json(value):
    # Django reads jsonb columns as text (JSONField decodes them); raw rows do the same here.
    return json.loads(value) if isinstance(value, str) else value


class ServedVariant(NamedTuple):
    """What the caller of a select needs of the variant served (a plain row: building a model
    instance was a twentieth of a select's Python)."""

    id: int
    name: str
    prompt: str
    is_control: bool
    agent_version_id: int | None
    version_label: str
    model_hints: dict | None
    input_schema: dict | None
    output_schema: dict | None

    @property
    def pk(self) -> int:
        return self.id


@dataclass(frozen=True)
class Selection:
    assignment_id: int
    experiment_id: int
    experiment_name: str
    strategy: str
    variant: ServedVariant
    unit: str | None = None  # the unit key, when the caller sent one
    returning_unit: bool = False  # the unit already had this variant (sticky)


def experiment_select(
    *,
    team_ids: list[int],
    name: str | None = None,
    experiment_id: int | None = None,
    prefer_team_id: int | None = None,
    unit: str | None = None,
    context: str | None = None,
    rng: random.Random | None = None,
) -> Selection | None:
    """Serve a variant of the running experiment ``name`` (or ``experiment_id``) among ``team_ids``
    (``prefer_team_id``'s experiment first when names repeat across teams) and record the
    assignment. None when there is no such experiment; ValidationError when it is not running or
    has no active variant.

    With a ``unit`` key (an end user, a session, a build) the unit keeps the variant it was first
    given for the experiment's life (across processes and restarts: the choice is a row unique on
    experiment and unit); the bandit's reweighting only changes what new units get. A unit whose
    variant was retired is given a new one. Without a key, every call is a fresh draw.

    Reads the variants' sums without locking anything (a result landing meanwhile only shifts the
    odds by one result), chooses with the experiment's strategy in Python, then inserts the
    assignment and bumps the hour's traffic counter in one statement. A returning unit's read
    writes its assignment and counter itself (one statement in all). The experiment row is never
    locked or written, so selection scales with concurrent callers."""
    if unit is not None and (not isinstance(unit, str) or not unit.strip() or len(unit) > UNIT_KEY_CHARS):
        raise ValidationError({"unit": f"A unit key is a non-empty text of at most {UNIT_KEY_CHARS} characters."})
    if context is not None and (not isinstance(context, str) or not context.strip() or len(context) > CONTEXT_CHARS):
        raise ValidationError({"context": f"A context is a non-empty text of at most {CONTEXT_CHARS} characters."})
    state_sql = _STATE[(experiment_id is not None, unit is not None, context is not None)]
    now = timezone.now()
    values = {
        "teams": list(team_ids),
        "ref": experiment_id if experiment_id is not None else name,
        "prefer": prefer_team_id or 0,
        "now": now,
        "bucket": _hour(now),
        "unit": unit,
        "context": context or "",  # the bucket's sums are joined only when a context was sent
    }
    rows = sql.fetch_rows(state_sql, values, _StateRow)
    if not rows:
        return None
    exp = rows[0]
    rows = [r for r in rows if r.experiment_id == exp.experiment_id and r.variant_id is not None]
    if exp.status != Status.RUNNING:
        raise ValidationError({"status": f"Only a running experiment serves variants; this one is {exp.status}."})
    if not rows:
        raise ValidationError({"variants": "This experiment has no active variant to serve."})
    by_id = {r.variant_id: r for r in rows}
    values |= {"team": exp.team_id, "experiment": exp.experiment_id}
    kept = exp.unit_variant_id if exp.unit_variant_id in by_id else None
    if kept is not None:  # a returning unit: the read has written its assignment
        assignment = {"id": exp.assignment_id, "variant_id": kept}
    else:
        if context is not None and exp.strategy == Strategy.THOMPSON:
            arms = [
                bandits.Arm(
                    r.variant_id, r.context_objective_count or 0, r.context_objective_sum or 0.0, r.context_results or 0
                )
                for r in rows
            ]
        else:
            arms = [bandits.Arm(r.variant_id, r.objective_count, r.objective_sum, r.results_count) for r in rows]
        chosen, kind = bandits.choose_with_kind(
            exp.strategy, arms, epsilon=exp.epsilon, min_results=exp.min_results, rng=rng or _rng
        )
        draw = values | {
            "variant": chosen.id,
            "uniform": int(kind == bandits.UNIFORM),
            "greedy": int(kind == bandits.GREEDY),
            "stale": exp.unit_variant_id or 0,
        }
        assignment = sql.fetch_one(_UNIT_SELECT_SQL if unit is not None else _SELECT_SQL, draw)
        if assignment is None:  # a concurrent request claimed this unit first: serve its variant
            claimed = sql.fetch_one(_UNIT_READ_SQL, values)["variant_id"]
            kept = claimed if claimed in by_id else chosen.id
            assignment = sql.fetch_one(_SELECT_SQL, values | {"variant": kept, "uniform": 0, "greedy": 0})
    row = by_id[assignment["variant_id"]]
    variant = ServedVariant(
        row.variant_id,
        row.variant_name,
        row.prompt,
        row.is_control,
        row.agent_version_id,
        row.version_label,
        _json(row.model_hints),
        _json(row.input_schema),
        _json(row.output_schema),
    )
    return Selection(
        assignment["id"], exp.experiment_id, exp.experiment_name, exp.strategy, variant, unit, kept is not None
    )


def variant_select(
    *, experiment: Experiment, unit: str | None = None, context: str | None = None, rng: random.Random | None = None
) -> tuple[Variant, int]:
    """Serve a variant of ``experiment`` (see ``experiment_select``); returns (variant, assignment id)."""
    selection = experiment_select(
        team_ids=[experiment.team_id], experiment_id=experiment.pk, unit=unit, context=context, rng=rng
    )
    if selection is None:
        raise ValidationError({"experiment": "No such experiment."})
    served = selection.variant
    variant = Variant(team_id=experiment.team_id, experiment_id=experiment.pk, **served._asdict())
    return variant, selection.assignment_id
