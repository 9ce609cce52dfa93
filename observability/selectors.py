"""Observability reads: dashboards, agent pages, bottlenecks, regressions and recommendations.

Everything here reads rollups (hourly rows for parts of days, daily rows for whole days), never
raw executions, except the short "slowest recent executions" list of one agent. So the cost of a
dashboard grows with agents x periods, not with the number of executions.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Sum
from django.urls import reverse

from crucible import formatting, periods
from crucible.money import money_average
from crucible.rules import run_rules
from crucible.sql import fetch_rows
from observability import conf, histogram
from observability import recommendations as obs_recommendations
from observability.models import ErrorRollup, Execution
from observability.services import ROLLUP_FROM_RAW_SQL, ROLLUP_TABLES, whole_days

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
# Periods: presets with one bucket size each (1h: 5 minutes from raw executions; 24h: hours; 7d:
# 6 hours from hourly rollups; 30d/90d: days), custom bounds widened to whole hours (rollups are
# hourly), at most 366 days between 1970 and 9999 (the previous period must stay representable).
PERIOD_RULES = periods.PeriodRules(presets=("1h", "24h", "7d", "30d", "90d"), default="24h")
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
HIST_SUMS = ", ".join(f"sum(hist[{i}])" for i in range(1, histogram.BUCKETS + 1))


RAW = "raw"
# Raw executions shaped like rollup rows, one per minute (only for periods that do not start and
# end on whole hours: the last hour, read in 5-minute buckets). Named parameters: team, and the
# segment's bounds (``.format(lo=..., hi=...)`` names them).
RAW_AS_ROLLUP_SQL = ROLLUP_FROM_RAW_SQL.format(unit="minute", team_filter="AND team_id = %(team)s").replace(
    "started_at >= %s AND started_at < %s", "started_at >= %({lo})s AND started_at < %({hi})s"
)
FINE_BUCKETS = ("5min", "hour", "6h")  # finer than a day: never read from daily rollups


def _segments(start: dt.datetime, end: dt.datetime, time_bucket: str | None = None):
    """[(source, lo, hi)]: raw executions when a bound is not a whole hour; otherwise hourly rows,
    with daily rows for the whole UTC days of long periods unless the time series is finer than
    a day (a daily row cannot be split into 6-hour buckets)."""
    if start != periods.floor(start, "hour") or end != periods.floor(end, "hour"):
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


def _where(team, start, end, *, agent=None, model=None, status=None, version=None, agents=None, time_bucket=None):
    """The rollup rows of [start, end) as a UNION of raw, hourly and daily segments (``_segments``),
    with its named parameters."""
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
    for i, (table, lo, hi) in enumerate(_segments(start, end, time_bucket)):
        segment = [*where, f"bucket >= %(lo_{i})s", f"bucket < %(hi_{i})s"]
        source = f"({RAW_AS_ROLLUP_SQL.format(lo=f'lo_{i}', hi=f'hi_{i}')}) raw" if table == RAW else table
        union.append(f"SELECT {ROLLUP_COLUMNS} FROM {source} WHERE {' AND '.join(segment)}")
        params |= {f"lo_{i}": lo, f"hi_{i}": hi}
    return " UNION ALL ".join(union), params


AGGREGATES = (
    "sum(executions) AS executions, coalesce(sum(executions) FILTER (WHERE status = 'success'), 0) AS successes, "
    "sum(duration_sum_ms) AS duration_sum_ms, max(duration_max_ms) AS duration_max_ms, "
    "sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, "
    "sum(cached_input_tokens) AS cached_input_tokens, sum(reasoning_tokens) AS reasoning_tokens, "
    "sum(cost) AS cost, sum(unpriced) AS unpriced, min(bucket) AS first_seen, max(bucket) AS last_seen"
)
HIST_ARRAY = f"ARRAY[{HIST_SUMS}]::bigint[] AS hist"


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
        "hist": None if hist is None else [int(v) for v in hist],
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
    return [_row(record, keys=names) for record in fetch_rows(sql, params) if record["executions"] is not None]


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
    for record in fetch_rows(sql, params):
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
        "hist": histogram.empty(),
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
            histogram.add(total["hist"], row["hist"])
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


# --- Dashboard ----------------------------------------------------------------------------


def dashboard(*, team, period: TimeRange, agent=None, model=None, status=None) -> dict:
    """Per-agent figures, totals, time series and unpriced models for a period (one query)."""
    by_agent_model, series_rows = rollup_agent_model_and_series(
        team=team,
        start=period.start,
        end=period.end,
        time_bucket=period.bucket,
        agent=agent,
        model=model,
        status=status,
    )
    rows_by_agent: dict[str, list] = {}
    for row in by_agent_model:
        rows_by_agent.setdefault(row["agent"], []).append(row)
    agents = []
    for name, rows in rows_by_agent.items():
        merged = _merge(rows)
        agents.append({"agent": name, "models": sorted({r["model"] for r in rows}), **metrics(merged), "_row": merged})
    agents.sort(key=lambda a: (-a["executions"], a["agent"]))
    totals_row = _merge([a["_row"] for a in agents])
    unpriced_models = {}
    for row in by_agent_model:
        if row["unpriced"]:
            unpriced_models[row["model"]] = unpriced_models.get(row["model"], 0) + row["unpriced"]
    series = []
    for row in series_rows:
        m = metrics(row)
        series.append(
            {
                "time": row["time"],
                "executions": m["executions"],
                "error_rate": m["error_rate"],
                "p95_ms": m["p95_ms"],
                "cost": m["cost"],
                "unpriced": m["unpriced"],
            }
        )
    # One point per bucket of the period: no line is drawn across a bucket without executions.
    series = period.fill(series, {"executions": 0, "error_rate": None, "p95_ms": None, "cost": 0.0, "unpriced": 0})
    for a in agents:
        a.pop("_row")
    return {
        "period": period.as_dict(),
        "filters": {"agent": agent or "", "model": model or "", "status": status or ""},
        "totals": metrics(totals_row),
        "agents": agents,
        "series": series,
        "unpriced": {
            "executions": totals_row["unpriced"],
            "models": [
                {"model": m or "(no model)", "executions": n}
                for m, n in sorted(unpriced_models.items(), key=lambda kv: -kv[1])
            ],
        },
        "histogram_relative_error": round(histogram.RELATIVE_ERROR, 4),
    }


def filter_choices(*, team, period: TimeRange) -> dict:
    rows = rollup_rows(team=team, start=period.start, end=period.end, group_by=("agent", "model"), with_hist=False)
    return {"agents": sorted({r["agent"] for r in rows}), "models": sorted({r["model"] for r in rows if r["model"]})}


def errors_by_type(*, team, start, end, agents=None, limit_per_agent=None) -> dict[str, list[dict]]:
    if _segments(start, end)[0][0] == RAW:  # the error rollups are hourly, like the others
        qs = Execution.objects.filter(team=team, status="error", started_at__gte=start, started_at__lt=end)
        counted = Count("id")
    else:
        qs = ErrorRollup.objects.filter(team=team, bucket__gte=start, bucket__lt=end)
        counted = Sum("executions")
    if agents is not None:
        qs = qs.filter(agent_name__in=list(agents))

    out: dict[str, list[dict]] = {}
    for row in qs.values("agent_name", "error_type").annotate(n=counted).order_by("agent_name", "-n", "error_type"):
        items = out.setdefault(row["agent_name"], [])
        if limit_per_agent is None or len(items) < limit_per_agent:
            items.append({"error_type": row["error_type"], "executions": row["n"]})
    return out


def agent_detail(*, team, name: str, period: TimeRange) -> dict | None:
    overall = rollup_rows(team=team, start=period.start, end=period.end, agent=name)
    if not overall:
        return None
    series_rows = rollup_rows(team=team, start=period.start, end=period.end, agent=name, time_bucket=period.bucket)
    versions = rollup_rows(
        team=team, start=period.start, end=period.end, agent=name, group_by=("version",), hourly=True
    )
    versions.sort(key=lambda r: r["first_seen"])
    models = rollup_rows(team=team, start=period.start, end=period.end, agent=name, group_by=("model",))
    models.sort(key=lambda r: -r["executions"])
    recent_start = max(period.start, period.end - DAY)
    slowest = list(
        Execution.objects.filter(team=team, agent_name=name, started_at__gte=recent_start, started_at__lt=period.end)
        .order_by("-duration_ms")[:10]
        .values(
            "id",
            "client_id",
            "started_at",
            "duration_ms",
            "status",
            "model",
            "version",
            "error_type",
            "input_tokens",
            "output_tokens",
            "cost",
            "trace_id",
        )
    )
    return {
        "agent": name,
        "period": period.as_dict(),
        "totals": metrics(overall[0]),
        "series": period.fill(
            [
                {
                    "time": r["time"],
                    **{
                        k: v
                        for k, v in metrics(r).items()
                        if k in ("executions", "error_rate", "p50_ms", "p95_ms", "cost", "tokens_per_execution")
                    },
                }
                for r in series_rows
            ],
            {
                "executions": 0,
                "error_rate": None,
                "p50_ms": None,
                "p95_ms": None,
                "cost": 0.0,
                "tokens_per_execution": None,
            },
        ),
        "versions": [
            {"version": r["version"] or "(unversioned)", "first_seen": r["first_seen"], **metrics(r)} for r in versions
        ],
        "models": [{"model": r["model"] or "(no model)", **metrics(r)} for r in models],
        "errors_by_type": errors_by_type(team=team, start=period.start, end=period.end, agents=[name]).get(name, []),
        "slowest_recent": slowest,
        "slowest_since": recent_start,
    }


# --- Bottlenecks, regressions, recommendations --------------------------------------------


def per_agent(team, start, end):
    """{agent: aggregate row} of [start, end); pass it as ``current`` to bottlenecks, regressions
    and recommendations of the same period so they share one scan of the rollups."""
    rows = rollup_rows(team=team, start=start, end=end, group_by=("agent",))
    return {row["agent"]: row for row in rows}


def bottlenecks(*, team, period: TimeRange, current=None) -> dict:
    current = current if current is not None else per_agent(team, period.start, period.end)
    fleet = _merge(list(current.values()))
    fleet_m = metrics(fleet)
    total_time = fleet["duration_sum_ms"] or 0.0
    total_cost = float(fleet["cost"]) or 0.0
    items = []
    for name, row in current.items():
        m = metrics(row)
        items.append(
            {
                "agent": name,
                "executions": m["executions"],
                "total_duration_ms": m["total_duration_ms"],
                "time_share": round(row["duration_sum_ms"] / total_time, 4) if total_time else 0.0,
                "cost": m["cost"],
                "cost_share": round(float(row["cost"]) / total_cost, 4) if total_cost else 0.0,
                "p95_ms": m["p95_ms"],
                "p95_vs_fleet": round(m["p95_ms"] / fleet_m["p95_ms"], 2)
                if m["p95_ms"] and fleet_m["p95_ms"]
                else None,
            }
        )
    return {
        "period": period.as_dict(),
        "fleet": {
            "executions": fleet_m["executions"],
            "p95_ms": fleet_m["p95_ms"],
            "total_duration_ms": fleet_m["total_duration_ms"],
            "cost": fleet_m["cost"],
        },
        "by_time": sorted(items, key=lambda i: (-i["time_share"], i["agent"]))[:20],
        "by_cost": sorted(items, key=lambda i: (-i["cost_share"], i["agent"]))[:20],
        "by_p95": sorted(items, key=lambda i: (-(i["p95_vs_fleet"] or 0), i["agent"]))[:20],
    }


def _compare(before: dict, after: dict) -> list[dict]:
    """Which of p95, error rate and tokens per execution got clearly worse from ``before`` to
    ``after`` (metrics dicts); each change with its numbers and threshold."""
    changes = []
    if before["p95_ms"] and after["p95_ms"] and after["p95_ms"] >= before["p95_ms"] * conf.REGRESSION_P95_RATIO:
        changes.append(
            {
                "metric": "p95_ms",
                "before": before["p95_ms"],
                "after": after["p95_ms"],
                "change": round(after["p95_ms"] / before["p95_ms"], 2),
                "threshold": conf.REGRESSION_P95_RATIO,
            }
        )
    if (
        before["error_rate"] is not None
        and after["error_rate"] is not None
        and after["error_rate"] - before["error_rate"] >= conf.REGRESSION_ERROR_DELTA
    ):
        changes.append(
            {
                "metric": "error_rate",
                "before": before["error_rate"],
                "after": after["error_rate"],
                "change": round(after["error_rate"] - before["error_rate"], 4),
                "threshold": conf.REGRESSION_ERROR_DELTA,
            }
        )
    if (
        before["tokens_per_execution"]
        and after["tokens_per_execution"]
        and after["tokens_per_execution"] >= before["tokens_per_execution"] * conf.REGRESSION_TOKENS_RATIO
    ):
        changes.append(
            {
                "metric": "tokens_per_execution",
                "before": before["tokens_per_execution"],
                "after": after["tokens_per_execution"],
                "change": round(after["tokens_per_execution"] / before["tokens_per_execution"], 2),
                "threshold": conf.REGRESSION_TOKENS_RATIO,
            }
        )
    return changes


def regressions(*, team, period: TimeRange, current=None) -> list[dict]:
    """Agents that got clearly worse than in the previous period of the same length, and agents
    whose newest version is clearly worse than the version before it (within both periods)."""
    current = current if current is not None else per_agent(team, period.start, period.end)
    previous = period.previous()
    before_rows = per_agent(team, previous.start, previous.end)
    found = []
    for name, row in sorted(current.items()):
        before = before_rows.get(name)
        if before is None or row["executions"] < conf.MIN_EXECUTIONS or before["executions"] < conf.MIN_EXECUTIONS:
            continue
        changes = _compare(metrics(before), metrics(row))
        if changes:
            found.append(
                {
                    "agent": name,
                    "kind": "period",
                    "baseline": "previous period",
                    "baseline_start": previous.start,
                    "baseline_end": previous.end,
                    "changes": changes,
                }
            )
    # Versions: compare the newest version seen in the window with the one before it.
    versions = rollup_rows(team=team, start=previous.start, end=period.end, group_by=("agent", "version"), hourly=True)
    by_agent: dict[str, list] = {}
    for row in versions:
        if row["version"]:
            by_agent.setdefault(row["agent"], []).append(row)
    for name, rows in sorted(by_agent.items()):
        if len(rows) < 2:
            continue
        rows.sort(key=lambda r: r["first_seen"])
        old, new = rows[-2], rows[-1]
        if (
            new["first_seen"] < period.start
            or old["executions"] < conf.MIN_EXECUTIONS
            or new["executions"] < conf.MIN_EXECUTIONS
        ):
            continue  # the newest version did not appear in this period, or too little data
        changes = _compare(metrics(old), metrics(new))
        if changes:
            found.append(
                {
                    "agent": name,
                    "kind": "version",
                    "baseline": f"version {old['version']}",
                    "version_before": old["version"],
                    "version_after": new["version"],
                    "released_at": new["first_seen"],
                    "changes": changes,
                }
            )
    return found


def recommendations(*, team, period: TimeRange, current=None) -> list[dict]:
    """Suggestions from the data, each with its evidence (the numbers) and a suggested action:
    the rules of ``observability.recommendations`` over this period's figures."""
    current = current if current is not None else per_agent(team, period.start, period.end)

    def model_metrics():
        rows = rollup_rows(team=team, start=period.start, end=period.end, group_by=("agent", "model"), with_hist=False)
        return [(row["agent"], row["model"], metrics(row)) for row in rows]

    context = obs_recommendations.Context(
        metrics={name: metrics(row) for name, row in current.items()},
        hists={name: row["hist"] for name, row in current.items()},
        errors_of=lambda agents: errors_by_type(
            team=team, start=period.start, end=period.end, agents=agents, limit_per_agent=3
        ),
        model_metrics=model_metrics,
        version_regressions=lambda: [
            r for r in regressions(team=team, period=period, current=current) if r["kind"] == "version"
        ],
    )
    return [rec.as_dict(subject_key="agent") for rec in run_rules(obs_recommendations.RULES, context)]


