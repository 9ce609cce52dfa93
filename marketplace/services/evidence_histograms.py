"""Measured evidence: the period histograms the worker merges ahead of the reads.

A version page shows p50/p95 durations per team over 7, 30 or 90 days. Merging the daily
histograms of 50 teams over 90 days (4,500 arrays) at every read is most of an agent page's time,
so ``evidence_histograms_refresh`` merges the closed days (up to yesterday) once per period, team
and version into ``VersionEvidenceHistogram``. They are kept exact by ``crucible.merge_guard``
(``HISTOGRAMS``), as the dashboards' day blocks are: a statement trigger on the daily rows
(migration 0012) deletes the merged rows of a team and version holding any closed day whose daily
row changes (executions of yesterday arriving today, a rollup rebuild, a deletion), under a shared
advisory lock per version that the merge takes exclusively. The read (``marketplace.evidence``)
adds today's rows to a team's merged row when there is one, else merges that team's daily rows.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from crucible import merge_guard, sql

PERIODS = (7, 30, 90)  # the periods of marketplace.evidence.PERIODS (a test keeps them equal)
BATCH = 50  # versions merged per transaction (one advisory lock each)

# One lock per version (a merge redoes all of a version's teams); a changed daily row removes its
# team's merged rows of the periods holding its day.
HISTOGRAMS = merge_guard.MergeGuard(
    name="marketplace-evidencehist",
    source="marketplace_versionevidencedaily",
    merged="marketplace_versionevidencehistogram",
    day="day",
    day_type="date",
    lock=(("version_id", "bigint"),),
    lock_parts="k.version_id",
    keys=("version_id", "team_id", "day"),
    covers=(
        "m.version_id = k.version_id AND m.team_id = k.team_id "
        "AND m.through_day >= k.day AND m.through_day - (m.days - 2) <= k.day"
    ),
)

# Versions with a team whose closed days hold durations but which has no merged row for ``through``
# (never merged, or removed by the trigger). The longest period holds every day merged.
MISSING_SQL = """
SELECT DISTINCT d.version_id
FROM (SELECT DISTINCT version_id, team_id FROM marketplace_versionevidencedaily
      WHERE day >= %(first)s AND day <= %(through)s AND cardinality(hist) > 0 {version_filter}) d
WHERE NOT EXISTS (SELECT 1 FROM marketplace_versionevidencehistogram h
                  WHERE h.version_id = d.version_id AND h.days = %(longest)s AND h.through_day = %(through)s
                    AND h.team_id = d.team_id)
ORDER BY 1
"""

DELETE_SQL = """
DELETE FROM marketplace_versionevidencehistogram
WHERE version_id = ANY(%(versions)s::bigint[]) AND through_day = %(through)s
"""

MERGE_SQL = """
INSERT INTO marketplace_versionevidencehistogram (
    team_id, version_id, days, through_day, hist_buckets, hist_counts, computed_at)
SELECT team_id, version_id, days, %(through)s, array_agg(b ORDER BY b), array_agg(c ORDER BY b), now()
FROM (
    SELECT d.team_id, d.version_id, p.days, d.hist_offset + h.i - 1 AS b, sum(h.c)::bigint AS c
    FROM marketplace_versionevidencedaily d
    JOIN unnest(%(periods)s::int[]) AS p(days) ON d.day >= %(through)s - (p.days - 2)
    CROSS JOIN LATERAL unnest(d.hist) WITH ORDINALITY AS h(c, i)
    WHERE d.version_id = ANY(%(versions)s::bigint[]) AND d.day >= %(first)s AND d.day <= %(through)s
    GROUP BY 1, 2, 3, 4
) per_bucket
WHERE c <> 0
GROUP BY team_id, version_id, days
"""


def evidence_histograms_refresh(*, now: dt.datetime | None = None, version_ids=None) -> int:
    """Merge again the closed-day histograms of the versions whose merged rows are missing (of
    ``version_ids`` only, when given), through the last day closed for ``merge_guard.SETTLE``; drop
    rows of earlier days. Returns the number of versions merged; a version a writer is changing
    right now is left for the next run. Idempotent; run by the worker every ten minutes."""
    through = merge_guard.closed_until(now or timezone.now()).date() - dt.timedelta(days=1)
    params = {
        "through": through,
        "first": through - dt.timedelta(days=max(PERIODS) - 2),
        "periods": list(PERIODS),
        "longest": max(PERIODS),
    }
    version_filter = ""
    if version_ids is not None:
        version_filter, params["only"] = "AND version_id = ANY(%(only)s::bigint[])", sorted(map(int, version_ids))
    # Rows of another day are never read (the read asks for yesterday's).
    sql.execute("DELETE FROM marketplace_versionevidencehistogram WHERE through_day <> %(through)s", params)
    missing = [row["version_id"] for row in sql.fetch_rows(MISSING_SQL.format(version_filter=version_filter), params)]
    return sum(_merge(missing[i : i + BATCH], params) for i in range(0, len(missing), BATCH))


@transaction.atomic
def _merge(versions: list[int], params: dict) -> int:
    taken = [version for (version,) in merge_guard.locks_take(HISTOGRAMS, [(v,) for v in versions])]
    if taken:
        # Under the locks, all of each version's teams again (the trigger may have removed some).
        sql.execute(DELETE_SQL, params | {"versions": taken})
        sql.execute(MERGE_SQL, params | {"versions": taken})
    return len(taken)
