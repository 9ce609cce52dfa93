"""Observability recommendations: one small rule per finding, over figures the selectors read.

``observability.selectors.analysis.recommendations`` builds a ``Context`` (per-agent metrics of the
period, and callables for the reads only some rules need) and runs ``RULES`` with
``crucible.rules.run_rules``. Thresholds are in ``observability.conf``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate

from crucible import formatting
from crucible.rules import (
    COUNT,
    DURATION,
    HIGH,
    ITEMS,
    MEDIUM,
    MONEY,
    NUMBER,
    PERCENT,
    RATIO,
    TEXT,
    TIME,
    Figure,
    Recommendation,
)
from observability import conf, histogram

# Figures of regressions: what each compared metric is called and how it reads.
METRIC_FIGURES = {
    "p95_ms": ("p95 duration", DURATION),
    "error_rate": ("Error rate", PERCENT),
    "tokens_per_execution": ("Tokens per run", NUMBER),
}


@dataclass
class Context:
    """What the rules read. ``metrics``: {agent: metrics dict} of the period; ``hists``: {agent:
    duration histogram}; the callables run their query only when a rule asks."""

    metrics: dict[str, dict]
    hists: dict[str, list[int]]
    errors_of: Callable[[list[str]], dict[str, list[dict]]]
    model_metrics: Callable[[], list[tuple[str, str, dict]]]
    version_regressions: Callable[[], list[dict]]

    @cached_property
    def judged(self) -> dict[str, dict]:
        """Agents with enough executions to be judged."""
        return {name: m for name, m in self.metrics.items() if m["executions"] >= conf.MIN_EXECUTIONS}

    @cached_property
    def fleet_hist(self) -> list[int]:
        total = histogram.empty()
        for hist in self.hists.values():
            histogram.add(total, hist)
        return total

    @cached_property
    def fleet_running(self) -> list[int]:
        return list(accumulate(self.fleet_hist))


def _round(value):
    return None if value is None else round(value, 1)


def slow_agent(ctx: Context) -> Iterator[Recommendation]:
    """p95 against the rest of the fleet (the agent itself left out, so one slow agent with much
    traffic cannot hide behind its own share of the fleet)."""
    for name, m in ctx.judged.items():
        # (the fleet's running sum computed once, bisected without the agent: ``percentile``'s
        # figure of the rest, for hundreds of agents at a time)
        rest_p95 = _round(histogram.percentile_apart(ctx.fleet_running, ctx.hists[name], 0.95))
        if not (m["p95_ms"] and rest_p95):
            continue
        if m["p95_ms"] < conf.SLOW_P95_RATIO * rest_p95 or m["p95_ms"] < conf.SLOW_P95_MIN_MS:
            continue
        yield Recommendation(
            code="slow_agent",
            subject=name,
            severity=HIGH if m["p95_ms"] >= 2 * conf.SLOW_P95_RATIO * rest_p95 else MEDIUM,
            title=f"{name} is slow: p95 {m['p95_ms'] / 1000:.1f} s, {m['p95_ms'] / rest_p95:.1f}x the rest of the fleet",
            message="Open its slowest executions and look for long tool calls or retries; consider a faster model, "
            "streaming, caching repeated work, or splitting the task into smaller steps.",
            evidence=(
                Figure("p95_ms", "p95 duration", m["p95_ms"], DURATION),
                Figure("fleet_p95_ms", "p95 of the rest of the fleet", rest_p95, DURATION),
                Figure("p50_ms", "Median duration", m["p50_ms"], DURATION),
                Figure("executions", "Runs", m["executions"], COUNT),
                Figure("threshold_ratio", "Threshold (× the fleet)", conf.SLOW_P95_RATIO, RATIO),
                Figure("threshold_ms", "Threshold (p95 at least)", conf.SLOW_P95_MIN_MS, DURATION),
            ),
            impact=m["total_duration_ms"],
        )


def failing_agent(ctx: Context) -> Iterator[Recommendation]:
    """Error rate at or above the threshold, with the agent's top error types."""
    failing = [
        n for n, m in ctx.judged.items() if m["error_rate"] is not None and m["error_rate"] >= conf.FAILING_ERROR_RATE
    ]
    top_errors = ctx.errors_of(failing) if failing else {}
    for name in failing:
        m = ctx.judged[name]
        errors = top_errors.get(name, [])
        top = ", ".join(f"{e['error_type']} ({e['executions']})" for e in errors) or "unknown"
        yield Recommendation(
            code="failing_agent",
            subject=name,
            severity=HIGH if m["error_rate"] >= 2 * conf.FAILING_ERROR_RATE else MEDIUM,
            title=f"{name} fails {formatting.percent(m['error_rate'], 0)} of its runs",
            message=f"Fix the most common failures first: {top}. Add retries with backoff for transient errors and "
            "validate inputs before calling the model.",
            evidence=(
                Figure("error_rate", "Error rate", m["error_rate"], PERCENT),
                Figure("errors", "Failed runs", m["errors"], COUNT),
                Figure("executions", "Runs", m["executions"], COUNT),
                Figure("top_error_types", "Top error types", errors, ITEMS),
                Figure("threshold", "Threshold (error rate)", conf.FAILING_ERROR_RATE, PERCENT),
            ),
            impact=m["errors"],
        )


