"""The fixed log-scale duration histogram kept in every execution rollup row.

Bucket 0 holds durations under 1 ms; bucket k (1..BUCKETS-2) holds [R**(k-1), R**k) ms with
R = 2**(1/6); the last bucket holds everything from 2**22 ms (about 70 minutes) up. A percentile
read from the histogram is the geometric middle of its bucket, so for durations between 1 ms and
2**22 ms it is within ``RELATIVE_ERROR`` (sqrt(R) - 1, about 5.95 %) of the exact nearest-rank
percentile; under 1 ms it is within 0.5 ms; beyond the top it is reported as 2**22 ms.
The scheme itself lives in ``crucible.histogram``; SQL twins: ``observability_hist_bucket`` and
``observability_hist_dense``.
"""

from crucible.histogram import LogScaleHistogram

HISTOGRAM = LogScaleHistogram(floor_ms=1.0, doublings=22, sql_prefix="observability")

STEPS_PER_DOUBLING = HISTOGRAM.steps
MAX_DOUBLINGS = HISTOGRAM.doublings
BUCKETS = HISTOGRAM.buckets  # 134
RATIO = HISTOGRAM.ratio
RELATIVE_ERROR = HISTOGRAM.relative_error
TOP_MS = HISTOGRAM.top_ms

bucket_of = HISTOGRAM.bucket_of
bucket_value = HISTOGRAM.bucket_value
bucket_bounds = HISTOGRAM.bucket_bounds
percentile = HISTOGRAM.percentile
percentiles = HISTOGRAM.percentiles
percentile_apart = HISTOGRAM.percentile_apart
empty = HISTOGRAM.empty
SUMS_SQL = HISTOGRAM.sums_sql()  # the group's histogram: ARRAY[sum(hist[1]), ...]::bigint[]
add = HISTOGRAM.add
copy = HISTOGRAM.copy

# SQL functions created by the migration; the rebuild and the benchmark use them.
SQL_FUNCTIONS = HISTOGRAM.sql_functions()
SQL_DROP = HISTOGRAM.sql_drop()
