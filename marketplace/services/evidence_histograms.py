"""Measured evidence: the period histograms the worker merges ahead of the reads.

A version page shows p50/p95 durations per team over 7, 30 or 90 days. Merging the daily
histograms of 50 teams over 90 days (4,500 arrays) at every read is most of an agent page's time,
so ``evidence_histograms_refresh`` merges the closed days (up to yesterday) once per period, team
and version into ``VersionEvidenceHistogram`` and records the ``pg_snapshot`` it read. The read
(``marketplace.evidence``) adds today's rows and uses a merged row only while every daily row it
covers was written before that snapshot (``hist_xid``); a late write (executions of yesterday
arriving today, a rollup rebuild) makes it merge the daily rows itself until the next refresh.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from crucible import sql

PERIODS = (7, 30, 90)  # the periods of marketplace.evidence.PERIODS (a test keeps them equal)

# Versions whose merged rows are missing for ``through`` or no longer cover their daily rows.
STALE_VERSIONS_SQL = """
SELECT DISTINCT d.version_id
FROM marketplace_versionevidencedaily d
LEFT JOIN LATERAL (
    SELECT h.snapshot FROM marketplace_versionevidencehistogram h
    WHERE h.version_id = d.version_id AND h.through_day = %(through)s LIMIT 1
) h ON true
WHERE d.day >= %(first)s AND d.day <= %(through)s AND cardinality(d.hist) > 0 {version_filter}
  AND (h.snapshot IS NULL OR NOT pg_visible_in_snapshot(d.hist_xid, h.snapshot::pg_snapshot))
"""

DELETE_SQL = """
DELETE FROM marketplace_versionevidencehistogram
WHERE through_day <> %(through)s OR version_id = ANY(%(versions)s::bigint[])
"""

# One statement for every period: pg_current_snapshot() is the snapshot this statement reads.
MERGE_SQL = """
INSERT INTO marketplace_versionevidencehistogram (
    team_id, version_id, days, through_day, hist_buckets, hist_counts, snapshot, computed_at)
SELECT team_id, version_id, days, %(through)s, array_agg(b ORDER BY b), array_agg(c ORDER BY b),
       pg_current_snapshot()::text, now()
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


@transaction.atomic
def evidence_histograms_refresh(*, today: dt.date | None = None, version_ids=None) -> int:
    """Merge again the closed-day histograms of the versions whose merged rows are missing or
    stale (of ``version_ids`` only, when given); drop rows of earlier days. Returns the number of
    versions merged. Idempotent; run by the worker every ten minutes."""
    # One merge at a time (the worker's tick and the management command may meet).
    sql.fetch_rows("SELECT pg_advisory_xact_lock(hashtextextended('marketplace-evidence-histograms', 0))")
    today = today or timezone.now().date()
    through = today - dt.timedelta(days=1)
    params = {"through": through, "first": through - dt.timedelta(days=max(PERIODS) - 2), "periods": list(PERIODS)}
    version_filter = ""
    if version_ids is not None:
        version_filter, params["only"] = "AND d.version_id = ANY(%(only)s::bigint[])", sorted(map(int, version_ids))
    stale = [
        row["version_id"] for row in sql.fetch_rows(STALE_VERSIONS_SQL.format(version_filter=version_filter), params)
    ]
    sql.execute(DELETE_SQL, params | {"versions": stale})
    if stale:
        sql.execute(MERGE_SQL, params | {"versions": stale})
    return len(stale)
