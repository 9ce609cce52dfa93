"""Minute rollups: executions per (minute, agent, model, version, status), for the live view's
last hour and the edges of alert windows (the part of an hour at either end).

Reading the raw executions of the last hour costs as much as the hour holds (1.4 s for 100,000).
So ingest adds each batch to ``MinuteRollup`` rows keyed like the hourly rows but per minute, with
the same upsert: a batch touches one row per (minute, agent, model, version, status) it holds, so
a read costs scopes x minutes, not executions; and one total row per (minute, status) with agent,
model and version empty (an agent name is never empty), which the live view reads alone. Deletions subtract the same way; ``rollups_rebuild``
rebuilds the minutes of its period that are still kept. Rows older than
``CRUCIBLE_OBS_MINUTE_RETENTION_HOURS`` are purged by the daily job; the live view (for an agent
filter) and alert windows read raw executions for the minutes older than that.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from crucible import sql
from observability import conf, histogram
from observability.sql import execute

TABLE = "observability_minuterollup"


def _minute(when: dt.datetime) -> dt.datetime:
    return when.replace(second=0, microsecond=0)


TOTAL = ("", "", "")  # (agent, model, version) of the team's total rows: a stored agent name is never empty


def minute_rollups_apply(*, team_id: int, rows, sign: int = 1, uncounted_usage=()) -> None:
    """Add (``sign=-1``: subtract) executions to the team's minute rows: one upsert. The maximum
    duration is not lowered by a subtraction (as in the hourly rows)."""
    from observability.rollups import (
        _ROLLUP_UPSERT,
        EMPTY_ROWS_SQL,
        _columns,
        _fold,
        _rollup_deltas,
        _take_away_usage,
        hist_merge_sql,
    )

    oldest = timezone.now() - dt.timedelta(hours=conf.MINUTE_RETENTION_HOURS)
    # The hourly rows' sums (observability.rollups), per (minute, agent, model, version, status),
    # and the team's total per (minute, status) folded from them.
    groups = _rollup_deltas([r for r in rows if r["started_at"] >= oldest], "minute", sign)
    _take_away_usage(groups, uncounted_usage, "minute")
    groups = {k: g for k, g in groups.items() if k[0] >= _minute(oldest)}
    if not groups:
        return
    groups |= _fold(groups, lambda key: (key[0], *TOTAL, key[4]))
    if sign < 0:
        for g in groups.values():
            g[2] = 0.0  # the maximum is not lowered by a subtraction
    columns = _columns(groups, "")  # sorted keys: one order for every writer, no deadlock
    buckets = {index for g in groups.values() for index, count in g[9].items() if count}
    # The hourly rows' upsert (observability.rollups), for this table alone.
    upsert = _ROLLUP_UPSERT.format(name="minutes", table=TABLE, p="", hist_merge=hist_merge_sql(buckets))
    execute(f"WITH {upsert} SELECT count(*) FROM minutes", {"team": team_id, **columns})
    if sign < 0 or uncounted_usage:  # a row left with nothing in it is no row (as a rebuild leaves it)
        execute(
            EMPTY_ROWS_SQL.format(table=TABLE),
            {"team": team_id, "bucket": sorted({k[0] for k in groups})},
        )


def minute_rollups_rebuild(*, start: dt.datetime, end: dt.datetime, team=None) -> int:
    """Recompute the minute rows of [start, end) that are still kept, from the raw executions."""
    from observability.rollups import REBUILD_SQL

    # Whole minutes: a minute row is rebuilt whole or not at all.
    start = _minute(max(start, timezone.now() - dt.timedelta(hours=conf.MINUTE_RETENTION_HOURS)))
    end = _minute(end) + (dt.timedelta(minutes=1) if end != _minute(end) else dt.timedelta(0))
    if start >= end:
        return 0
    team_filter = "AND team_id = %(team)s" if team is not None else ""
    params = {"start": start, "end": end} | ({"team": team.pk} if team is not None else {})
    sql.execute(f"DELETE FROM {TABLE} WHERE bucket >= %(start)s AND bucket < %(end)s {team_filter}", params)
    scoped = sql.execute(REBUILD_SQL.format(table=TABLE, unit="minute", team_filter=team_filter), params)
    return scoped + sql.execute(
        f"""
        INSERT INTO {TABLE} (team_id, bucket, agent_name, model, version, status, executions, duration_sum_ms,
            duration_max_ms, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost, unpriced, hist,
            quality_sum, quality_count)
        SELECT team_id, bucket, '', '', '', status, sum(executions), sum(duration_sum_ms), max(duration_max_ms),
               sum(input_tokens), sum(output_tokens), sum(cached_input_tokens), sum(reasoning_tokens), sum(cost),
               sum(unpriced), {histogram.SUMS_SQL}, sum(quality_sum), sum(quality_count)
        FROM {TABLE} WHERE bucket >= %(start)s AND bucket < %(end)s AND agent_name <> '' {team_filter}
        GROUP BY team_id, bucket, status
        """,
        params,
    )


def minute_rollups_purge(*, now: dt.datetime | None = None) -> int:
    """Delete minute rows older than ``CRUCIBLE_OBS_MINUTE_RETENTION_HOURS``."""
    oldest = (now or timezone.now()) - dt.timedelta(hours=conf.MINUTE_RETENTION_HOURS)
    return sql.execute(f"DELETE FROM {TABLE} WHERE bucket < %(oldest)s", {"oldest": _minute(oldest)})


def minutes_kept_since(now: dt.datetime | None = None) -> dt.datetime:
    """The first minute whose rollup rows are still kept."""
    return _minute((now or timezone.now()) - dt.timedelta(hours=conf.MINUTE_RETENTION_HOURS)) + dt.timedelta(minutes=1)
