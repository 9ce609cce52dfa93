"""Team memory recommendations: one small rule per finding, over the insights of a period.

``teammemory.selectors.team_recommendations`` builds a ``Context`` (the period's insights and a
callable for the flaky-stack read) and runs ``RULES`` with ``crucible.rules.run_rules``.
Thresholds are the RECO_* settings in ``teammemory.conf``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property

from crucible import formatting
from crucible.rules import (
    COUNT,
    DURATION,
    HIGH,
    INFO,
    LOW,
    MEDIUM,
    NUMBER,
    PERCENT,
    RATIO,
    TEXT,
    TIME,
    Figure,
    Recommendation,
    format_figure,
)
from teammemory import conf


@dataclass
class Context:
    insights: dict  # teammemory.selectors.team_insights of the period
    flaky_stacks: Callable[[], list[dict]]

    @property
    def summary(self) -> dict:
        return self.insights["summary"]

    @property
    def builds(self) -> int:
        return self.summary["builds"]

    @cached_property
    def failing_stacks(self) -> list[dict]:
        return [row for row in self.insights["by_stack"] if _fails(row, "stack_key")]


def _pct(value: float | None) -> str:
    return formatting.percent(value, 0)


def _seconds(value: float) -> Figure:
    return Figure(
        "threshold_seconds", "Threshold (p90 above)", value, NUMBER, shown=format_figure(value * 1000, DURATION)
    )


def too_little_data(ctx: Context) -> Iterator[Recommendation]:
    builds = ctx.builds
    if builds >= conf.RECO_MIN_BUILDS:
        return
    yield Recommendation(
        code="too_little_data",
        severity=INFO,
        title=f"Only {builds} build{'s' if builds != 1 else ''} in this period: too few to judge trends.",
        message="Report every build (POST /api/v1/teammemory/builds/); findings firm up from "
        f"{conf.RECO_MIN_BUILDS} builds.",
        evidence=(
            Figure("builds", "Builds", builds, COUNT),
            Figure("threshold", "Builds needed", conf.RECO_MIN_BUILDS, COUNT),
        ),
    )


def falling_quality(ctx: Context) -> Iterator[Recommendation]:
    quality = ctx.insights["trend"]["quality"]
    if quality["direction"] != "falling":
        return
    yield Recommendation(
        code="falling_quality",
        severity=HIGH,
        title=f"Quality is falling by {abs(quality['slope_per_week']):.1f} points a week.",
        message="Compare recent failing builds with earlier good ones: agent versions, stacks and errors changed first.",
        evidence=(
            Figure("slope_per_week", "Change per week (quality points)", quality["slope_per_week"], NUMBER),
            Figure("p_value", "p-value", quality["p_value"], NUMBER),
            Figure("weeks", "Weeks", quality["weeks"], COUNT),
            Figure("r2", "R²", quality["r2"], NUMBER),
            Figure("alpha", "Significance level", quality["alpha"], NUMBER),
        ),
        impact=abs(quality["slope_per_week"] or 0),
    )


def _fails(row: dict, key: str) -> bool:
    return bool(
        row[key]
        and row["decided"] >= conf.MIN_SAMPLE
        and row["failure_rate"] is not None
        and row["failure_rate"] >= conf.RECO_FAILURE_RATE
    )


def _failing(code: str, label: str, row: dict, key: str) -> Recommendation:
    return Recommendation(
        code=code,
        subject=row[key],
        severity=HIGH if row["failure_rate"] >= min(1.0, conf.RECO_FAILURE_RATE * 1.5) else MEDIUM,
        title=f"{label} '{row[key]}' fails {_pct(row['failure_rate'])} of its builds.",
        message=f"Look at the errors of failed '{row[key]}' builds; consider a better-proven alternative for new "
        "projects.",
        evidence=(
            Figure(key, label, row[key], TEXT),
            Figure("builds", "Builds", row["builds"], COUNT),
            Figure("failed", "Failed builds", row["failed"], COUNT),
            Figure("failure_rate", "Failure rate", row["failure_rate"], PERCENT),
            Figure("threshold", "Threshold (failure rate)", conf.RECO_FAILURE_RATE, PERCENT),
        ),
        impact=row["failed"],
    )


def failing_stack(ctx: Context) -> Iterator[Recommendation]:
    for row in ctx.failing_stacks:
        yield _failing("failing_stack", "Stack", row, "stack_key")


def failing_component(ctx: Context) -> Iterator[Recommendation]:
    """A component that fails often, unless it only occurs in a stack already flagged (same builds,
    same finding)."""
    for row in ctx.insights["by_component"]:
        if not _fails(row, "component"):
            continue
        if any(
            row["component"] in stack["stack_key"].split(" + ") and stack["builds"] == row["builds"]
            for stack in ctx.failing_stacks
        ):
            continue
        yield _failing("failing_component", "Component", row, "component")


def recurring_error(ctx: Context) -> Iterator[Recommendation]:
    builds = ctx.builds
    for row in ctx.insights["top_errors"]:
        share = row["builds"] / builds if builds else 0
        if row["builds"] < conf.RECO_ERROR_MIN_BUILDS or share < conf.RECO_ERROR_MIN_SHARE:
            continue
        yield Recommendation(
            code="recurring_error",
            subject=row["error_type"],
            severity=MEDIUM,
            title=f"'{row['error_type']}' recurs: {row['builds']} builds ({_pct(share)}) met it.",
            message="Fix the cause once (a prompt, a template or a tool) rather than retrying builds.",
            evidence=(
                Figure("error_type", "Error type", row["error_type"], TEXT),
                Figure("builds", "Builds that met it", row["builds"], COUNT),
                Figure("occurrences", "Occurrences", row["occurrences"], COUNT),
                Figure("share_of_builds", "Share of builds", share, PERCENT),
                # The failed builds that met this error (not the team's failed builds).
                Figure("failed_builds", "Failed builds that met it", row["failed_builds"], COUNT),
                Figure("example_message", "Example message", row["example_message"], TEXT),
                Figure("threshold_builds", "Threshold (builds)", conf.RECO_ERROR_MIN_BUILDS, COUNT),
                Figure("threshold_share", "Threshold (share of builds)", conf.RECO_ERROR_MIN_SHARE, PERCENT),
            ),
            impact=row["builds"],
        )


def slow_builds(ctx: Context) -> Iterator[Recommendation]:
    p90 = ctx.summary["p90_duration_ms"]
    if p90 is None or ctx.builds < conf.MIN_SAMPLE or p90 / 1000 <= conf.RECO_SLOW_P90_SECONDS:
        return
    yield Recommendation(
        code="slow_builds",
        severity=MEDIUM,
        title=f"One build in ten takes longer than {p90 / 60000:.0f} minutes.",
        message="Find the slow steps of the slowest builds (observability's bottlenecks) and cache or parallelise them.",
        evidence=(
            Figure("p90_duration_ms", "p90 duration", p90, DURATION),
            Figure("median_duration_ms", "Median duration", ctx.summary["median_duration_ms"], DURATION),
            _seconds(conf.RECO_SLOW_P90_SECONDS),
        ),
        impact=ctx.builds,
    )


def slow_stack(ctx: Context) -> Iterator[Recommendation]:
    team_median = ctx.summary["median_duration_ms"]
    for row in ctx.insights["by_stack"] if team_median else ():
        if not row["stack_key"] or row["builds"] < conf.MIN_SAMPLE:
            continue
        if row["median_duration_ms"] < conf.RECO_SLOW_STACK_FACTOR * team_median:
            continue
        yield Recommendation(
            code="slow_builds",
            subject=row["stack_key"],
            severity=LOW,
            title=f"Stack '{row['stack_key']}' builds take {row['median_duration_ms'] / team_median:.1f}× the team's "
            "median.",
            message="Check what this stack does differently (setup, dependencies, test suites).",
            evidence=(
                Figure("stack_key", "Stack", row["stack_key"], TEXT),
                Figure("builds", "Builds", row["builds"], COUNT),
                Figure("median_duration_ms", "Median duration", row["median_duration_ms"], DURATION),
                Figure("team_median_duration_ms", "Team's median duration", team_median, DURATION),
                Figure("threshold_factor", "Threshold (× the team's median)", conf.RECO_SLOW_STACK_FACTOR, RATIO),
            ),
            impact=row["builds"],
        )


def _worse(row: dict) -> tuple[bool, bool]:
    """(success clearly worse, quality clearly worse) than the team's."""
    success = row["delta_success_rate"] is not None and row["delta_success_rate"] <= -conf.RECO_AGENT_SUCCESS_GAP
    quality = row["delta_quality"] is not None and row["delta_quality"] <= -conf.RECO_AGENT_QUALITY_GAP
    return success, quality


