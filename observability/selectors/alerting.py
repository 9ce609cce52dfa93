"""Figures of recent windows for alert rules: one read of a team's rollups for every window its
rules use, then per scope (agent, model, version; empty = any) the usual figures (``metrics``) and
the average quality.

A window is [tick - minutes, tick), with ``tick`` a whole minute. Its whole hours are read from the
hourly rollups and its edges (the part of an hour at each end) from the minute rollups
(``observability.minutes``, per agent, model, version and status); minutes older than the minute
retention (``CRUCIBLE_OBS_MINUTE_RETENTION_HOURS``, default 48 h: a day's window always has its
minutes) are read from raw executions instead. The windows are cut into disjoint pieces, each read
once (``_pieces``), summed per piece and scope, then per window: one SQL statement for every
window, so the cost grows with agents x (hours + edge minutes), not with executions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from crucible import periods
from crucible.sql import fetch_one, fetch_rows
from observability import conf
from observability.minutes import minutes_kept_since
from observability.selectors.rollup_reads import (
    AGGREGATES,
    HIST_ARRAY,
    RAW_AS_ROLLUP_SQL,
    _merge,
    _row,
    metrics,
)
from observability.services import ROLLUP_FROM_RAW_SQL

Scope = tuple[int, str, str, str]  # (window minutes, agent, model, version); "" = any

HOURLY, MINUTES, RAW = "observability_hourlyrollup", "observability_minuterollup", "raw"


def _segments(start: dt.datetime, end: dt.datetime, kept: dt.datetime) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """[(source, lo, hi)] of a window: whole hours from the hourly rows, the rest from the minute
    rows, or from raw executions before ``kept`` (the first minute whose minute rows are kept)."""
    first_hour, last_hour = periods.ceil(start, "hour"), periods.floor(end, "hour")
    if first_hour >= last_hour:
        edges, parts = [(start, end)], []
    else:
        edges = [(start, first_hour), (last_hour, end)]
        parts = [(HOURLY, first_hour, last_hour)]
    for lo, hi in edges:
        if lo < min(hi, kept):
            parts.append((RAW, lo, min(hi, kept)))
        if max(lo, kept) < hi:
            parts.append((MINUTES, max(lo, kept), hi))
    return parts


def _pieces(windows: Iterable[int], tick: dt.datetime, kept: dt.datetime):
    """(pieces, membership): the windows' segments cut at every boundary of their source into
    disjoint pieces [(source, lo, hi)], and [(window, piece index)] saying which make each window."""
    plans = {minutes: _segments(tick - dt.timedelta(minutes=minutes), tick, kept) for minutes in windows}
    bounds: dict[str, set] = {}
    for parts in plans.values():
        for source, lo, hi in parts:
            bounds.setdefault(source, set()).update((lo, hi))
    pieces: dict[tuple, int] = {}
    membership = []
    for minutes, parts in plans.items():
        for source, lo, hi in parts:
            cuts = sorted(b for b in bounds[source] if lo <= b <= hi)
            for a, b in zip(cuts, cuts[1:], strict=False):
                index = pieces.setdefault((source, a, b), len(pieces))
                membership.append((minutes, index))
    return list(pieces), membership


PIECE_COLUMNS = (
    "bucket, agent_name, model, version, status, executions, duration_sum_ms, duration_max_ms, input_tokens, "
    "output_tokens, cached_input_tokens, reasoning_tokens, cost, unpriced, hist, quality_sum, quality_count"
)
# Sums per piece and scope, then the same sums per window and scope (a piece's rows are read once).
SUMS = (
    "sum(executions) AS executions, sum(successes) AS successes, sum(duration_sum_ms) AS duration_sum_ms, "
    "max(duration_max_ms) AS duration_max_ms, sum(input_tokens) AS input_tokens, "
    "sum(output_tokens) AS output_tokens, sum(cached_input_tokens) AS cached_input_tokens, "
    "sum(reasoning_tokens) AS reasoning_tokens, sum(cost) AS cost, sum(unpriced) AS unpriced, "
    "min(first_seen) AS first_seen, max(last_seen) AS last_seen, sum(quality_sum) AS quality_sum, "
    "sum(quality_count) AS quality_count"
)
WINDOWS_SQL = """
WITH per_piece AS MATERIALIZED (
    SELECT piece, agent_name, model, version, {aggregates}, sum(quality_sum) AS quality_sum,
           sum(quality_count) AS quality_count, {hist}
    FROM ({union}) u GROUP BY piece, agent_name, model, version
)
SELECT w.window_minutes, p.agent_name AS agent, p.model, p.version, {sums}, {hist}
FROM per_piece p JOIN unnest(%(m_window)s::int[], %(m_piece)s::int[]) AS w(window_minutes, piece) USING (piece)
GROUP BY w.window_minutes, p.agent_name, p.model, p.version
"""


def _windows_sql(pieces, membership) -> tuple[str, dict]:
    params = {"m_window": [m for m, _ in membership], "m_piece": [i for _, i in membership]}
    union = []
    for i, (source, lo, hi) in enumerate(pieces):
        params |= {f"lo_{i}": lo, f"hi_{i}": hi}
        table = f"({RAW_AS_ROLLUP_SQL.format(lo=f'lo_{i}', hi=f'hi_{i}')}) r" if source == RAW else source
        scoped = "agent_name <> '' AND " if source == MINUTES else ""  # not the team's total rows
        union.append(
            f"SELECT {i} AS piece, {PIECE_COLUMNS} FROM {table} "
            f"WHERE team_id = %(team)s AND {scoped}bucket >= %(lo_{i})s AND bucket < %(hi_{i})s"
        )
    sql = WINDOWS_SQL.format(aggregates=AGGREGATES, hist=HIST_ARRAY, union=" UNION ALL ".join(union), sums=SUMS)
    return sql, params


def _with_quality(result: dict, rows: list[dict]) -> dict:
    total = sum(r["quality_sum"] for r in rows)
    n = sum(r["quality_count"] for r in rows)
    result["avg_quality"] = round(total / n, 2) if n else None
    result["quality_samples"] = n
    return result


def _quality_of(record: dict) -> dict:
    return {"quality_sum": float(record["quality_sum"] or 0), "quality_count": int(record["quality_count"] or 0)}


def _matches(row_key: tuple, scope: Scope) -> bool:
    window, agent, model, version = scope
    return (
        row_key[0] == window
        and (not agent or row_key[1] == agent)
        and (not model or row_key[2] == model)
        and (not version or row_key[3] == version)
    )


def alert_window_figures(
    *, team, tick: dt.datetime, scopes: Iterable[Scope], quality_windows: Iterable[int] = ()
) -> dict:
    """{scope: figures} for each (window minutes, agent, model, version) scope of ``team`` in
    [tick - window, tick): ``metrics`` (executions, error_rate, p95_ms, p99_ms, cost,
    tokens_per_execution, unpriced, ...), plus ``avg_quality`` and ``quality_samples`` for the
    scopes whose window is in ``quality_windows``. One SQL statement, whatever the number of
    scopes and windows."""
    scopes = list(dict.fromkeys(scopes))
    windows = sorted({scope[0] for scope in scopes})
    if not windows:
        return {}
    sql, params = _windows_sql(*_pieces(windows, tick, minutes_kept_since()))
    by_window: dict[int, list] = {}
    for record in fetch_rows(sql, params | {"team": team.pk}, binary=True):
        r = _row(record, keys=("window_minutes", "agent", "model", "version")) | _quality_of(record)
        by_window.setdefault(r["window_minutes"], []).append(
            ((r["window_minutes"], r["agent"], r["model"], r["version"]), r)
        )
    quality_windows = set(quality_windows)
    figures = {}
    for scope in scopes:
        rows = [row for key, row in by_window.get(scope[0], ()) if _matches(key, scope)]
        result = metrics(_merge(rows))
        if scope[0] in quality_windows:
            _with_quality(result, rows)
        figures[scope] = result
    return figures


# The tagged executions of a team (the partial index execution_team_tagged): a tag-scoped read.
TAGGED = "tags <> '{}'::varchar(64)[] AND tags @> ARRAY[%(tag)s]::varchar(64)[]"

TagScope = tuple[int, str, str, str, str]  # (window minutes, agent, model, version, tag); "" = any

# How many executions carry the tag in the longest window, counted up to the budget (+1).
TAG_COUNT_SQL = f"""
SELECT count(*) AS n FROM (
    SELECT 1 FROM observability_execution
    WHERE team_id = %(team)s AND started_at >= %(start)s AND started_at < %(end)s AND {TAGGED}
    LIMIT %(cap)s
) capped
"""
# Every window's figures per (agent, model, version) from the tagged executions, counted by the
# rollups' rule (ROLLUP_FROM_RAW_SQL at minute grain, then summed per window).
TAG_WINDOWS_SQL = (
    "SELECT w.minutes AS window_minutes, r.agent_name AS agent, r.model, r.version, "
    + AGGREGATES.replace("min(bucket)", "min(r.bucket)").replace("max(bucket)", "max(r.bucket)")
    + f", sum(quality_sum) AS quality_sum, sum(quality_count) AS quality_count, {HIST_ARRAY} FROM ("
    + ROLLUP_FROM_RAW_SQL.format(unit="minute", team_filter=f"AND team_id = %(team)s AND {TAGGED}")
    + ") r JOIN unnest(%(windows)s::int[]) AS w(minutes) ON r.bucket >= %(end)s - w.minutes * interval '1 minute' "
    "GROUP BY w.minutes, r.agent_name, r.model, r.version"
)


def alert_tag_window_figures(
    *, team, tick: dt.datetime, scopes: Iterable[TagScope], quality_windows: Iterable[int] = ()
) -> dict:
    """{scope: figures} for (window minutes, agent, model, version, tag) scopes, as
    ``alert_window_figures`` gives them, read from the raw executions that carry the tag (rollups
    have no tags). Per tag: a count bounded by ``ALERT_TAG_MAX_ROWS`` (a tag over it is not read:
    its scopes get ``{"over_budget": True}``) and one read of every window, quality included."""
    by_tag: dict[str, list[TagScope]] = {}
    for scope in dict.fromkeys(scopes):
        by_tag.setdefault(scope[4], []).append(scope)
    quality_windows = set(quality_windows)
    figures = {}
    for tag, tag_scopes in by_tag.items():
        windows = sorted({scope[0] for scope in tag_scopes})
        params = {"team": team.pk, "tag": tag, "start": tick - dt.timedelta(minutes=windows[-1]), "end": tick}
        if fetch_one(TAG_COUNT_SQL, params | {"cap": conf.ALERT_TAG_MAX_ROWS + 1})["n"] > conf.ALERT_TAG_MAX_ROWS:
            figures |= {scope: {"over_budget": True} for scope in tag_scopes}
            continue
        rows = [
            _row(r, keys=("window_minutes", "agent", "model", "version")) | _quality_of(r)
            for r in fetch_rows(TAG_WINDOWS_SQL, params | {"windows": windows})
        ]
        for scope in tag_scopes:
            plain = scope[:4]
            keyed = [r for r in rows if _matches((r["window_minutes"], r["agent"], r["model"], r["version"]), plain)]
            result = metrics(_merge(keyed))
            if scope[0] in quality_windows:
                _with_quality(result, keyed)
            figures[scope] = result
    return figures
