"""The fixed log-scale build-duration histogram kept in every daily rollup row.

Same scheme as observability's execution histogram (``observability/histogram.py``): buckets grow
by R = 2**(1/6) (six per doubling) and a percentile is the geometric middle of the bucket holding
the nearest-rank value. Builds last minutes to hours, so the range starts at one second instead of
one millisecond and ends at 2**17 s (about 36 hours) instead of 70 minutes:

- bucket 0 holds durations under 1 s (reported as 0.5 s),
- bucket k (1..BUCKETS-2) holds [1000·R**(k-1), 1000·R**k) ms,
- the last bucket holds everything from 2**17 s up (reported as 2**17 s).

For durations between 1 s and 2**17 s a percentile read from the histogram is within
``RELATIVE_ERROR`` (sqrt(R) - 1, about 5.95 %) of the exact nearest-rank percentile
(``percentile_disc``); under 1 s it is within 0.5 s.

The same formula runs in Python (build_record's upsert) and in SQL (``teammemory_hist_bucket``,
used by the rebuild and the partial-day edges of a range), with the same float constant, so both
place a duration in the same bucket.
"""

from __future__ import annotations

import math

STEPS_PER_DOUBLING = 6
MAX_DOUBLINGS = 17
BUCKETS = STEPS_PER_DOUBLING * MAX_DOUBLINGS + 2  # 104
RATIO = 2 ** (1 / STEPS_PER_DOUBLING)
RELATIVE_ERROR = math.sqrt(RATIO) - 1
FLOOR_MS = 1000.0
TOP_MS = FLOOR_MS * 2**MAX_DOUBLINGS
# log_R(d / 1000) = ln(d / 1000) * SCALE. Written out so SQL uses the very same double.
SCALE = STEPS_PER_DOUBLING / math.log(2)
SCALE_SQL = repr(SCALE)


def bucket_of(duration_ms: float) -> int:
    if duration_ms < FLOOR_MS:
        return 0
    if duration_ms >= TOP_MS:
        return BUCKETS - 1
    return min(BUCKETS - 2, 1 + math.floor(math.log(duration_ms / FLOOR_MS) * SCALE))


def bucket_value(index: int) -> float:
    """The value reported for a bucket: its geometric middle (0.5 s for the first, the floor of
    the last)."""
    if index <= 0:
        return FLOOR_MS / 2
    if index >= BUCKETS - 1:
        return TOP_MS
    return FLOOR_MS * RATIO ** (index - 1) * math.sqrt(RATIO)


def percentile(hist, q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0..1) from a histogram (sequence of counts)."""
    counts = [int(c or 0) for c in hist or []]
    total = sum(counts)
    if total <= 0:
        return None
    rank = max(1, math.ceil(q * total))
    running = 0
    for index, count in enumerate(counts):
        running += count
        if running >= rank:
            return bucket_value(index)
    return bucket_value(len(counts) - 1)


def one_hot(duration_ms: float) -> list[int]:
    hist = [0] * BUCKETS
    hist[bucket_of(duration_ms)] = 1
    return hist


# SQL functions created by migration 0004; rebuilds and partial-day edges use them.
SQL_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION teammemory_hist_bucket(d double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN d < {FLOOR_MS!r} THEN 0
              WHEN d >= {TOP_MS!r} THEN {BUCKETS - 1}
              ELSE least({BUCKETS - 2}, 1 + floor(ln(d / {FLOOR_MS!r}) * {SCALE_SQL}::double precision)::integer) END
$$;
CREATE OR REPLACE FUNCTION teammemory_hist_one_hot(d double precision) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT array_fill(0::bigint, ARRAY[teammemory_hist_bucket(d)]) || 1::bigint
         || array_fill(0::bigint, ARRAY[{BUCKETS - 1} - teammemory_hist_bucket(d)])
$$;
CREATE OR REPLACE FUNCTION teammemory_hist_dense(idx integer[], cnt bigint[]) RETURNS bigint[]
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
DROP FUNCTION IF EXISTS teammemory_hist_dense(integer[], bigint[]);
DROP FUNCTION IF EXISTS teammemory_hist_one_hot(double precision);
DROP FUNCTION IF EXISTS teammemory_hist_bucket(double precision);
"""
