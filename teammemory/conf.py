"""Team memory settings, read from the environment (every one is documented in docs/teammemory.md)."""

from crucible.env import env_float, env_int

# --- Input limits ----------------------------------------------------------------------------
MAX_REQUIREMENTS_CHARS = env_int("CRUCIBLE_TEAMMEMORY_MAX_REQUIREMENTS_CHARS", 20_000)
MAX_COMPONENTS = env_int("CRUCIBLE_TEAMMEMORY_MAX_COMPONENTS", 12)
MAX_AGENTS_PER_BUILD = env_int("CRUCIBLE_TEAMMEMORY_MAX_AGENTS_PER_BUILD", 50)
MAX_ERRORS_PER_BUILD = env_int("CRUCIBLE_TEAMMEMORY_MAX_ERRORS_PER_BUILD", 200)
MAX_EXECUTIONS_PER_BUILD = env_int("CRUCIBLE_TEAMMEMORY_MAX_EXECUTIONS_PER_BUILD", 1000)

# --- Insights --------------------------------------------------------------------------------
# Range used when the caller names none (days back from now).
INSIGHTS_DEFAULT_DAYS = env_int("CRUCIBLE_TEAMMEMORY_INSIGHTS_DEFAULT_DAYS", 90)
# Rows shown in "by stack", "by component", "top errors" and "agents".
INSIGHTS_TOP_N = env_int("CRUCIBLE_TEAMMEMORY_INSIGHTS_TOP_N", 10)
# Below this many builds a group (stack, component, agent version) is flagged as a small sample.
MIN_SAMPLE = env_int("CRUCIBLE_TEAMMEMORY_MIN_SAMPLE", 10)

# --- Quality trend ---------------------------------------------------------------------------
# A trend needs at least this many weeks with builds before it can be called significant.
TREND_MIN_WEEKS = env_int("CRUCIBLE_TEAMMEMORY_TREND_MIN_WEEKS", 4)
# Two-sided significance level of the slope's t-test.
TREND_ALPHA = env_float("CRUCIBLE_TEAMMEMORY_TREND_ALPHA", 0.05)

# --- Stack suggestion ------------------------------------------------------------------------
# Similar builds considered (best similarity first) and the fewest that count as "enough history".
SUGGEST_SIMILAR_LIMIT = env_int("CRUCIBLE_TEAMMEMORY_SUGGEST_SIMILAR_LIMIT", 200)
# Candidates whose similarity is computed: the most recent builds sharing a word or a component
# with the request (bounds the cost of a suggestion however long the history is).
SUGGEST_CANDIDATES = env_int("CRUCIBLE_TEAMMEMORY_SUGGEST_CANDIDATES", 5000)
SUGGEST_MIN_SIMILAR = env_int("CRUCIBLE_TEAMMEMORY_SUGGEST_MIN_SIMILAR", 5)
# A past build is "similar" from this combined similarity (0-1) on.
SUGGEST_MIN_SIMILARITY = env_float("CRUCIBLE_TEAMMEMORY_SUGGEST_MIN_SIMILARITY", 0.05)
# Weight of text similarity against component overlap in the combined similarity.
SUGGEST_TEXT_WEIGHT = env_float("CRUCIBLE_TEAMMEMORY_SUGGEST_TEXT_WEIGHT", 0.7)
# Only builds of the last N days are searched (0: all of them).
SUGGEST_LOOKBACK_DAYS = env_int("CRUCIBLE_TEAMMEMORY_SUGGEST_LOOKBACK_DAYS", 365)
# z of the Wilson lower bound (1.96: 95 % confidence).
WILSON_Z = env_float("CRUCIBLE_TEAMMEMORY_WILSON_Z", 1.96)
# Distinct words of the requirements a suggestion reads (its cost grows with them).
SUGGEST_MAX_TERMS = env_int("CRUCIBLE_TEAMMEMORY_SUGGEST_MAX_TERMS", 64)
# Evidence builds listed under each suggestion.
SUGGEST_EVIDENCE_BUILDS = env_int("CRUCIBLE_TEAMMEMORY_SUGGEST_EVIDENCE_BUILDS", 5)

# --- Recommendations -------------------------------------------------------------------------
RECO_MIN_BUILDS = env_int("CRUCIBLE_TEAMMEMORY_RECO_MIN_BUILDS", 20)
RECO_FAILURE_RATE = env_float("CRUCIBLE_TEAMMEMORY_RECO_FAILURE_RATE", 0.35)
RECO_ERROR_MIN_BUILDS = env_int("CRUCIBLE_TEAMMEMORY_RECO_ERROR_MIN_BUILDS", 5)
RECO_ERROR_MIN_SHARE = env_float("CRUCIBLE_TEAMMEMORY_RECO_ERROR_MIN_SHARE", 0.10)
RECO_SLOW_P90_SECONDS = env_int("CRUCIBLE_TEAMMEMORY_RECO_SLOW_P90_SECONDS", 1800)
RECO_SLOW_STACK_FACTOR = env_float("CRUCIBLE_TEAMMEMORY_RECO_SLOW_STACK_FACTOR", 2.0)
RECO_AGENT_SUCCESS_GAP = env_float("CRUCIBLE_TEAMMEMORY_RECO_AGENT_SUCCESS_GAP", 0.15)
RECO_AGENT_QUALITY_GAP = env_float("CRUCIBLE_TEAMMEMORY_RECO_AGENT_QUALITY_GAP", 10.0)
RECO_FLAKY_WINDOW_HOURS = env_int("CRUCIBLE_TEAMMEMORY_RECO_FLAKY_WINDOW_HOURS", 24)
RECO_FLAKY_MIN_FLIPS = env_int("CRUCIBLE_TEAMMEMORY_RECO_FLAKY_MIN_FLIPS", 3)
# ... and at least this many flips per decided build of the stack.
RECO_FLAKY_MIN_RATE = env_float("CRUCIBLE_TEAMMEMORY_RECO_FLAKY_MIN_RATE", 0.05)
# Flaky-stack detection reads raw builds, so it is bounded: the last N days of the range ...
RECO_FLAKY_LOOKBACK_DAYS = env_int("CRUCIBLE_TEAMMEMORY_RECO_FLAKY_LOOKBACK_DAYS", 30)
# ... and at most this many of their most recent decided builds.
RECO_FLAKY_MAX_BUILDS = env_int("CRUCIBLE_TEAMMEMORY_RECO_FLAKY_MAX_BUILDS", 10_000)
