"""Reads of the improvement app: variants for other apps, experiment lists, reports, home card."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import NamedTuple

from django.db.models import Count, Max, Min, Q, Sum
from django.urls import reverse
from django.utils import timezone

from crucible import formatting
from crucible.money import money_average
from crucible.sql import fetch_rows
from improvement import conf, cuped, sequential, stats, trust, verdict
from improvement.models import Experiment, Rollout, RolloutStatus, Status, Variant, VariantBucket

_ID = re.compile(r"[0-9]{1,19}")


def variants_for_team(*, team, ids) -> dict[int, Variant]:
    """The team's variants among ``ids`` (with their experiment), by id. Ids of other teams' or
    unknown variants are simply missing; retired ones are included (``variant.retired_at`` /
    ``variant.is_retired``) so the caller can say why it refuses them, and
    ``variant.experiment.accepts_results`` says whether the experiment still takes results."""
    clean = {i for i in ids if isinstance(i, int) and not isinstance(i, bool)}
    if not clean:
        return {}
    return {v.pk: v for v in Variant.objects.filter(team=team, pk__in=clean).select_related("experiment")}


def experiment_list(*, team_ids):
    """Experiments of these teams with variant counts and total results (one query)."""
    return (
        Experiment.objects.filter(team_id__in=team_ids)
        .select_related("team", "agent", "winner")
        .annotate(
            variant_count=Count("variants", filter=Q(variants__retired_at__isnull=True), distinct=True),
            total_results=Sum("variants__results_count"),
        )
    )


def experiment_by_ref(*, team_ids, ref):
    """An experiment by id or by name (the key clients use) among these teams, or None."""
    qs = Experiment.objects.filter(team_id__in=team_ids)
    if isinstance(ref, int) or (isinstance(ref, str) and _ID.fullmatch(ref)):
        found = qs.filter(pk=int(ref)).first() if int(ref) < 2**63 else None
        if found is not None:
            return found
    return qs.filter(name=str(ref)).order_by("pk").first() if isinstance(ref, str) else None


def experiments_by_source(*, team, source_kind: str, keys) -> dict[str, Experiment]:
    """{source key: the newest experiment the finding started} for the findings ``keys`` of one
    app (one query): a finding page links each finding to its experiment."""
    found: dict[str, Experiment] = {}
    rows = Experiment.objects.filter(team=team, source_kind=source_kind, source_key__in=list(keys)).order_by(
        "created_at"
    )
    for experiment in rows:
        found[experiment.source_key] = experiment
    return found


class GuardrailBreach(NamedTuple):
    """One guardrail breach: a variant clearly worse than its control, or a rollout it stopped."""

    experiment_id: int | None
    experiment_name: str
    variant_id: int | None
    variant_name: str
    rollout_id: int | None
    evidence: str
    at: datetime


def experiment_guardrail_breaches(*, team, since: datetime) -> list[GuardrailBreach]:
    """The team's guardrail breaches detected at or after ``since``, newest first: variants first
    found clearly worse than the control (``Variant.guardrail_breached_at``, set by a results
    batch or the periodic check) and guarded rollouts a breach stopped (two queries). The alert
    metric "experiment guardrail breach" counts them."""
    found = [
        GuardrailBreach(
            v.experiment_id, v.experiment.name, v.pk, v.name, None, v.guardrail_evidence, v.guardrail_breached_at
        )
        for v in Variant.objects.filter(team=team, guardrail_breached_at__gte=since).select_related("experiment")
    ]
    found += [
        GuardrailBreach(
            r.experiment_id,
            r.experiment.name if r.experiment_id else "",
            None,
            f"candidate {r.candidate.version}",
            r.pk,
            r.reason,
            r.finished_at,
        )
        for r in Rollout.objects.filter(team=team, status=RolloutStatus.STOPPED, finished_at__gte=since).select_related(
            "experiment", "candidate"
        )
    ]
    return sorted(found, key=lambda breach: breach.at, reverse=True)


def _seed(experiment: Experiment, variants: list[Variant]) -> int:
    # Same data, same seed: a report does not flicker between reloads.
    return hash((experiment.pk, tuple((v.pk, v.results_count) for v in variants))) & 0x7FFFFFFF


def experiment_report(*, experiment: Experiment, variants: list[Variant] | None = None) -> dict:
    """Evidence for each variant and the verdict.

    A winner is named only when every active variant has ``min_results`` results and one active
    variant's probability of being best reaches ``CRUCIBLE_IMPROVEMENT_WIN_PROBABILITY``;
    otherwise ``winner`` is None and ``verdict`` says why."""
    if variants is None:
        variants = list(Variant.objects.filter(experiment=experiment).order_by("id"))
    confidence = conf.CONFIDENCE
    alpha, n_opt = 1.0 - confidence, conf.SEQUENTIAL_N_OPT
    active = [v for v in variants if v.retired_at is None]
    # The objective as the verdict reads it: CUPED-adjusted when the experiment has it on.
    objective = {v.pk: sequential.Sample(v.objective_count, v.objective_sum, v.objective_sum_sq) for v in variants}
    cuped_section = None
    if experiment.cuped:
        objective, cuped_section = _cuped(experiment, variants, objective, alpha, n_opt)
    posteriors = {
        v.pk: stats.posterior(objective[v.pk].n, objective[v.pk].total, objective[v.pk].total_sq) for v in active
    }
    p_best = dict(
        zip(
            [v.pk for v in active],
            stats.probability_best(
                [posteriors[v.pk] for v in active], draws=conf.MC_DRAWS, seed=_seed(experiment, variants)
            ),
            strict=True,
        )
    )
    control = next((v for v in variants if v.is_control), None)
    control_mean = objective[control.pk].mean if control else None

    rows = []
    for v in variants:
        # Always-valid intervals (confidence sequences): safe to read after every result.
        mean, low, high = sequential.mean_sequence(objective[v.pk], alpha, n_opt=n_opt)
        successes = sequential.Sample.of_proportion(v.success_count, v.results_count)
        _, s_low, s_high = sequential.mean_sequence(
            successes, alpha, n_opt=n_opt, variance=sequential.proportion_variance(successes)
        )
        s_low = None if s_low is None else max(0.0, s_low)
        s_high = None if s_high is None else min(1.0, s_high)
        lift = None
        if control is not None and v.pk != control.pk and mean is not None and control_mean:
            lift = (mean - control_mean) / control_mean
        rows.append(
            {
                "id": v.pk,
                "name": v.name,
                "is_control": v.is_control,
                "retired": v.retired_at is not None,
                "results": v.results_count,
                "scored_results": v.objective_count,
                "objective_mean": mean,
                "objective_low": low,
                "objective_high": high,
                "success_rate": v.success_rate,
                "success_low": s_low,
                "success_high": s_high,
                "quality_mean": v.quality_mean,
                "duration_mean_ms": v.duration_mean,
                "tokens_mean": (v.tokens_sum / v.results_count) if v.results_count else None,
                "cost_mean": money_average(v.cost_sum, v.results_count),
                "retired_reason": v.retired_reason,
                # With no scored result a variant's "probability" is only the prior's 1/n.
                "probability_best": p_best.get(v.pk) if v.objective_count else None,
                "lift_vs_control": lift,
                "below_minimum": v.retired_at is None and v.results_count < experiment.min_results,
            }
        )

    threshold = conf.WIN_PROBABILITY
    guards = trust.experiment_guardrails(experiment=experiment, variants=variants)
    vetoed = {
        row["id"]: " ".join(c["evidence"] for c in row["checks"] if c["breached"])
        for row in guards["variants"]
        if row["breached"]
    }
    leader = max(active, key=lambda v: p_best.get(v.pk, 0.0)) if active else None
    separated = leader is not None and sequential.separated_leader(
        {v.pk: objective[v.pk] for v in active},
        leader.pk,
        alpha,
        n_opt=n_opt,
    )
    found = verdict.verdict(
        verdict.Context(
            experiment=experiment,
            active=active,
            p_best=p_best,
            posteriors=posteriors,
            threshold=threshold,
            separated=separated,
            vetoed=vetoed,
            samples=objective,
        )
    )
    winner = found.winner

    return {
        "experiment": {
            "id": experiment.pk,
            "name": experiment.name,
            "status": experiment.status,
            "strategy": experiment.strategy,
        },
        "min_results": experiment.min_results,
        "confidence": confidence,
        "win_probability": threshold,
        "total_results": sum(v.results_count for v in variants),
        "variants": rows,
        "winner": None
        if winner is None
        else {"id": winner.pk, "name": winner.name, "probability_best": p_best[winner.pk]},
        "verdict": found.text,
        "verdict_headline": found.headline,
        "verdict_detail": found.detail,
        "reasons": found.reasons,
        "results_needed": found.results_needed,
        "interval_method": "always-valid confidence sequence",
        "estimates": "cuped" if cuped_section and cuped_section["theta"] is not None else "unadjusted",
        "guardrails": guards,
        "srm": trust.experiment_srm(experiment=experiment, variants=variants),
        "cuped": cuped_section,
    }


def _cuped(
    experiment: Experiment, variants: list[Variant], objective: dict, alpha: float, n_opt: int
) -> tuple[dict, dict]:
    """(the CUPED-adjusted objective samples, the report's CUPED section): every scored result
    counts, those without the unit's earlier metric unadjusted (improvement.cuped)."""
    groups = {
        v.pk: cuped.Moments(
            v.cuped_count, v.cuped_y_sum, v.cuped_y_sum_sq, v.cuped_x_sum, v.cuped_x_sum_sq, v.cuped_xy_sum
        )
        for v in variants
    }
    _, adjusted = cuped.adjusted_samples(groups=groups, objectives=objective)
    control = next((v.pk for v in variants if v.is_control), None)
    names = {v.pk: v.name for v in variants}
    section = cuped.report(
        groups=groups, names=names, control_id=control, alpha=alpha, n_opt=n_opt, objectives=objective
    )
    return adjusted, section


def experiment_timeline(*, experiment: Experiment, days: int | None = None) -> dict:
    """Traffic share and cumulative results per variant over time, from the hourly buckets
    (aggregated in PostgreSQL: per hour, or per day when the experiment spans more than 3 days)."""
    qs = VariantBucket.objects.filter(experiment=experiment)
    first_allowed = None
    if days:
        first_allowed = timezone.now() - timedelta(days=days)
        qs = qs.filter(bucket__gte=first_allowed)
    bounds = qs.aggregate(first=Min("bucket"), last=Max("bucket"))
    first, last = bounds["first"], bounds["last"]
    if first is None:
        return {"granularity": "hour", "points": []}
    granularity = "day" if (last - first) > timedelta(days=3) else "hour"
    table = VariantBucket._meta.db_table
    trunc = "date_trunc('day', bucket)" if granularity == "day" else "date_trunc('hour', bucket)"
    since_sql = " AND bucket >= %(since)s" if days else ""
    points = fetch_rows(
        f"""SELECT {trunc} AS t, variant_id, SUM(assignments) AS assignments, SUM(results) AS results,
                   SUM(SUM(results)) OVER (PARTITION BY variant_id ORDER BY {trunc}) AS cumulative
            FROM {table} WHERE experiment_id = %(experiment)s{since_sql}
            GROUP BY 1, 2 ORDER BY 1, 2""",
        {"experiment": experiment.pk, "since": first_allowed},
        _TimelinePoint,
    )
    return {"granularity": granularity, "points": [point.as_dict() for point in points]}


class _TimelinePoint(NamedTuple):
    t: datetime
    variant_id: int
    assignments: int
    results: int
    cumulative: int

    def as_dict(self) -> dict:
        return {
            "t": self.t,
            "variant_id": self.variant_id,
            "assignments": int(self.assignments),
            "results": int(self.results),
            "cumulative": int(self.cumulative),
        }


def home_card(*, team, request) -> dict:
    counts = Experiment.objects.filter(team=team).aggregate(
        running=Count("id", filter=Q(status=Status.RUNNING)),
        concluded=Count("id", filter=Q(status=Status.CONCLUDED)),
        total=Count("id"),
    )
    results = (
        Variant.objects.filter(team=team, experiment__status=Status.RUNNING).aggregate(n=Sum("results_count"))["n"] or 0
    )
    return {
        "title": "Prompt experiments",
        "url": reverse("improvement:index"),
        "figures": [
            {"label": "Running", "value": formatting.number(counts["running"])},
            {"label": "Concluded", "value": formatting.number(counts["concluded"])},
            {"label": "Results in running experiments", "value": formatting.number(results)},
        ],
        "note": "Bandit selection between prompt variants; promote the winner to the marketplace."
        if counts["total"]
        else "No experiments yet.",
        "links": [
            {"label": "All experiments", "url": reverse("improvement:index")},
            {"label": "New experiment", "url": reverse("improvement:experiment-create")},
        ],
    }