def token_heavy_prompt(ctx: Context) -> Iterator[Recommendation]:
    """Input tokens per run far above the fleet median."""
    per_exec = [m["input_tokens_per_execution"] for m in ctx.judged.values() if m["input_tokens_per_execution"]]
    median = statistics.median(per_exec) if len(per_exec) >= 2 else 0
    for name, m in ctx.judged.items() if median else ():
        value = m["input_tokens_per_execution"] or 0
        if value < conf.TOKEN_HEAVY_RATIO * median or value < conf.TOKEN_HEAVY_MIN_INPUT:
            continue
        cached_share = round(m["cached_input_tokens"] / m["input_tokens"], 3) if m["input_tokens"] else 0.0
        yield Recommendation(
            code="token_heavy_prompt",
            subject=name,
            severity=MEDIUM,
            title=f"{name} sends {value:,.0f} input tokens per run, {value / median:.1f}x the fleet median",
            message="Trim the system prompt and the context you send (retrieve fewer, shorter documents; summarise "
            f"history); put the stable part first so the provider can cache it (only {cached_share * 100:.0f}% "
            "of input tokens were cached).",
            evidence=(
                Figure("input_tokens_per_execution", "Input tokens per run", value, NUMBER),
                Figure("fleet_median", "Fleet median", round(median, 1), NUMBER),
                Figure("cached_share", "Cached share of input", cached_share, PERCENT),
                Figure("executions", "Runs", m["executions"], COUNT),
                Figure("cost", "Cost", m["cost"], MONEY),
                Figure("threshold_ratio", "Threshold (× the median)", conf.TOKEN_HEAVY_RATIO, RATIO),
            ),
            impact=float(m["cost"]) or value,
        )


def _cheaper_alternative(items: list[tuple[str, dict]]):
    """(expensive, its metrics, cheap, its metrics) of the first pair, most expensive first, where
    the cheaper model costs far less with similar success; None when there is none."""
    for i, (expensive, em) in enumerate(items):
        for cheap, cm in items[i + 1 :]:
            cheaper = float(cm["cost_per_execution"]) <= conf.CHEAPER_COST_RATIO * float(em["cost_per_execution"])
            if cheaper and cm["success_rate"] >= em["success_rate"] - conf.SIMILAR_SUCCESS_DELTA:
                return expensive, em, cheap, cm
    return None


def expensive_model(ctx: Context) -> Iterator[Recommendation]:
    """An expensive model where a cheaper model of the same agent has similar success."""
    models_of: dict[str, list] = {}
    for agent, model, m in ctx.model_metrics():
        if model and m["executions"] >= conf.MIN_EXECUTIONS and m["cost_per_execution"]:
            models_of.setdefault(agent, []).append((model, m))
    for name, items in sorted(models_of.items()):
        items.sort(key=lambda item: -item[1]["cost_per_execution"])
        pair = _cheaper_alternative(items)
        if pair is None:
            continue
        expensive, em, cheap, cm = pair
        saving = (em["cost_per_execution"] - cm["cost_per_execution"]) * em["executions"]
        yield Recommendation(
            code="expensive_model",
            subject=name,
            severity=MEDIUM,
            title=f"{name}: {cheap} costs {cm['cost_per_execution'] / em['cost_per_execution'] * 100:.0f}% of "
            f"{expensive} per run with similar success",
            message=f"Move {name}'s traffic from {expensive} to {cheap} (an A/B test in Improvement first if "
            f"quality matters); it would have saved about {formatting.money(saving)} in this period.",
            evidence=(
                Figure("model", "Model", expensive, TEXT),
                Figure("cheaper_model", "Cheaper model", cheap, TEXT),
                Figure("cost_per_execution", "Cost per run", em["cost_per_execution"], MONEY),
                Figure("cheaper_cost_per_execution", "Cheaper model's cost per run", cm["cost_per_execution"], MONEY),
                Figure("success_rate", "Success rate", em["success_rate"], PERCENT),
                Figure("cheaper_success_rate", "Cheaper model's success rate", cm["success_rate"], PERCENT),
                Figure("executions", "Runs", em["executions"], COUNT),
                Figure("estimated_saving", "Estimated saving", saving, MONEY),
            ),
            impact=float(saving),
        )


def change_figures(change: dict) -> tuple[Figure, Figure]:
    """(before, after) of one regression change, labelled by its metric."""
    label, kind = METRIC_FIGURES.get(change["metric"], (change["metric"], NUMBER))
    return Figure("before", label, change["before"], kind), Figure("after", label, change["after"], kind)


def change_summary(change: dict) -> str:
    before, after = change_figures(change)
    return f"{before.label} {before.display} → {after.display}"


def with_change_figures(regressions: list[dict]) -> list[dict]:
    """Regressions for a page: each change also carries its labelled ``figures`` (before, after)."""
    return [{**reg, "changes": [{**c, "figures": change_figures(c)} for c in reg["changes"]]} for reg in regressions]


def version_regression(ctx: Context) -> Iterator[Recommendation]:
    """An agent whose newest version is clearly worse than the one before it."""
    for reg in ctx.version_regressions():
        summary = "; ".join(change_summary(c) for c in reg["changes"])
        yield Recommendation(
            code="version_regression",
            subject=reg["agent"],
            severity=HIGH,
            title=f"{reg['agent']} got worse after version {reg['version_after']}",
            message=f"Compare version {reg['version_after']} with {reg['version_before']} ({summary}); roll back or "
            "fix the prompt change, then confirm with an experiment.",
            evidence=(
                Figure("version_before", "Version before", reg["version_before"], TEXT),
                Figure("version_after", "Version after", reg["version_after"], TEXT),
                Figure("released_at", "First seen", reg["released_at"], TIME),
                Figure("changes", "What got worse", reg["changes"], ITEMS, shown=summary),
            ),
            impact=float("inf"),
        )


RULES = (slow_agent, failing_agent, token_heavy_prompt, expensive_model, version_regression)