# --- Verification -------------------------------------------------------------------------


def rollups_verify(*, start: dt.datetime, end: dt.datetime, team=None, sample: int = 10) -> dict:
    """Recompute rollups of [start, end) (whole UTC days) from raw executions and compare with the
    stored ones: counts, tokens, cost, unpriced and histograms exactly; duration sums to 1e-6."""
    start, end = whole_days(start, end)
    team_filter = "AND team_id = %s" if team is not None else ""
    extra = [team.pk] if team is not None else []
    report = {"start": start, "end": end, "tables": {}}
    with connection.cursor() as cursor:
        for table, unit in ROLLUP_TABLES:
            fresh = ROLLUP_FROM_RAW_SQL.format(unit=unit, team_filter=team_filter)
            sql = f"""
                WITH fresh AS ({fresh}),
                     cur AS (SELECT * FROM {table} WHERE bucket >= %s AND bucket < %s {team_filter})
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
            """
            cursor.execute(sql, [start, end, *extra, start, end, *extra])
            bad = cursor.fetchall()
            cursor.execute(
                f"SELECT count(*) FROM {table} WHERE bucket >= %s AND bucket < %s {team_filter}", [start, end, *extra]
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


# --- Home page ----------------------------------------------------------------------------


def executions_for_build(*, team, build):
    """The executions reported with a team memory build, oldest first (used by the build page)."""
    return Execution.objects.filter(team=team, build=build).order_by("started_at", "id")


def home_card(*, team, request) -> dict:
    period = time_range("24h")
    rows = rollup_rows(team=team, start=period.start, end=period.end)
    m = metrics(rows[0]) if rows else None
    url = reverse("observability:index")
    if m is None:
        return {
            "title": "Observability",
            "url": url,
            "figures": [],
            "note": "No executions in the last 24 hours.",
            "links": [{"label": "How to send executions", "url": reverse("api-docs")}],
        }
    figures = [
        {"label": "Executions (24 h)", "value": formatting.number(m["executions"])},
        {"label": "Success rate", "value": formatting.percent(m["success_rate"])},
        {"label": "p95", "value": formatting.duration(m["p95_ms"])},
        {"label": "Cost", "value": formatting.money(m["cost"])},
    ]
    note = f"{formatting.number(m['unpriced'])} executions have no price for their model." if m["unpriced"] else ""
    return {
        "title": "Observability",
        "url": url,
        "figures": figures,
        "note": note,
        "links": [
            {"label": "Bottlenecks", "url": reverse("observability:bottlenecks")},
            {"label": "Recommendations", "url": reverse("observability:recommendations")},
        ],
    }
