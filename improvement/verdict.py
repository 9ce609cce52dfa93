"""The experiment verdict as small rules: each returns a ``crucible.rules.Recommendation`` saying
either which variant won or why none has yet; ``verdict`` runs them and writes the sentence.

A winner is named only when every active variant has ``min_results`` results, one active
variant's probability of being best reaches ``CRUCIBLE_IMPROVEMENT_WIN_PROBABILITY``, its
always-valid confidence sequence (improvement.sequential) for the difference with every other
active variant lies above zero (so reading the report after every result does not inflate false
winners), and no guardrail shows it clearly worse than the control (improvement.guardrails).
With CUPED on, the objective is the CUPED-adjusted one (improvement.cuped) throughout.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from crucible.rules import COUNT, HIGH, LOW, MEDIUM, PERCENT, TEXT, Figure, Recommendation, run_rules
from improvement import stats

WINNER = "winner"
NO_WINNER_YET = "No winner yet."


def share(p: float) -> str:
    """A probability as people read it; a Monte Carlo estimate is never certainty (4000 of 4000
    draws reads "over 99.9%")."""
    if p >= 0.9995:
        return "over 99.9%"
    return f"{p:.1%}" if p >= 0.9 else f"{p:.0%}"


@dataclass
class Context:
    experiment: object  # improvement.models.Experiment
    active: list  # active variants
    p_best: dict[int, float]  # probability of being best by variant id (active ones)
    posteriors: dict[int, stats.Posterior]
    threshold: float
    separated: bool = True  # the leader's always-valid sequences exclude a tie with every other variant
    vetoed: dict | None = None  # variant id -> guardrail evidence, for variants clearly worse than the control
    samples: dict | None = None  # variant id -> the objective's sums as the verdict reads them (CUPED-adjusted or not)

    @cached_property
    def thin(self) -> list:
        """Active variants below the experiment's minimum results."""
        return [v for v in self.active if v.results_count < self.experiment.min_results]

    @cached_property
    def leader(self):
        return max(self.active, key=lambda v: self.p_best.get(v.pk, 0.0)) if self.active else None

    @property
    def comparable(self) -> bool:
        """Two or more active variants, each with its minimum results."""
        return len(self.active) > 1 and not self.thin


def no_active_variant(ctx: Context) -> Iterator[Recommendation]:
    if not ctx.active:
        yield Recommendation(
            code="no_active_variant",
            severity=MEDIUM,
            title="The experiment has no active variant.",
            message="Add a variant, or reinstate one, to compare.",
        )


def single_variant(ctx: Context) -> Iterator[Recommendation]:
    if len(ctx.active) == 1:
        yield Recommendation(
            code="single_variant",
            severity=MEDIUM,
            title="Only one active variant: there is nothing to compare it with.",
            message="Add a variant to compare.",
            subject=ctx.active[0].name,
        )


def not_enough_results(ctx: Context) -> Iterator[Recommendation]:
    if not ctx.thin:
        return
    minimum = ctx.experiment.min_results
    yield Recommendation(
        code="not_enough_results",
        severity=MEDIUM,
        title="Not enough results yet: "
        + ", ".join(f"{v.name} has {v.results_count} of {minimum}" for v in ctx.thin)
        + ".",
        message="Keep the experiment running.",
        evidence=tuple(Figure(f"results_{v.pk}", v.name, v.results_count, COUNT) for v in ctx.thin)
        + (Figure("min_results", "Minimum per variant", minimum, COUNT),),
        impact=-1,  # listed after the reasons that no amount of results can fix
    )


def _probable(ctx: Context) -> bool:
    return ctx.comparable and ctx.p_best[ctx.leader.pk] >= ctx.threshold


def _veto(ctx: Context) -> str | None:
    return (ctx.vetoed or {}).get(ctx.leader.pk) if ctx.leader is not None else None


def guardrail_veto(ctx: Context) -> Iterator[Recommendation]:
    if _probable(ctx) and _veto(ctx):
        yield Recommendation(
            code="guardrail_veto",
            severity=HIGH,
            subject=ctx.leader.name,
            title=f"{ctx.leader.name} leads on the objective but is clearly worse than the control on a guardrail: "
            + _veto(ctx),
            message="It cannot be named winner; fix it or retire it.",
            evidence=(Figure("variant", "Variant", ctx.leader.name, TEXT),),
        )


