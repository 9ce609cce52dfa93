"""Where CUPED's covariate comes from for a result that names its unit (no covariate sent).

Improvement sits below the apps that know a unit's history (.importlinter: team memory and
observability are higher layers), so it cannot ask them directly. Instead a higher app registers
a *source* for the unit keys it understands, by prefix, when Django starts (its
``AppConfig.ready``): team memory registers ``build:`` and ``project:``. A results batch then
asks the source for the units of results whose experiment has ``cuped`` on:

    source(team=..., units=[(unit key, experiment started_at)]) -> {(unit key, started_at): metric}

A unit the source does not know, or without history before the experiment, gets no covariate
(its result counts unadjusted). Observability attaches end users' and sessions' history itself,
before it hands results over (observability.covariates).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

CovariateSource = Callable[..., dict[tuple[str, datetime], float]]

_SOURCES: dict[str, CovariateSource] = {}


def covariate_source_register(*, prefix: str, source: CovariateSource) -> None:
    """Serve the units whose key starts with ``prefix`` (``"build:"``) from ``source``; registering
    a prefix again replaces its source (``ready`` may run more than once in tests)."""
    if not prefix:
        raise ValueError("A covariate source needs a unit key prefix.")
    _SOURCES[prefix] = source


def covariate_sources() -> dict[str, CovariateSource]:
    return dict(_SOURCES)


def _source_of(unit: str) -> str | None:
    return next((prefix for prefix in sorted(_SOURCES, key=len, reverse=True) if unit.startswith(prefix)), None)


def covariates_attach(*, team, results: list[dict]) -> None:
    """Fill ``covariate`` of each checked result that has a ``unit``, no covariate, and a variant
    whose experiment has CUPED on and has started (one call per source for the whole batch)."""
    wanted: dict[str, list[tuple[int, str, datetime]]] = defaultdict(list)
    for i, r in enumerate(results):
        if r is None or r.get("covariate") is not None or not r.get("unit"):
            continue
        experiment = r["variant"].experiment
        if not experiment.cuped or experiment.started_at is None:
            continue
        prefix = _source_of(r["unit"])
        if prefix is not None:
            wanted[prefix].append((i, r["unit"], experiment.started_at))
    for prefix, items in wanted.items():
        found = _SOURCES[prefix](team=team, units=sorted({(unit, before) for _, unit, before in items}))
        for i, unit, before in items:
            metric = found.get((unit, before))
            if metric is not None:
                results[i]["covariate"] = float(metric)