def worse_agent_version(ctx: Context) -> Iterator[Recommendation]:
    for row in ctx.insights["agents"]:
        if row["version"] is None or row["decided"] < conf.MIN_SAMPLE:
            continue
        worse_success, worse_quality = _worse(row)
        if not (worse_success or worse_quality):
            continue
        yield Recommendation(
            code="worse_agent_version",
            subject=f"{row['agent']} {row['version']}",
            severity=HIGH if worse_success and worse_quality else MEDIUM,
            title=f"Builds with {row['agent']} {row['version']} do worse than the team's "
            f"({_pct(row['success_rate'])} succeed, quality {row['avg_quality'] or 0:.0f}).",
            message="Pin the previous version of this agent, or run an experiment on its prompt (improvement).",
            evidence=(
                Figure("agent", "Agent", row["agent"], TEXT),
                Figure("version", "Version", row["version"], TEXT),
                Figure("builds", "Builds", row["builds"], COUNT),
                Figure("success_rate", "Success rate", row["success_rate"], PERCENT),
                Figure("delta_success_rate", "Success rate vs the team's", row["delta_success_rate"], PERCENT),
                Figure("avg_quality", "Average quality", row["avg_quality"], NUMBER),
                Figure("delta_quality", "Quality vs the team's", row["delta_quality"], NUMBER),
                Figure("threshold_success_gap", "Threshold (success gap)", conf.RECO_AGENT_SUCCESS_GAP, PERCENT),
                Figure("threshold_quality_gap", "Threshold (quality gap)", conf.RECO_AGENT_QUALITY_GAP, NUMBER),
            ),
            impact=row["builds"],
        )


