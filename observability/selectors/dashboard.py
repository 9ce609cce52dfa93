"""The dashboard and agent pages: per-agent figures, series, errors by type, one agent's detail."""

from __future__ import annotations

from django.db.models import Count, Sum

from observability import histogram
from observability.models import AGENT_INDEXED_SORTS, ErrorRollup, Execution
from observability.selectors.block_reads import block_agent_model_and_series, block_rows
from observability.selectors.rollup_reads import (
    DAY,
    RAW,
    TimeRange,
    _merge,
    _segments,
    metrics,
    rollup_agent_model_and_series,
    rollup_rows,
)
from observability.selectors.version_reads import version_rows


def dashboard(
    *, team, period: TimeRange, agent=None, model=None, status=None, agent_figures=True, figures_for: int | None = None
) -> dict:
    """Per-agent figures, totals, time series and unpriced models for a period (one query; closed
    days and hours from blocks). ``agent_figures=False``: each agent comes with its name, models,
    executions and sums (``row``) only, busiest first, for a page that shows some of them
    (``with_figures``); ``figures_for``: the page shows the first that many agents at most, so the
    histograms of the others may be left out of their ``row`` (percentiles unknown)."""
    read = dict(
        team=team,
        start=period.start,
        end=period.end,
        time_bucket=period.bucket,
        agent=agent,
        model=model,
        status=status,
    )
    by_agent_model, series_rows = block_agent_model_and_series(
        **read, hist_agents=None if agent_figures else figures_for
    ) or rollup_agent_model_and_series(**read)
    rows_by_agent: dict[str, list] = {}
    for row in by_agent_model:
        rows_by_agent.setdefault(row["agent"], []).append(row)
    agents = []
    for name, rows in rows_by_agent.items():
        merged = rows[0] if len(rows) == 1 else _merge(rows)  # one model: its row is the agent's sums
        agents.append(
            {
                "agent": name,
                "models": sorted({r["model"] for r in rows}),
                "executions": merged["executions"],
                "row": merged,
            }
        )
    agents.sort(key=lambda a: (-a["executions"], a["agent"]))
    if agent_figures:
        agents = with_figures(agents)
    # The same rows summed per time bucket: a few dozen to add up rather than one per agent.
    totals_row = _merge(series_rows)
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


def with_figures(agents: list[dict]) -> list[dict]:
    """The agents of ``dashboard(agent_figures=False)`` with their figures (``metrics``)."""
    return [{"agent": a["agent"], "models": a["models"], **metrics(a["row"])} for a in agents]


def filter_choices(*, team, period: TimeRange) -> dict:
    rows = block_rows(team=team, start=period.start, end=period.end, group_by=("agent", "model"), with_hist=False)
    if rows is None:
        rows = rollup_rows(team=team, start=period.start, end=period.end, group_by=("agent", "model"), with_hist=False)
    return {"agents": sorted({r["agent"] for r in rows}), "models": sorted({r["model"] for r in rows if r["model"]})}


def filter_choices_of(data: dict) -> dict:
    """``filter_choices`` from an unfiltered ``dashboard`` of the same period (its rows are the
    same rollup rows, so they name the same agents and models)."""
    return {
        "agents": sorted(a["agent"] for a in data["agents"]),
        "models": sorted({m for a in data["agents"] for m in a["models"] if m}),
    }


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
    # Per model and per time bucket in one scan of the agent's rollup rows (a few dozen: blocks
    # would not save their cost); the totals are the series' rows added up.
    models, series_rows = rollup_agent_model_and_series(
        team=team, start=period.start, end=period.end, time_bucket=period.bucket, agent=name
    )
    if not models:
        return None
    overall = _merge(series_rows)
    versions = version_rows(team=team, start=period.start, end=period.end, agent=name)
    versions.sort(key=lambda r: r["first_seen"])
    models.sort(key=lambda r: (-r["executions"], r["model"]))
    recent_start = max(period.start, period.end - DAY)
    slowest = list(
        Execution.objects.filter(team=team, agent_name=name, started_at__gte=recent_start, started_at__lt=period.end)
        .rows_deferred(AGENT_INDEXED_SORTS)  # the 10 ids from the per-agent index alone, then their rows
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
        "totals": metrics(overall),
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
            {
                "version": r["version"] or "(unversioned)",
                "version_label": r["version"],  # as reported ("" when none): the drill-down filter
                "first_seen": r["first_seen"],
                **metrics(r),
            }
            for r in versions
        ],
        "models": [{"model": r["model"] or "(no model)", "model_label": r["model"], **metrics(r)} for r in models],
        "errors_by_type": errors_by_type(team=team, start=period.start, end=period.end, agents=[name]).get(name, []),
        "slowest_recent": slowest,
        "slowest_since": recent_start,
    }
