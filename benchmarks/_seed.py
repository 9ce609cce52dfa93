"""Data the benchmarks share. Import after ``django.setup()``."""

from __future__ import annotations


def select_experiment(*, team, name: str):
    """A running experiment of three prompt variants (``a`` the control) with 60 results each, the
    success rates apart, as ``select`` sees a live experiment (benchmarks/improvement.py,
    benchmarks/api_path.py)."""
    from improvement import services

    experiment = services.experiment_create(
        team=team,
        name=name,
        status="running",
        min_results=30,
        variants=[{"name": n, "prompt": f"Prompt {n}", "is_control": n == "a"} for n in ("a", "b", "c")],
    )
    for i, variant in enumerate(experiment.variants.order_by("id")):
        services.results_record_bulk(
            team=team,
            results=[
                {
                    "variant_id": variant.pk,
                    "success": (k % (i + 2)) != 0,
                    "duration_ms": 1000 + 100 * i,
                    "quality": 60 + 10 * i,
                    "tokens": 500,
                    "cost": 0.001,
                }
                for k in range(60)
            ],
        )
    return experiment
