"""Rollup verification: recompute rollups from raw executions and compare with the stored ones."""

from __future__ import annotations

import datetime as dt

from django.db import connection

from observability.services import ROLLUP_FROM_RAW_SQL, ROLLUP_TABLES, whole_days


def rollups_verify(*, start: dt.datetime, end: dt.datetime, team=None, sample: int = 10) -> dict:
    """Recompute rollups of [start, end) (whole UTC days) from raw executions and compare with the
    stored ones: counts, tokens, cost, unpriced, quality counts and histograms exactly; duration and
    quality sums to 1e-6."""
    start, end = whole_days(start, end)
    team_filter = "AND team_id = %(team)s" if team is not None else ""
    params = {"start": start, "end": end, "team": team.pk if team is not None else None}
    report = {"start": start, "end": end, "tables": {}}
    with connection.cursor() as cursor:
        for table, unit in ROLLUP_TABLES:
            fresh = ROLLUP_FROM_RAW_SQL.format(unit=unit, team_filter=team_filter)
            sql = f"""
                WITH fresh AS ({fresh}),
                     cur AS (SELECT * FROM {table} WHERE bucket >= %(start)s AND bucket < %(end)s {team_filter})
                SELECT coalesce(f.team_id, c.team_id), coalesce(f.bucket, c.bucket), coalesce(f.agent_name, c.agent_name),
                       coalesce(f.model, c.model), coalesce(f.version, c.version), coalesce(f.status, c.status),
                       f.executions, c.executions
                FROM fresh f FULL OUTER JOIN cur c
                  ON f.team_id = c.team_id AND f.bucket = c.bucket AND f.agent_name = c.agent_name
                 AND f.model = c.model AND f.version = c.version AND f.status = c.status
                WHERE c.id IS NULL OR f.team_id IS NULL OR f.executions <> c.executions
                   OR f.hist IS DISTINCT FROM c.hist
                   OR abs(f.duration_sum_ms - c.duration_sum_ms) > 1e-6 * greatest(1, abs(c.duration_sum_ms))
                   OR f.duration_max_ms <> c.duration_max_ms OR f.input_tokens <> c.input_tokens
                   OR f.output_tokens <> c.output_tokens OR f.cached_input_tokens <> c.cached_input_tokens
                   OR f.reasoning_tokens <> c.reasoning_tokens OR f.cost <> c.cost OR f.unpriced <> c.unpriced
                   OR f.quality_count <> c.quality_count
                   OR abs(f.quality_sum - c.quality_sum) > 1e-6 * greatest(1, abs(c.quality_sum))
            """
            cursor.execute(sql, params)
            bad = cursor.fetchall()
            cursor.execute(
                f"SELECT count(*) FROM {table} WHERE bucket >= %(start)s AND bucket < %(end)s {team_filter}", params
            )
            report["tables"][table] = {
                "rows": cursor.fetchone()[0],
                "mismatches": len(bad),
                "sample": [
                    dict(
                        zip(
                            ("team_id", "bucket", "agent", "model", "version", "status", "raw", "rollup"),
                            r,
                            strict=True,
                        )
                    )
                    for r in bad[:sample]
                ],
            }
    report["ok"] = all(t["mismatches"] == 0 for t in report["tables"].values())
    return report
