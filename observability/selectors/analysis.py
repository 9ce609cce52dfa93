"""Bottlenecks, regressions and recommendations of a period, from per-agent rollup rows."""

from __future__ import annotations

from crucible.rules import run_rules
from observability import conf
from observability import recommendations as obs_recommendations
from observability.selectors.block_reads import block_rows
from observability.selectors.dashboard import errors_by_type
from observability.selectors.rollup_reads import TimeRange, _merge, metrics, rollup_rows
from observability.selectors.version_reads import periods_compared


def per_agent(team, start, end):
    """{agent: aggregate row} of [start, end); pass it as ``current`` to bottlenecks, regressions
    and recommendations of the same period so they share one scan of the rollups."""
    rows = block_rows(team=team, start=start, end=end, group_by=("agent",))
    if rows is None:
        rows = rollup_rows(team=team, start=start, end=end, group_by=("agent",))
    return {row["agent"]: row for row in rows}


def bottlenecks(*, team, period: TimeRange, current=None, figures=None) -> dict:
    """``figures``: ``metrics`` of the ``current`` rows by agent, when the caller has them
    (``compared``)."""
    current = current if current is not None else per_agent(team, period.start, period.end)
    fleet = _merge(list(current.values()))
    fleet_m = metrics(fleet)
    total_time = fleet["duration_sum_ms"] or 0.0
    total_cost = float(fleet["cost"]) or 0.0
    items = []
    for name, row in current.items():
        m = figures[name] if figures is not None else metrics(row)
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


def compared(team, period: TimeRange) -> dict:
    """This period and the previous one per agent, and versions over both, in one read of the
    rollups (``version_reads.periods_compared``), with the figures (``metrics``) of each agent in
    each period, computed once: pass it as ``compared`` to ``regressions`` and
    ``recommendations`` (and its ``current`` and ``figures`` to ``bottlenecks``) of the same
    period."""
    return _with_figures(periods_compared(team=team, period=period, previous=period.previous()))


def _with_figures(data: dict) -> dict:
    data["figures"] = {name: metrics(row) for name, row in data["current"].items()}
    memo = data.get("previous_memo")
    previous = memo.get("figures") if memo is not None else None
    if previous is None:
        previous = {name: metrics(row) for name, row in data["previous"].items()}
        if memo is not None:  # the previous period's rows are kept sums: the same figures on every read
            memo["figures"] = previous
    data["previous_figures"] = previous
    return data


def regressions(*, team, period: TimeRange, current=None, compared=None) -> list[dict]:
    """Agents that got clearly worse than in the previous period of the same length, and agents
    whose newest version is clearly worse than the version before it (within both periods)."""
    previous = period.previous()
    if compared is None:
        compared = periods_compared(team=team, period=period, previous=previous)
    if "previous_figures" not in compared:  # a read of periods_compared's own, not of ``compared``
        _with_figures(compared)
    figures = compared["figures"] if current is None else {}
    current = current if current is not None else compared["current"]
    before_rows = compared["previous"]
    found = []
    for name, row in sorted(current.items()):
        before = before_rows.get(name)
        if before is None or row["executions"] < conf.MIN_EXECUTIONS or before["executions"] < conf.MIN_EXECUTIONS:
            continue
        changes = _compare(compared["previous_figures"][name], figures.get(name) or metrics(row))
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
    return found + version_regressions(period=period, compared=compared)


def version_regressions(*, period: TimeRange, compared: dict) -> list[dict]:
    """The regressions of kind "version" (``regressions``): the newest version seen in the window
    of each agent against the one before it."""
    found = []
    by_agent: dict[str, list] = {}
    for row in compared["versions"]:
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


def recommendations(*, team, period: TimeRange, current=None, compared=None) -> list[dict]:
    """Suggestions from the data, each with its evidence (the numbers) and a suggested action:
    the rules of ``observability.recommendations`` over this period's figures."""
    if current is None and compared is None:
        compared = periods_compared(team=team, period=period, previous=period.previous(), previous_agents=False)
    figures = None
    if current is None:
        current, figures = compared["current"], compared.get("figures")

    def model_metrics():
        # Models are compared within an agent: only the agents that ran two or more are read (none:
        # no read), when ``compared`` tells which (periods_compared's ``models``).
        several = (
            {agent for agent, names in compared["models"].items() if len(names) > 1}
            if compared is not None and "models" in compared
            else None
        )
        if several is not None and not several:
            return []
        rows = block_rows(team=team, start=period.start, end=period.end, group_by=("agent", "model"), with_hist=False)
        if rows is None:
            rows = rollup_rows(
                team=team, start=period.start, end=period.end, group_by=("agent", "model"), with_hist=False
            )
        return [
            (row["agent"], row["model"], metrics(row)) for row in rows if several is None or row["agent"] in several
        ]

    context = obs_recommendations.Context(
        metrics=figures if figures is not None else {name: metrics(row) for name, row in current.items()},
        hists={name: row["hist"] for name, row in current.items()},
        errors_of=lambda agents: errors_by_type(
            team=team, start=period.start, end=period.end, agents=agents, limit_per_agent=3
        ),
        model_metrics=model_metrics,
        version_regressions=lambda: version_regressions(
            period=period,
            compared=compared
            if compared is not None
            else periods_compared(team=team, period=period, previous=period.previous(), previous_agents=False),
        ),
    )
    return [rec.as_dict(subject_key="agent") for rec in run_rules(obs_recommendations.RULES, context)]
