"""Fixed log-scale histograms for durations, shared by the rollups of observability and team memory.

Bucket 0 holds values under ``floor_ms``; bucket k (1..buckets-2) holds
[floor·R**(k-1), floor·R**k) with R = 2**(1/steps_per_doubling); the last bucket holds everything
from floor·2**doublings up. A percentile read from the histogram is the geometric middle of the
bucket holding the nearest-rank value, so between the floor and the top it is within
``relative_error`` (sqrt(R) - 1: about 5.95 % with six steps per doubling) of the exact
nearest-rank percentile.

The same formula runs in Python (on write) and in SQL (functions ``<prefix>_hist_bucket`` and
``<prefix>_hist_dense``, created by each app's migration, used by rebuilds), with the same float
constant written out, so both place a value in the same bucket.
"""

from __future__ import annotations

import math
import operator
from bisect import bisect_left
from itertools import accumulate

_NAMES: dict[tuple, list[str]] = {}  # the names of each tuple of quantiles percentiles() was asked for
# A histogram of ints as the reads give it: a list (rollup rows) or a tuple (sums kept across requests).
_OF_INTS = (list, tuple)


class LogScaleHistogram:
    def __init__(
        self,
        *,
        floor_ms: float,
        doublings: int,
        sql_prefix: str,
        steps_per_doubling: int = 6,
        one_hot_sql: bool = False,
    ):
        self.floor_ms = float(floor_ms)
        self.doublings = doublings
        self.steps = steps_per_doubling
        self.buckets = steps_per_doubling * doublings + 2
        self.ratio = 2 ** (1 / steps_per_doubling)
        self.relative_error = math.sqrt(self.ratio) - 1
        self.top_ms = self.floor_ms * 2**doublings
        # log_R(d / floor) = ln(d / floor) * scale
        self.scale = steps_per_doubling / math.log(2)
        self.sql_prefix = sql_prefix
        self.one_hot_sql = one_hot_sql
        self._values = [self.bucket_value(index) for index in range(self.buckets)]  # read by percentiles

    def bucket_of(self, duration_ms: float) -> int:
        if duration_ms < self.floor_ms:
            return 0
        if duration_ms >= self.top_ms:
            return self.buckets - 1
        return min(self.buckets - 2, 1 + math.floor(math.log(duration_ms / self.floor_ms) * self.scale))

    def bucket_value(self, index: int) -> float:
        """The value reported for a bucket: its geometric middle (half the floor for the first,
        the top for the last)."""
        if index <= 0:
            return self.floor_ms / 2
        if index >= self.buckets - 1:
            return self.top_ms
        return self.floor_ms * self.ratio ** (index - 1) * math.sqrt(self.ratio)

    def bucket_bounds(self, index: int) -> tuple[float, float]:
        if index <= 0:
            return 0.0, self.floor_ms
        if index >= self.buckets - 1:
            return self.top_ms, math.inf
        return self.floor_ms * self.ratio ** (index - 1), self.floor_ms * self.ratio**index

    def percentile(self, hist, q: float) -> float | None:
        """Nearest-rank percentile ``q`` (0..1) from a sequence of counts (None counts as 0)."""
        counts = [int(c or 0) for c in hist or []]
        total = sum(counts)
        if total <= 0:
            return None
        rank = max(1, math.ceil(q * total))
        running = 0
        for index, count in enumerate(counts):
            running += count
            if running >= rank:
                return self.bucket_value(index)
        return self.bucket_value(len(counts) - 1)

    def percentiles(self, hist, qs=(0.5, 0.95, 0.99)) -> dict[str, float | None]:
        """``percentile`` for each of ``qs``, from one running sum of the counts (a page reads
        hundreds): the first bucket whose running count reaches the rank, by bisection."""
        qs = tuple(qs)
        names = _NAMES.get(qs) or _NAMES.setdefault(qs, [f"p{round(q * 100)}" for q in qs])
        counts = hist if type(hist) in _OF_INTS else [int(c or 0) for c in hist or []]
        try:  # a list or tuple of ints, as the reads give it, is used as it is (a None fails min)
            lowest = min(counts, default=0)
        except TypeError:
            counts = [int(c or 0) for c in counts]
            lowest = min(counts, default=0)
        running = list(accumulate(counts))
        # Without negative counts the running sum only grows, so bisection finds the bucket.
        if not running or running[-1] <= 0 or lowest < 0:
            return {name: self.percentile(hist, q) for name, q in zip(names, qs, strict=True)}
        last = len(running) - 1
        values = self._values_of(len(running))
        return {
            name: values[min(bisect_left(running, max(1, math.ceil(q * running[-1]))), last)]
            for name, q in zip(names, qs, strict=True)
        }

    def percentile_apart(self, running_whole: list[int], hist: list[int], q: float) -> float | None:
        """``percentile`` ``q`` of a whole histogram without one of its parts (the fleet without one
        agent), from the whole's running sum (computed once for all the parts) and the part's
        counts: the first bucket where the running sums' difference reaches the rank, by
        bisection. The part's counts are within the whole's, so that difference only grows."""
        running_part = list(accumulate(hist))
        total = running_whole[-1] - running_part[-1]
        if total <= 0:
            return None
        rank = max(1, math.ceil(q * total))
        last = len(running_whole) - 1
        index = bisect_left(range(last + 1), rank, key=lambda k: running_whole[k] - running_part[k])
        return self._values_of(last + 1)[min(index, last)]

    def _values_of(self, length: int) -> list[float]:
        """The value of each of ``length`` buckets (the table, for a histogram of this size)."""
        return self._values if length == self.buckets else [self.bucket_value(i) for i in range(length)]

    def empty(self) -> list[int]:
        return [0] * self.buckets

    def one_hot(self, duration_ms: float) -> list[int]:
        hist = self.empty()
        hist[self.bucket_of(duration_ms)] = 1
        return hist

    @staticmethod
    def copy(hist) -> list[int]:
        """A new list of ``hist``'s counts: a list or tuple of ints as it is, any other sequence
        converted (merging rows starts from the first one's, instead of adding it to zeros)."""
        return list(hist) if type(hist) in _OF_INTS else [int(v) for v in hist]

    @staticmethod
    def add(into: list[int], other) -> list[int]:
        """Add ``other``'s counts into ``into`` (in place). A list or tuple is a row's histogram of
        ints, as the rollup reads give it (a page adds hundreds); any other sequence is converted."""
        into[:] = map(operator.add, into, other if type(other) in _OF_INTS else map(int, other))
        return into

    def sums_sql(self, column: str = "hist") -> str:
        """SQL: the element-wise sum of the histograms ``column`` of a group, as ``bigint[]``. Each
        bucket is summed as ``float8``: the sums of counts stay whole numbers far below 2**53, so
        they are exact, and a float sum ends in a float where ``sum(bigint)`` ends in a
        ``numeric`` per bucket and group (a page sums 134 buckets for hundreds of groups: the
        float sums take 40 % less time there)."""
        sums = ", ".join(f"sum({column}[{i}]::float8)" for i in range(1, self.buckets + 1))
        return f"ARRAY[{sums}]::bigint[]"

    def sql_functions(self) -> str:
        p, last = self.sql_prefix, self.buckets - 1
        sql = f"""
CREATE OR REPLACE FUNCTION {p}_hist_bucket(d double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN d < {self.floor_ms!r} THEN 0
              WHEN d >= {self.top_ms!r} THEN {last}
              ELSE least({last - 1}, 1 + floor(ln(d / {self.floor_ms!r}) * {self.scale!r}::double precision)::integer) END
$$;
CREATE OR REPLACE FUNCTION {p}_hist_dense(idx integer[], cnt bigint[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  result bigint[] := array_fill(0::bigint, ARRAY[{self.buckets}]);
  i integer;
BEGIN
  FOR i IN 1 .. coalesce(array_length(idx, 1), 0) LOOP
    result[idx[i] + 1] := result[idx[i] + 1] + cnt[i];
  END LOOP;
  RETURN result;
END
$$;
"""
        if self.one_hot_sql:
            sql += f"""
CREATE OR REPLACE FUNCTION {p}_hist_one_hot(d double precision) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT array_fill(0::bigint, ARRAY[{p}_hist_bucket(d)]) || 1::bigint
         || array_fill(0::bigint, ARRAY[{last} - {p}_hist_bucket(d)])
$$;
"""
        return sql

    def sql_drop(self) -> str:
        p = self.sql_prefix
        sql = f"DROP FUNCTION IF EXISTS {p}_hist_one_hot(double precision);\n" if self.one_hot_sql else ""
        return sql + (
            f"DROP FUNCTION IF EXISTS {p}_hist_dense(integer[], bigint[]);\n"
            f"DROP FUNCTION IF EXISTS {p}_hist_bucket(double precision);\n"
        )
