"""Observability periods and rollup reads: the aggregate rows and figures every page builds on.

Everything here reads rollups (hourly rows for parts of days, daily rows for whole days), never
raw executions (except the raw segment of periods that do not start and end on whole hours). So
the cost of a read grows with agents x periods, not with the number of executions.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from crucible import periods
from crucible.money import money_average
from crucible.sql import fetch_rows
from observability import histogram
from observability.services import ROLLUP_FROM_RAW_SQL

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
# Periods: presets with one bucket size each (15m and 1h: minutes from raw executions; 24h: hours;
# 7d: 6 hours from hourly rollups; 30d/90d: days), custom bounds widened to whole hours (rollups are
# hourly), at most 366 days between 1970 and 9999 (the previous period must stay representable).
PERIOD_RULES = periods.PeriodRules(presets=("15m", "1h", "24h", "7d", "30d", "90d"), default="24h")
TimeRange = periods.Period


def time_range(
    key: str = "24h", start: dt.datetime | None = None, end: dt.datetime | None = None, now=None
) -> TimeRange:
    """A dashboard period (see ``crucible.periods``): a preset, or ``start``/``end`` when given."""
    return periods.period_resolve(PERIOD_RULES, range=key, start=start, end=end, now=now)


# --- Reading rollups ----------------------------------------------------------------------

ROLLUP_COLUMNS = (
    "bucket, agent_name, model, version, status, executions, duration_sum_ms, duration_max_ms, input_tokens, "
    "output_tokens, cached_input_tokens, reasoning_tokens, cost, unpriced, hist"
)


RAW = "raw"
# Raw executions shaped like rollup rows, one per minute (for periods that do not start and end on
# whole hours, and for series finer than an hour: the live minutes). Named parameters: team, and the
# segment's bounds (``.format(lo=..., hi=...)`` names them).
RAW_AS_ROLLUP_SQL = ROLLUP_FROM_RAW_SQL.format(unit="minute", team_filter="AND team_id = %(team)s").replace(
    "started_at >= %(start)s AND started_at < %(end)s", "started_at >= %({lo})s AND started_at < %({hi})s"
)
FINE_BUCKETS = ("minute", "5min", "hour", "6h")  # finer than a day: never read from daily rollups
MINUTE_BUCKETS = ("minute", "5min")  # finer than an hour: only raw executions can be split so


def _segments(start: dt.datetime, end: dt.datetime, time_bucket: str | None = None):
    """[(source, lo, hi)]: raw executions when a bound is not a whole hour or the series is finer
    than an hour (the last hour can end on a whole hour: its minutes are still minutes);
    otherwise hourly rows, with daily rows for the whole UTC days of long periods unless the time
    series is finer than a day (a daily row cannot be split into 6-hour buckets)."""
    if start != periods.floor(start, "hour") or end != periods.floor(end, "hour") or time_bucket in MINUTE_BUCKETS:
        return [(RAW, start, end)]
    if end - start < 2 * DAY or time_bucket in FINE_BUCKETS:
        return [("observability_hourlyrollup", start, end)]
    first_day = periods.ceil(start, "day")
    last_day = periods.floor(end, "day")
    parts = []
    if start < first_day:
        parts.append(("observability_hourlyrollup", start, first_day))
    parts.append(("observability_dailyrollup", first_day, last_day))
    if last_day < end:
        parts.append(("observability_hourlyrollup", last_day, end))
    return parts


def _time_expr(bucket: str) -> str:
    if bucket == "hour":
        return "date_trunc('hour', bucket, 'UTC')"
    if bucket == "day":
        return "date_trunc('day', bucket, 'UTC')"
    return f"date_bin('{periods.BUCKET_SQL_INTERVALS[bucket]}', bucket, TIMESTAMPTZ '2000-01-03 00:00:00+00')"


GROUPS = {
    "agent": "agent_name AS agent",
    "model": "model",
    "version": "version",
    "status": "status",
}


def _where(
    team,
    start,
    end,
    *,
    agent=None,
    model=None,
    status=None,
    version=None,
    agents=None,
    time_bucket=None,
    blocks=(),
    name="",
):
    """The rollup rows of [start, end) as a UNION of raw, hourly and daily segments (``_segments``),
    with its named parameters. ``blocks``: the rollup tables whose segments read only the days or
    hours that blocks do not cover (the caller defines them as ``uncovered_<name><n>`` for each
    and reads the others from the blocks: ``selectors.block_reads``). ``name`` prefixes the bounds' parameter
    names (two periods in one statement)."""
    where = ["team_id = %(team)s"]
    params = {"team": team.pk}
    for column, value in (("agent_name", agent), ("model", model), ("status", status), ("version", version)):
        if value is not None and value != "":
            where.append(f"{column} = %({column})s")
            params[column] = value
    if agents is not None:
        where.append("agent_name = ANY(%(agents)s)")
        params["agents"] = list(agents)
    union = []
    for n, (table, lo, hi) in enumerate(_segments(start, end, time_bucket)):
        i = f"{name}{n}"
        segment = [*where, f"bucket >= %(lo_{i})s", f"bucket < %(hi_{i})s"]
        if table in blocks:
            segment.append(f"bucket = ANY(ARRAY(SELECT bucket FROM uncovered_{i}))")  # an index condition
        source = f"({RAW_AS_ROLLUP_SQL.format(lo=f'lo_{i}', hi=f'hi_{i}')}) raw" if table == RAW else table
        union.append(f"SELECT {ROLLUP_COLUMNS} FROM {source} WHERE {' AND '.join(segment)}")
        params |= {f"lo_{i}": lo, f"hi_{i}": hi}
    return " UNION ALL ".join(union), params


# Counts are summed as bigint: sum(bigint) gives a numeric, which arrives in Python as a Decimal
# (seven counts in each of a page's hundreds of rows: loading a 440-row read took 6.2 ms with Decimals,
# 2.3 ms with ints).
# A count past 2**63 raises an error instead of wrapping; cost stays numeric (money is exact).
AGGREGATES = (
    "sum(executions)::bigint AS executions, "
    "coalesce(sum(executions) FILTER (WHERE status = 'success'), 0)::bigint AS successes, "
    "sum(duration_sum_ms) AS duration_sum_ms, max(duration_max_ms) AS duration_max_ms, "
    "sum(input_tokens)::bigint AS input_tokens, sum(output_tokens)::bigint AS output_tokens, "
    "sum(cached_input_tokens)::bigint AS cached_input_tokens, sum(reasoning_tokens)::bigint AS reasoning_tokens, "
    "sum(cost) AS cost, sum(unpriced)::bigint AS unpriced, min(bucket) AS first_seen, max(bucket) AS last_seen"
)
HIST_ARRAY = f"{histogram.SUMS_SQL} AS hist"


def _row(record: dict, *, keys=()) -> dict:
    """An aggregate row with Python types: the group ``keys`` it names, then the sums."""
    hist = record.get("hist")
    return {
        **{key: record[key] for key in keys},
        "executions": int(record["executions"]),
        "successes": int(record["successes"]),
        "duration_sum_ms": float(record["duration_sum_ms"] or 0),
        "duration_max_ms": float(record["duration_max_ms"] or 0),
        "input_tokens": int(record["input_tokens"]),
        "output_tokens": int(record["output_tokens"]),
        "cached_input_tokens": int(record["cached_input_tokens"]),
        "reasoning_tokens": int(record["reasoning_tokens"]),
        "cost": Decimal(record["cost"] or 0),
        "unpriced": int(record["unpriced"]),
        "first_seen": record["first_seen"],
        "last_seen": record["last_seen"],
        # bigint[] arrives as a list of ints: used as it is (hundreds a page), anything else converted.
        "hist": hist if hist is None or type(hist) is list else [int(v) for v in hist],
    }


def rollup_rows(
    *,
    team,
    start,
    end,
    group_by=(),
    agent=None,
    model=None,
    status=None,
    version=None,
    with_hist=True,
    time_bucket=None,
    agents=None,
    hourly=False,
) -> list[dict]:
    """Aggregates of the rollups of ``team`` in [start, end), grouped by any of agent, model,
    version, status and a time bucket. One SQL statement. ``hourly``: never read daily rows, so
    ``first_seen`` is exact to the hour (which of two versions released the same day is newer)."""
    union, params = _where(
        team,
        start,
        end,
        agent=agent,
        model=model,
        status=status,
        version=version,
        agents=agents,
        time_bucket="hour" if hourly and not time_bucket else time_bucket,
    )
    keys = [GROUPS[name] for name in group_by]
    if time_bucket:
        keys.append(f"{_time_expr(time_bucket)} AS time")
    select_keys = ", ".join(keys) + ", " if keys else ""
    group_clause = ("GROUP BY " + ", ".join(str(i) for i in range(1, len(keys) + 1))) if keys else ""
    hist = f", {HIST_ARRAY}" if with_hist else ""
    sql = f"SELECT {select_keys}{AGGREGATES}{hist} FROM ({union}) r {group_clause}"
    names = [*group_by, *(["time"] if time_bucket else [])]
    # Without GROUP BY an empty range still gives one row, of NULL sums.
    return [
        _row(record, keys=names) for record in fetch_rows(sql, params, binary=True) if record["executions"] is not None
    ]


def rollup_agent_model_and_series(*, team, start, end, time_bucket, agent=None, model=None, status=None):
    """Per (agent, model) and per time bucket aggregates, with histograms, in ONE scan of the
    rollups (GROUPING SETS): the dashboard's two views of the same rows."""
    union, params = _where(team, start, end, agent=agent, model=model, status=status, time_bucket=time_bucket)
    sql = f"""
        SELECT agent_name AS agent, model, time, GROUPING(agent_name, model, time) AS grouping, {AGGREGATES},
               {HIST_ARRAY}
        FROM (SELECT *, {_time_expr(time_bucket)} AS time FROM ({union}) u) r
        GROUP BY GROUPING SETS ((agent_name, model), (time))
    """
    by_agent_model, series = [], []
    for record in fetch_rows(sql, params, binary=True):
        if record["grouping"] == 1:  # time not grouped: an (agent, model) row
            by_agent_model.append(_row(record, keys=("agent", "model")))
        else:
            series.append(_row(record, keys=("time",)))
    return by_agent_model, series


