"""Observability settings, read from the environment (defaults in brackets in docs/observability.md).

Every threshold the dashboards, regressions and recommendations use lives here, so an operator can
tune them without touching code. Tests change them by patching attributes of this module.
"""

from crucible.env import env_float, env_int

# --- Ingest -------------------------------------------------------------------------------
# Events accepted in one batch request (more answers 413).
MAX_BATCH_EVENTS = env_int("CRUCIBLE_OBS_MAX_BATCH_EVENTS", 1000)
# An event may start at most this many seconds in the future (clock skew allowance).
MAX_FUTURE_SECONDS = env_int("CRUCIBLE_OBS_MAX_FUTURE_SECONDS", 300)
# Spans accepted in one OTLP export request.
MAX_OTLP_SPANS = env_int("CRUCIBLE_OBS_MAX_OTLP_SPANS", 5000)

# A span's input, output and attributes are each cut to this many bytes of JSON (with a flag).
TRACE_PAYLOAD_MAX_BYTES = env_int("CRUCIBLE_TRACE_PAYLOAD_MAX_BYTES", 65536)

# --- Retention ----------------------------------------------------------------------------
# Raw executions older than this many days are deleted by `manage.py observability_retention`;
# rollups stay. Events older than this are refused at ingest (their raw row would be deleted at
# once, and a retry could no longer be recognised as a duplicate).
RETENTION_DAYS = env_int("CRUCIBLE_OBS_RETENTION_DAYS", 90)
# Span inputs and outputs (SpanPayload) are deleted after this many days, the span itself stays.
TRACE_PAYLOAD_RETENTION_DAYS = env_int("CRUCIBLE_TRACE_PAYLOAD_RETENTION_DAYS", 30)
# Executions, payloads and rollups are partitioned by month: the worker creates the partitions
# this many months ahead (daily, observability.partitions_ensure); a default partition catches the rest.
PARTITION_MONTHS_AHEAD = env_int("CRUCIBLE_OBS_PARTITION_MONTHS_AHEAD", 3)

# --- Analysis thresholds ------------------------------------------------------------------
# An agent needs this many executions in the period before any rule judges it.
MIN_EXECUTIONS = env_int("CRUCIBLE_OBS_MIN_EXECUTIONS", 20)
# Slow agent: p95 at least this many times the fleet's p95 ...
SLOW_P95_RATIO = env_float("CRUCIBLE_OBS_SLOW_P95_RATIO", 2.0)
# ... and at least this many milliseconds.
SLOW_P95_MIN_MS = env_float("CRUCIBLE_OBS_SLOW_P95_MIN_MS", 5000.0)
# Failing agent: error rate at or above this (0..1).
FAILING_ERROR_RATE = env_float("CRUCIBLE_OBS_FAILING_ERROR_RATE", 0.10)
# Token-heavy prompt: input tokens per execution at least this many times the fleet median ...
TOKEN_HEAVY_RATIO = env_float("CRUCIBLE_OBS_TOKEN_HEAVY_RATIO", 3.0)
# ... and at least this many input tokens per execution.
TOKEN_HEAVY_MIN_INPUT = env_int("CRUCIBLE_OBS_TOKEN_HEAVY_MIN_INPUT", 4000)
# Expensive model: another model of the same agent costs at most this fraction per execution ...
CHEAPER_COST_RATIO = env_float("CRUCIBLE_OBS_CHEAPER_COST_RATIO", 0.5)
# ... with a success rate no more than this many points (0..1) lower.
SIMILAR_SUCCESS_DELTA = env_float("CRUCIBLE_OBS_SIMILAR_SUCCESS_DELTA", 0.03)
# Regression: p95 grew by this factor, ...
REGRESSION_P95_RATIO = env_float("CRUCIBLE_OBS_REGRESSION_P95_RATIO", 1.3)
# ... or the error rate rose by this many points (0..1), ...
REGRESSION_ERROR_DELTA = env_float("CRUCIBLE_OBS_REGRESSION_ERROR_DELTA", 0.05)
# ... or tokens per execution grew by this factor.
REGRESSION_TOKENS_RATIO = env_float("CRUCIBLE_OBS_REGRESSION_TOKENS_RATIO", 1.3)

# --- Trace reads --------------------------------------------------------------------------
# Full-text search in span inputs and outputs needs a time window: this many days when none is
# given, and at most this many days.
SEARCH_DEFAULT_DAYS = env_int("CRUCIBLE_OBS_SEARCH_DEFAULT_DAYS", 7)
SEARCH_MAX_DAYS = env_int("CRUCIBLE_OBS_SEARCH_MAX_DAYS", 31)
# Spans of one trace shown by the trace API and page (a larger trace is cut, and says so).
TRACE_MAX_SPANS = env_int("CRUCIBLE_OBS_TRACE_MAX_SPANS", 10000)

# Minute rollups (the live view's last hour, the edges of alert windows: keep 25 or more, or a day's
# window reads its older minutes from raw executions) are kept this many hours, purged daily.
MINUTE_RETENTION_HOURS = env_int("CRUCIBLE_OBS_MINUTE_RETENTION_HOURS", 48)

# --- Pages --------------------------------------------------------------------------------
# The live view (/observability/live/) fetches its figures again every this many seconds.
LIVE_REFRESH_SECONDS = env_int("CRUCIBLE_OBS_LIVE_REFRESH_SECONDS", 15)

# --- Alert rules scoped by a tag ---------------------------------------------------------------
# Rollups have no tag dimension: a tag-scoped rule reads the tagged executions of its window. When
# a tick's windows hold more tagged executions than this for one tag, its rules are not judged at
# that tick (their state is kept and the rule's page says why): the cost of a tick stays bounded.
ALERT_TAG_MAX_ROWS = env_int("CRUCIBLE_OBS_ALERT_TAG_MAX_ROWS", 1_000_000)
