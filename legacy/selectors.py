"""Reads of the earlier routes, composed from the v1 selectors."""

from __future__ import annotations

from improvement import selectors as improvement_selectors
from improvement.models import Experiment, Variant
from observability import selectors as observability_selectors

# --- observability ---------------------------------------------------------------------------


def dashboard_agents(*, team, period) -> dict:
    """The earlier implementation's ``GET /api/dashboard/agents``: per-agent performance,
    bottlenecks and recommendations, keyed by agent name."""
    data = observability_selectors.dashboard(team=team, period=period)
    current = observability_selectors.per_agent(team, period.start, period.end)
    agents = {}
    for a in data["agents"]:
        agents[a["agent"]] = {
            "executions": a["executions"],
            "success_rate": a["success_rate"],
            "avg_duration_ms": a["avg_duration_ms"],
            "p95_duration_ms": a["p95_ms"],
            "total_tokens": a["input_tokens"] + a["output_tokens"],
            "cost": a["cost"],
        }
    return {
        "period": data["period"],
        "total_executions": data["totals"]["executions"],
        "agents": agents,
        "bottlenecks": observability_selectors.bottlenecks(team=team, period=period, current=current)["by_time"][:5],
        "recommendations": observability_selectors.recommendations(team=team, period=period, current=current),
    }


# --- improvement -----------------------------------------------------------------------------


def experiment_by_name(*, team, name: str):
    return Experiment.objects.filter(team=team, name=name).first()


def improve_report(*, experiment: Experiment) -> dict:
    """The earlier implementation's report shape: the best variant, or a ``message``."""
    variants = list(Variant.objects.filter(experiment=experiment).order_by("id"))
    active = [v for v in variants if v.retired_at is None]
    if not active or all(v.results_count < experiment.min_results for v in active):
        return {"message": f"Need more data (min {experiment.min_results} results per variant)"}
    if len(active) == 1:
        best = active[0]
    else:
        report = improvement_selectors.experiment_report(experiment=experiment, variants=variants)
        if report["winner"] is None:
            return {"message": "No clear winner yet"}
        best = next(v for v in variants if v.pk == report["winner"]["id"])
    return {
        "agent_name": experiment.name,
        "best_variant": {
            "variant_id": str(best.pk),
            "executions": best.results_count,
            "avg_quality": best.quality_mean,
            "success_rate": (best.success_rate or 0.0) * 100.0,
            "avg_duration_s": (best.duration_mean or 0.0) / 1000.0,
        },
        "variants_tested": len(variants),
        "total_executions": sum(v.results_count for v in variants),
        "recommendation": "Deploy best variant to production",
    }