def _merge(rows: list[dict]) -> dict:
    total = {
        "executions": 0,
        "successes": 0,
        "duration_sum_ms": 0.0,
        "duration_max_ms": 0.0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cached_input_tokens": 0,
        "reasoning_tokens": 0,
        "cost": Decimal(0),
        "unpriced": 0,
        "first_seen": None,
        "last_seen": None,
        "hist": None,
    }
    for row in rows:
        for name in (
            "executions",
            "successes",
            "duration_sum_ms",
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "reasoning_tokens",
            "cost",
            "unpriced",
        ):
            total[name] += row[name]
        total["duration_max_ms"] = max(total["duration_max_ms"], row["duration_max_ms"])
        if row["first_seen"] is not None and (total["first_seen"] is None or row["first_seen"] < total["first_seen"]):
            total["first_seen"] = row["first_seen"]
        if row["last_seen"] is not None and (total["last_seen"] is None or row["last_seen"] > total["last_seen"]):
            total["last_seen"] = row["last_seen"]
        if row.get("hist"):
            if total["hist"] is None:  # the first histogram copied, the others added to it
                total["hist"] = histogram.copy(row["hist"])
            else:
                histogram.add(total["hist"], row["hist"])
    if total["hist"] is None:
        total["hist"] = histogram.empty()
    return total


