"""The fixed log-scale duration histogram kept in every rollup row.

Bucket 0 holds durations under 1 ms; bucket k (1..BUCKETS-2) holds [R**(k-1), R**k) ms with
R = 2**(1/6); the last bucket holds everything from 2**22 ms (about 70 minutes) up. A percentile
read from the histogram is the geometric middle of its bucket, so for durations between 1 ms and
2**22 ms it is within ``RELATIVE_ERROR`` (sqrt(R) - 1, about 5.9 %) of the exact nearest-rank
percentile; under 1 ms it is within 0.5 ms; beyond the top it is reported as 2**22 ms.

The same formula runs in Python (ingest) and in SQL (``observability_hist_bucket``, rebuild), with
the same float constant, so both place a duration in the same bucket.
"""

from __future__ import annotations

import math

STEPS_PER_DOUBLING = 6
MAX_DOUBLINGS = 22
BUCKETS = STEPS_PER_DOUBLING * MAX_DOUBLINGS + 2  # 134
RATIO = 2 ** (1 / STEPS_PER_DOUBLING)
RELATIVE_ERROR = math.sqrt(RATIO) - 1
TOP_MS = float(2**MAX_DOUBLINGS)
# log_R(d) = ln(d) * SCALE. Written out so SQL uses the very same double.
SCALE = STEPS_PER_DOUBLING / math.log(2)
SCALE_SQL = repr(SCALE)


def bucket_of(duration_ms: float) -> int:
    if duration_ms < 1.0:
        return 0
    if duration_ms >= TOP_MS:
        return BUCKETS - 1
    return min(BUCKETS - 2, 1 + math.floor(math.log(duration_ms) * SCALE))


def bucket_value(index: int) -> float:
    """The value reported for a bucket: its geometric middle (0.5 ms for the first, the floor of
    the last)."""
    if index <= 0:
        return 0.5
    if index >= BUCKETS - 1:
        return TOP_MS
    return RATIO ** (index - 1) * math.sqrt(RATIO)


def bucket_bounds(index: int) -> tuple[float, float]:
    if index <= 0:
        return 0.0, 1.0
    if index >= BUCKETS - 1:
        return TOP_MS, math.inf
    return RATIO ** (index - 1), RATIO**index


def percentile(hist, q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0..1) from a histogram (sequence of counts)."""
    total = sum(hist)
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    running = 0
    for index, count in enumerate(hist):
        running += count
        if running >= rank:
            return bucket_value(index)
    return bucket_value(len(hist) - 1)


def percentiles(hist, qs=(0.5, 0.95, 0.99)) -> dict[str, float | None]:
    return {f"p{round(q * 100)}": percentile(hist, q) for q in qs}


def empty() -> list[int]:
    return [0] * BUCKETS


def add(into: list[int], other) -> list[int]:
    for i, value in enumerate(other):
        into[i] += int(value)
    return into


# SQL functions created by the migration; the rebuild and the benchmark use them.
SQL_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION observability_hist_bucket(d double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN d < 1 THEN 0
              WHEN d >= {TOP_MS!r} THEN {BUCKETS - 1}
              ELSE least({BUCKETS - 2}, 1 + floor(ln(d) * {SCALE_SQL}::double precision)::integer) END
$$;
CREATE OR REPLACE FUNCTION observability_hist_dense(idx integer[], cnt bigint[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  result bigint[] := array_fill(0::bigint, ARRAY[{BUCKETS}]);
  i integer;
BEGIN
  FOR i IN 1 .. coalesce(array_length(idx, 1), 0) LOOP
    result[idx[i] + 1] := result[idx[i] + 1] + cnt[i];
  END LOOP;
  RETURN result;
END
$$;
"""

SQL_DROP = """
DROP FUNCTION IF EXISTS observability_hist_dense(integer[], bigint[]);
DROP FUNCTION IF EXISTS observability_hist_bucket(double precision);
"""
