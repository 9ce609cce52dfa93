"""Improvement settings, read from the environment (defaults in brackets in docs/improvement.md)."""

from crucible.env import env_float, env_int

# A variant is named the winner only when its probability of being best reaches this.
WIN_PROBABILITY = env_float("CRUCIBLE_IMPROVEMENT_WIN_PROBABILITY", 0.95)
# Confidence level of the intervals shown in reports (objective mean, Wilson success interval).
CONFIDENCE = env_float("CRUCIBLE_IMPROVEMENT_CONFIDENCE", 0.95)
# Monte Carlo draws per variant for the probability of being best (seeded, so reports are stable).
MC_DRAWS = env_int("CRUCIBLE_IMPROVEMENT_MC_DRAWS", 4000)
# Most variants an experiment may have (selection and reports stay small).
MAX_VARIANTS = env_int("CRUCIBLE_IMPROVEMENT_MAX_VARIANTS", 20)
# Most results in one POST to the results endpoint.
MAX_RESULTS_PER_REQUEST = env_int("CRUCIBLE_IMPROVEMENT_MAX_RESULTS_PER_REQUEST", 1000)
# Sample size at which the always-valid confidence sequences are tightest (improvement.sequential).
SEQUENTIAL_N_OPT = env_int("CRUCIBLE_IMPROVEMENT_SEQUENTIAL_N_OPT", 500)
# Hours between the steps of a guarded rollout (5% -> 25% -> 50% -> 100%) when guardrails hold.
ROLLOUT_STEP_HOURS = env_float("CRUCIBLE_IMPROVEMENT_ROLLOUT_STEP_HOURS", 24.0)