def not_separated(ctx: Context) -> Iterator[Recommendation]:
    if _probable(ctx) and not _veto(ctx) and not ctx.separated:
        yield Recommendation(
            code="not_separated",
            severity=LOW,
            subject=ctx.leader.name,
            title=f"{ctx.leader.name} leads, but its always-valid interval still overlaps another variant's.",
            message="Keep the experiment running: the evidence must hold however often the report is read.",
            evidence=(Figure("variant", "Variant", ctx.leader.name, TEXT),),
        )


def leader_wins(ctx: Context) -> Iterator[Recommendation]:
    if _probable(ctx) and ctx.separated and not _veto(ctx):
        p = ctx.p_best[ctx.leader.pk]
        yield Recommendation(
            code=WINNER,
            severity=HIGH,
            subject=ctx.leader.name,
            title=f"{ctx.leader.name} is the best variant (probability of being best {share(p)}).",
            message="Conclude the experiment and promote the winner.",
            evidence=(
                Figure("variant", "Variant", ctx.leader.name, TEXT),
                Figure("probability_best", "Probability of being best", p, PERCENT),
                Figure("threshold", "Needed", ctx.threshold, PERCENT),
            ),
        )


def no_clear_winner(ctx: Context) -> Iterator[Recommendation]:
    if ctx.comparable and ctx.p_best[ctx.leader.pk] < ctx.threshold:
        p = ctx.p_best[ctx.leader.pk]
        yield Recommendation(
            code="no_clear_winner",
            severity=LOW,
            subject=ctx.leader.name,
            title=f"No variant is clearly better: the leader, {ctx.leader.name}, is best with probability "
            f"{share(p)}; a winner needs {ctx.threshold:.0%}.",
            message="Keep the experiment running.",
            evidence=(
                Figure("leader", "Leader", ctx.leader.name, TEXT),
                Figure("probability_best", "Probability of being best", p, PERCENT),
                Figure("threshold", "Needed", ctx.threshold, PERCENT),
            ),
        )


RULES = (
    no_active_variant,
    single_variant,
    not_enough_results,
    guardrail_veto,
    not_separated,
    leader_wins,
    no_clear_winner,
)


def _sums(ctx: Context, variant) -> tuple[int, float, float]:
    """(n, sum, sum of squares) of the objective as the verdict reads it."""
    if ctx.samples is not None and variant.pk in ctx.samples:
        s = ctx.samples[variant.pk]
        return s.n, s.total, s.total_sq
    return variant.objective_count, variant.objective_sum, variant.objective_sum_sq


def results_needed(ctx: Context) -> int | None:
    """More results in total (over all active variants) before a winner can be named: what the two
    leaders need for their observed gap to reach the threshold, and at least what the minimum still
    requires of every active variant; None when the leaders look tied and the minimum is met."""
    if len(ctx.active) < 2:
        return None
    first, second = sorted(ctx.active, key=lambda v: ctx.posteriors[v.pk].mean, reverse=True)[:2]
    lead, runner = (_sums(ctx, v) for v in (first, second))
    more = stats.results_needed(
        ctx.posteriors[first.pk],
        ctx.posteriors[second.pk],
        leader_n=lead[0],
        runner_n=runner[0],
        leader_var=stats.sample_variance(*lead),
        runner_var=stats.sample_variance(*runner),
        probability=ctx.threshold,
    )
    floor = sum(max(0, ctx.experiment.min_results - v.results_count) for v in ctx.active)
    if more is None:
        return floor or None
    return max(more, floor)


@dataclass(frozen=True)
class Verdict:
    winner: object | None  # the winning Variant, or None
    findings: list[Recommendation]
    results_needed: int | None
    headline: str  # "No winner yet." or the winner sentence
    detail: str  # why not, and what it takes

    @property
    def text(self) -> str:
        return f"{self.headline} {self.detail}".strip()

    @property
    def reasons(self) -> list[str]:
        return [f.title for f in self.findings if f.code != WINNER]


def verdict(ctx: Context) -> Verdict:
    findings = run_rules(RULES, ctx)
    won = next((f for f in findings if f.code == WINNER), None)
    if won is not None:
        return Verdict(ctx.leader, findings, None, won.title, "")
    needed = results_needed(ctx)
    detail = " ".join(f.title for f in findings)
    if needed is not None:
        detail += f" About {needed} more results are needed."
    elif ctx.comparable:
        detail += " The leading variants look tied; more results may never separate them."
    return Verdict(None, findings, needed, NO_WINNER_YET, detail.strip())