def flaky_stack(ctx: Context) -> Iterator[Recommendation]:
    for row in ctx.flaky_stacks():
        yield Recommendation(
            code="flaky_stack",
            subject=row["stack_key"],
            severity=MEDIUM,
            title=f"Stack '{row['stack_key']}' is flaky: {row['flips']} times a build of the same requirements "
            f"changed outcome within {conf.RECO_FLAKY_WINDOW_HOURS} h of the previous one.",
            message="Make these builds deterministic (pin versions, seed randomness, isolate external calls) before "
            "trusting their results.",
            evidence=(
                Figure("stack_key", "Stack", row["stack_key"], TEXT),
                Figure("flips", "Outcome changes", row["flips"], COUNT),
                Figure("repeats_within_window", "Repeats within the window", row["repeats"], COUNT),
                Figure("decided_builds", "Decided builds", row["builds"], COUNT),
                Figure("flips_per_build", "Changes per build", row["flips"] / row["builds"], PERCENT),
                Figure("threshold_rate", "Threshold (changes per build)", conf.RECO_FLAKY_MIN_RATE, PERCENT),
                Figure("requirement_sets", "Requirement sets", row["requirement_sets"], COUNT),
                Figure("last_flip_at", "Last change", row["last_flip_at"], TIME),
                Figure("window_hours", "Window (hours)", conf.RECO_FLAKY_WINDOW_HOURS, COUNT),
                Figure("threshold_flips", "Threshold (changes)", conf.RECO_FLAKY_MIN_FLIPS, COUNT),
                Figure("examined_since", "Examined since", row["window_start"], TIME),
                Figure("lookback_days", "Look-back (days)", conf.RECO_FLAKY_LOOKBACK_DAYS, COUNT),
            ),
            impact=row["flips"],
        )


RULES = (
    too_little_data,
    falling_quality,
    failing_stack,
    failing_component,
    recurring_error,
    slow_builds,
    slow_stack,
    worse_agent_version,
    flaky_stack,
)
