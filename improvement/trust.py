"""Reads behind the report's trust checks: guardrails against the control and sample ratio
mismatch. The arithmetic lives in improvement.guardrails and improvement.srm (pure functions);
this module loads what they need in one query each."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.db.models import Sum

from improvement import conf, guardrails, srm
from improvement.models import Experiment, RolloutTally, Variant, VariantBucket, VariantDuration
from marketplace import conf as marketplace_conf
from marketplace import selectors as marketplace_selectors


def duration_bins(*, variant_ids) -> dict[int, dict[int, int]]:
    """The duration histogram of each variant: {variant id: {bin: results}}."""
    found: dict[int, dict[int, int]] = defaultdict(dict)
    for variant_id, duration_bin, count in VariantDuration.objects.filter(variant_id__in=list(variant_ids)).values_list(
        "variant_id", "bin", "count"
    ):
        found[variant_id][duration_bin] = count
    return found


def margins_of(experiment: Experiment) -> guardrails.Margins:
    return guardrails.Margins(
        error_rate=experiment.guardrail_error_margin,
        p95_duration=experiment.guardrail_p95_margin,
        cost_per_run=experiment.guardrail_cost_margin,
    )


def experiment_guardrails(*, experiment: Experiment, variants: list[Variant]) -> dict:
    """Each active non-control variant's guardrails against the control, with their evidence.
    ``breached`` lists the ids of variants clearly worse than the control on any guardrail."""
    control = next((v for v in variants if v.is_control), None)
    margins = margins_of(experiment)
    body = {"control": control.name if control else None, "variants": [], "breached": []}
    if control is None:
        body["note"] = "Guardrails compare each variant with the control; mark one variant as the control."
        return body
    active = [v for v in variants if v.retired_at is None and v.pk != control.pk]
    bins = duration_bins(variant_ids=[control.pk, *[v.pk for v in active]])
    control_figures = _figures(control, bins)
    alpha = 1.0 - conf.CONFIDENCE
    for v in active:
        checks = guardrails.compare(
            _figures(v, bins),
            control_figures,
            margins,
            alpha=alpha,
            min_results=experiment.min_results,
            n_opt=conf.SEQUENTIAL_N_OPT,
        )
        breached = any(check.breached for check in checks)
        if breached:
            body["breached"].append(v.pk)
        body["variants"].append(
            {
                "id": v.pk,
                "name": v.name,
                "breached": breached,
                "checks": [
                    {
                        "metric": check.metric,
                        "label": check.label,
                        "margin": check.margin,
                        "control_value": check.control_value,
                        "variant_value": check.variant_value,
                        "low": check.low,
                        "high": check.high,
                        "breached": check.breached,
                        "evidence": check.evidence(v.name, control.name),
                    }
                    for check in checks
                ],
            }
        )
    return body


def _figures(variant: Variant, bins) -> guardrails.Figures:
    return guardrails.Figures(
        id=variant.pk,
        name=variant.name,
        results=variant.results_count,
        successes=variant.success_count,
        cost_sum=float(variant.cost_sum),
        cost_sum_sq=variant.cost_sum_sq,
        bins=bins.get(variant.pk, {}),
    )


def _active_in(variant: Variant, hour) -> bool:
    return variant.created_at < hour + timedelta(hours=1) and (variant.retired_at is None or variant.retired_at > hour)


def experiment_srm(*, experiment: Experiment, variants: list[Variant]) -> dict:
    """The sample-ratio checks of the experiment (improvement.srm) and the worst status."""
    names = {v.pk: v.name for v in variants}
    # An hour's figures may be spread over several rows (VariantBucket.shard): summed per hour and
    # variant in PostgreSQL.
    rows = (
        VariantBucket.objects.filter(experiment=experiment)
        .values("bucket", "variant_id")
        .annotate(uniform=Sum("uniform_draws"), greedy=Sum("greedy_draws"))
        .values_list("bucket", "variant_id", "uniform", "greedy")
        .order_by()
    )
    by_hour: dict = defaultdict(dict)
    explored = exploited = 0
    for hour, variant_id, uniform, greedy in rows:
        if uniform:
            by_hour[hour][variant_id] = uniform
        explored += uniform
        exploited += greedy
    hours = [(draws, [v.pk for v in variants if _active_in(v, hour)]) for hour, draws in sorted(by_hour.items())]
    observed, expected = srm.uniform_draws(hours)
    results = [
        srm.goodness_of_fit(
            "uniform_draws",
            {names.get(k, str(k)): n for k, n in observed.items()},
            {names.get(k, str(k)): n for k, n in expected.items()},
        )
    ]
    if experiment.strategy == "epsilon_greedy":
        results.append(srm.exploration_share(explored, exploited, experiment.epsilon))
    status = srm.worst(results)
    return {
        "status": status,
        "status_label": srm.LABELS[status],
        "checks": [
            {
                "check": r.check,
                "status": r.status,
                "statistic": r.statistic,
                "df": r.df,
                "p_value": r.p_value,
                "observed": r.observed,
                "expected": r.expected,
                "message": r.message,
            }
            for r in results
        ],
    }


def rollout_figures(*, rollout) -> dict[str, guardrails.Figures]:
    """Stable's and the candidate's runs in a rollout, as the guardrails read them (two queries):
    the rollout's own team's runs, and other teams' only from teams that share evidence now and
    only once at least ``CRUCIBLE_EVIDENCE_MIN_TEAMS`` of them ran its versions (pooled, never
    named: the publisher must not read fewer teams' figures)."""
    rows = list(
        RolloutTally.objects.filter(rollout=rollout).values_list(
            "team_id", "arm", "bin", "results", "successes", "cost_sum", "cost_sum_sq"
        )
    )
    others = {row[0] for row in rows} - {rollout.team_id}
    counted = {rollout.team_id}
    if others:
        sharing = marketplace_selectors.evidence_sharing_team_ids(team_ids=sorted(others))
        if len(sharing) >= marketplace_conf.EVIDENCE_MIN_TEAMS:
            counted |= sharing
    sums = {
        arm: {"results": 0, "successes": 0, "cost": 0.0, "cost_sq": 0.0, "bins": defaultdict(int)}
        for arm in ("stable", "candidate")
    }
    for team_id, arm, duration_bin, results, successes, cost, cost_sq in rows:
        if team_id not in counted:
            continue
        s = sums[arm]
        s["results"] += results
        s["successes"] += successes
        s["cost"] += cost
        s["cost_sq"] += cost_sq
        s["bins"][duration_bin] += results
    return {
        arm: guardrails.Figures(
            0 if arm == "stable" else 1, arm, s["results"], s["successes"], s["cost"], s["cost_sq"], dict(s["bins"])
        )
        for arm, s in sums.items()
    }


def rollout_checks(*, rollout) -> tuple[dict, list[guardrails.Check]]:
    """The rollout's figures and its guardrails, candidate against stable."""
    figures = rollout_figures(rollout=rollout)
    margins = margins_of(rollout.experiment) if rollout.experiment_id else guardrails.Margins()
    checks = guardrails.compare(
        figures["candidate"],
        figures["stable"],
        margins,
        alpha=1.0 - conf.CONFIDENCE,
        min_results=rollout.min_results,
        n_opt=conf.SEQUENTIAL_N_OPT,
    )
    return figures, checks