def metrics(row: dict) -> dict:
    """Figures people read from an aggregate row (with its histogram)."""
    n = row["executions"]
    priced = n - row["unpriced"]
    pct = histogram.percentiles(row["hist"]) if row.get("hist") else {"p50": None, "p95": None, "p99": None}
    return {
        "executions": n,
        "successes": row["successes"],
        "errors": n - row["successes"],
        "success_rate": round(row["successes"] / n, 4) if n else None,
        "error_rate": round((n - row["successes"]) / n, 4) if n else None,
        "avg_duration_ms": round(row["duration_sum_ms"] / n, 1) if n else None,
        "max_duration_ms": round(row["duration_max_ms"], 1),
        "p50_ms": _round(pct["p50"]),
        "p95_ms": _round(pct["p95"]),
        "p99_ms": _round(pct["p99"]),
        "total_duration_ms": round(row["duration_sum_ms"], 1),
        "input_tokens": row["input_tokens"],
        "output_tokens": row["output_tokens"],
        "cached_input_tokens": row["cached_input_tokens"],
        "reasoning_tokens": row["reasoning_tokens"],
        "tokens_per_execution": round((row["input_tokens"] + row["output_tokens"]) / n, 1) if n else None,
        "input_tokens_per_execution": round(row["input_tokens"] / n, 1) if n else None,
        "cost": row["cost"],  # Decimal: money is exact (crucible.money)
        "cost_per_execution": money_average(row["cost"], priced),
        "unpriced": row["unpriced"],
    }


def _round(value):
    return None if value is None else round(value, 1)
