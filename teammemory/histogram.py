"""The fixed log-scale build-duration histogram kept in every daily rollup row.

Same scheme as observability's execution histogram (``crucible.histogram``: six buckets per
doubling, a percentile is the geometric middle of the bucket holding the nearest-rank value).
Builds last minutes to hours, so the range starts at one second instead of one millisecond and
ends at 2**17 s (about 36 hours) instead of 70 minutes:

- bucket 0 holds durations under 1 s (reported as 0.5 s),
- bucket k (1..BUCKETS-2) holds [1000·R**(k-1), 1000·R**k) ms,
- the last bucket holds everything from 2**17 s up (reported as 2**17 s).

For durations between 1 s and 2**17 s a percentile read from the histogram is within
``RELATIVE_ERROR`` (sqrt(R) - 1, about 5.95 %) of the exact nearest-rank percentile
(``percentile_disc``); under 1 s it is within 0.5 s. SQL twins: ``teammemory_hist_bucket``,
``teammemory_hist_one_hot`` and ``teammemory_hist_dense``.
"""

from crucible.histogram import LogScaleHistogram

HISTOGRAM = LogScaleHistogram(floor_ms=1000.0, doublings=17, sql_prefix="teammemory", one_hot_sql=True)

STEPS_PER_DOUBLING = HISTOGRAM.steps
MAX_DOUBLINGS = HISTOGRAM.doublings
BUCKETS = HISTOGRAM.buckets  # 104
RATIO = HISTOGRAM.ratio
RELATIVE_ERROR = HISTOGRAM.relative_error
FLOOR_MS = HISTOGRAM.floor_ms
TOP_MS = HISTOGRAM.top_ms

bucket_of = HISTOGRAM.bucket_of
bucket_value = HISTOGRAM.bucket_value
percentile = HISTOGRAM.percentile
one_hot = HISTOGRAM.one_hot

# SQL functions created by migration 0004; rebuilds and partial-day edges use them.
SQL_FUNCTIONS = HISTOGRAM.sql_functions()
SQL_DROP = HISTOGRAM.sql_drop()
