"""Writes of the improvement app, one module per topic: experiments, variants, selection,
results, promotion (conclusion and promotion of the winner), guardrails (automatic stop),
rollouts (guarded rollout of a promoted winner).

Counters move only in the database (``F()`` updates and ``INSERT ... ON CONFLICT DO UPDATE``), so
concurrent results and selections stay exact. Selection reads statistics without locking anything
and writes one small assignment row (plus a traffic counter for the hour) in one statement.

The names below are re-exported so ``from improvement import services`` keeps working.
"""

from improvement.services._common import RESULT_COST_PLACES
from improvement.services.experiments import (
    EXPERIMENT_FIELDS,
    MAX_MIN_RESULTS,
    MAX_WEIGHT,
    OBJECTIVE_FIELDS,
    experiment_create,
    experiment_pause,
    experiment_start,
    experiment_update,
    experiment_validate,
)
from improvement.services.guardrails import experiment_srm_check, experiments_trust_check, guardrails_enforce
from improvement.services.promotion import experiment_conclude, experiment_promote
from improvement.services.results import objective_score, result_record, results_check, results_record_bulk
from improvement.services.rollouts import (
    rollout_check,
    rollout_executions_record,
    rollout_results_record,
    rollout_start,
    rollouts_advance_due,
)
from improvement.services.selection import Selection, experiment_select, variant_select
from improvement.services.variants import variant_create, variant_retire, variant_update
from improvement.services.versions import (
    VersionVariant,
    experiment_for_source,
    experiment_upgrade_start,
    experiment_versions_start,
)

__all__ = [
    "EXPERIMENT_FIELDS",
    "MAX_MIN_RESULTS",
    "MAX_WEIGHT",
    "OBJECTIVE_FIELDS",
    "RESULT_COST_PLACES",
    "Selection",
    "VersionVariant",
    "experiment_conclude",
    "experiment_create",
    "experiment_for_source",
    "experiment_pause",
    "experiment_promote",
    "experiment_select",
    "experiment_srm_check",
    "experiments_trust_check",
    "experiment_start",
    "experiment_update",
    "experiment_upgrade_start",
    "experiment_validate",
    "guardrails_enforce",
    "experiment_versions_start",
    "objective_score",
    "result_record",
    "results_check",
    "results_record_bulk",
    "rollout_check",
    "rollout_executions_record",
    "rollout_results_record",
    "rollout_start",
    "rollouts_advance_due",
    "variant_create",
    "variant_retire",
    "variant_select",
    "variant_update",
]
