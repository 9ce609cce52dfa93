"""Results: the objective score, checks, and recording with database-side counters."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crucible import limits, sql
from crucible import validation as v
from improvement import covariates, guardrails
from improvement.models import (
    BUCKET_SHARD_SQL,
    Assignment,
    Experiment,
    Variant,
    VariantBucket,
    VariantContext,
    VariantDuration,
)
from improvement.selectors import variants_for_team
from improvement.services._common import RESULT_COST_PLACES, _hour
from improvement.services.guardrails import guardrails_enforce
from improvement.services.selection import UNIT_KEY_CHARS


def objective_score(
    experiment: Experiment, *, success: bool, duration_ms: float, quality: float | None, cost: Decimal | float | None
) -> float | None:
    """One result's score in [0, 1]: the weighted mean of its parts (quality/100, success 1 or 0,
    speed ref/(ref + duration), cost ref/(ref + cost)). A part with no value (quality not given)
    drops out and the other weights are renormalised; None when no weighted part has a value."""
    parts = []
    if experiment.weight_quality > 0 and quality is not None:
        parts.append((experiment.weight_quality, float(quality) / 100.0))
    if experiment.weight_success > 0:
        parts.append((experiment.weight_success, 1.0 if success else 0.0))
    if experiment.weight_speed > 0:
        ref = float(experiment.speed_reference_ms)
        parts.append((experiment.weight_speed, ref / (ref + max(0.0, float(duration_ms)))))
    if experiment.weight_cost > 0:
        ref = float(experiment.cost_reference)
        parts.append((experiment.weight_cost, ref / (ref + max(0.0, float(cost or 0)))))
    weight = sum(w for w, _ in parts)
    if weight <= 0:
        return None
    return min(1.0, max(0.0, sum(w * s for w, s in parts) / weight))


# The unit's metric before the experiment (CUPED's covariate): any finite number within this.
MAX_COVARIATE = 1e12


def _positive_id(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise v.Invalid("Must be a positive integer id.")
    return value


def _result_clean(raw, errors: v.Errors) -> dict | None:
    """One result's values (every bad field filed in ``errors``), or None."""
    if not isinstance(raw, dict):
        errors.add(None, "Each result must be an object.")
        return None
    check = errors.check
    success = check("success", v.boolean, raw.get("success"))
    quality = check("quality", v.number, raw.get("quality"), low=limits.MIN_QUALITY, high=limits.MAX_QUALITY)
    duration = check("duration_ms", v.number, raw.get("duration_ms"), low=0, high=limits.MAX_DURATION_MS, default=0.0)
    tokens = check("tokens", v.whole, raw.get("tokens"), low=0, high=limits.MAX_TOKENS, default=0)
    cost = check("cost", v.money, raw.get("cost"), places=RESULT_COST_PLACES, high=limits.MAX_COST, default=Decimal(0))
    variant_id = check("variant_id", _positive_id, raw.get("variant_id"))
    assignment_id = check("assignment_id", _positive_id, raw.get("assignment_id"))
    covariate = check("covariate", v.number, raw.get("covariate"), low=-MAX_COVARIATE, high=MAX_COVARIATE)
    unit = check("unit", v.text, raw.get("unit"), max_length=UNIT_KEY_CHARS)
    if raw.get("variant_id") is None and raw.get("assignment_id") is None:
        errors.add("variant_id", "Name the variant (variant_id) or the assignment (assignment_id).")
    if errors:
        return None
    return {
        "variant_id": variant_id,
        "assignment_id": assignment_id,
        "success": success,
        "quality": quality,
        "duration_ms": duration,
        "tokens": tokens,
        "cost": cost,
        "covariate": covariate,
        "unit": unit,
    }


def results_check(*, team, results: list, experiment: Experiment | None = None) -> tuple[list, list[v.Errors]]:
    """Every rule a result must pass, without writing: its values (limits of ``crucible.limits``),
    its assignment (of this team, without a result yet, used once in the batch), its variant (of
    this team, active, in an experiment that takes results, in ``experiment`` when given).

    Returns (cleaned results, one ``Errors`` per result with the fields as the result names them);
    a refused result's cleaned value is None. Observability calls it to refuse an event's result
    before storing the event."""
    problems = [v.Errors() for _ in results]
    cleaned = [_result_clean(raw, errors) for raw, errors in zip(results, problems, strict=True)]

    seen_assignments: set[int] = set()
    for r, errors in zip(cleaned, problems, strict=True):
        if r is None or r["assignment_id"] is None:
            continue
        if r["assignment_id"] in seen_assignments:
            errors.add("assignment_id", "The same assignment appears twice; an assignment takes one result.")
        seen_assignments.add(r["assignment_id"])
    assignments = {
        a["id"]: a
        for a in Assignment.objects.filter(pk__in=seen_assignments, team=team).values(
            "id", "variant_id", "result_at", "context"
        )
    }
    for r, errors in zip(cleaned, problems, strict=True):
        if r is None or r["assignment_id"] is None or errors:
            continue
        a = assignments.get(r["assignment_id"])
        if a is None:
            errors.add("assignment_id", "Unknown assignment.")
        elif a["result_at"] is not None:
            errors.add("assignment_id", "This assignment already has a result.")
        elif r["variant_id"] is not None and r["variant_id"] != a["variant_id"]:
            errors.add("variant_id", "This is not the variant the assignment served.")
        else:
            r["variant_id"] = a["variant_id"]
            r["context"] = a["context"]

    ids = {r["variant_id"] for r, errors in zip(cleaned, problems, strict=True) if r is not None and not errors}
    variants = variants_for_team(team=team, ids=ids) if ids else {}
    for r, errors in zip(cleaned, problems, strict=True):
        if r is None or errors:
            continue
        variant = variants.get(r["variant_id"])
        if variant is None:
            errors.add("variant_id", "Unknown variant.")
        elif variant.retired_at is not None:
            errors.add("variant_id", "This variant is retired and takes no results.")
        elif not variant.experiment.accepts_results:
            errors.add("variant_id", f"The variant's experiment is {variant.experiment.status} and takes no results.")
        elif experiment is not None and variant.experiment_id != experiment.pk:
            errors.add("variant_id", f"This variant belongs to another experiment than '{experiment.name}'.")
        else:
            r["variant"] = variant
    return [r if not errors else None for r, errors in zip(cleaned, problems, strict=True)], problems


@transaction.atomic
def results_record_bulk(
    *,
    team,
    results: list[dict],
    experiment: Experiment | None = None,
    skip_refused: bool = False,
    prefix: str = "results",
) -> dict:
    """Record results and move each variant's statistics in the database.

    ``results``: ``[{variant_id or assignment_id, success, duration_ms, quality (0-100 or None),
    tokens, cost, covariate (the unit's metric before the experiment, for CUPED; optional), unit (the
    select's unit key; with CUPED on and no covariate, a registered source gives the unit's history:
    improvement.covariates)}]``, checked by ``results_check``. By default any refused result raises one
    ``ValidationError`` naming every bad field as ``<prefix>.<index>.<field>`` and nothing is
    written. With ``skip_refused`` the others are recorded and the refusals come back as
    ``{"refused": {index: Errors}}``. Then one ``UPDATE ... SET x = x + n`` per variant (in id
    order, so concurrent batches cannot deadlock) and one upsert of the hour's buckets. With
    ``experiment``, every result must belong to it. Returns ``{"recorded": n}``.
    """
    if not isinstance(results, list):
        raise ValidationError({prefix or "results": "Send a list of results."})
    if not results:
        return {"recorded": 0}
    checked, problems = results_check(team=team, results=results, experiment=experiment)
    refused = {index: errors for index, errors in enumerate(problems) if errors}
    if refused and not skip_refused:
        errors = v.Errors()
        for index, problem in refused.items():
            (errors.at(prefix, index) if prefix else errors).merge(problem)
        errors.raise_if_any()
    now = timezone.now()
    _assignments_mark(checked, refused, now=now, prefix=prefix, skip_refused=skip_refused)
    cleaned = [r for r in checked if r is not None]
    if not cleaned:
        return {"recorded": 0, "refused": refused}
    covariates.covariates_attach(team=team, results=cleaned)
    variants = {r["variant"].pk: r["variant"] for r in cleaned}

    totals, durations, contexts = _sums(cleaned, variants)
    for variant_id in sorted(totals):
        t = totals[variant_id]
        Variant.objects.filter(pk=variant_id).update(
            results_count=F("results_count") + int(t["n"]),
            success_count=F("success_count") + int(t["succ"]),
            objective_count=F("objective_count") + int(t["obj_n"]),
            objective_sum=F("objective_sum") + t["obj"],
            objective_sum_sq=F("objective_sum_sq") + t["obj_sq"],
            quality_count=F("quality_count") + int(t["q_n"]),
            quality_sum=F("quality_sum") + t["q"],
            quality_sum_sq=F("quality_sum_sq") + t["q_sq"],
            duration_sum=F("duration_sum") + t["d"],
            duration_sum_sq=F("duration_sum_sq") + t["d_sq"],
            tokens_sum=F("tokens_sum") + int(t["tokens"]),
            cost_sum=F("cost_sum") + t.get("cost", Decimal(0)),
            cost_sum_sq=F("cost_sum_sq") + t["c_sq"],
            **_cuped_moves(t),
        )
    _buckets_add_results(
        [
            (variants[vid].experiment_id, vid, int(totals[vid]["n"]), int(totals[vid]["succ"]), totals[vid]["obj"])
            for vid in sorted(totals)
        ],
        bucket=_hour(now),
    )
    _durations_add(durations)
    _contexts_add(contexts, {vid: variant.experiment_id for vid, variant in variants.items()})
    for experiment_id in sorted({variant.experiment_id for variant in variants.values()}):
        experiment = next(v.experiment for v in variants.values() if v.experiment_id == experiment_id)
        if experiment.guardrail_auto_stop:
            # Retire a variant the guardrails show clearly worse than the control, in this transaction.
            guardrails_enforce(experiment=experiment)
    outcome = {"recorded": len(cleaned)}
    if skip_refused:
        outcome["refused"] = refused
    return outcome


def _assignments_mark(checked: list, refused: dict, *, now, prefix: str, skip_refused: bool) -> None:
    """Mark the results' assignments as answered, in one UPDATE. A concurrent request that
    recorded a result for one of them first (after ``results_check`` read it free) makes that
    result refused, named as ``results_check`` names it: the whole request is refused (nothing is
    written), or with ``skip_refused`` only that result (the others are recorded)."""
    assignment_ids = [r["assignment_id"] for r in checked if r is not None and r["assignment_id"] is not None]
    if not assignment_ids:
        return
    marked = Assignment.objects.filter(pk__in=assignment_ids, result_at__isnull=True).update(result_at=now)
    if marked == len(assignment_ids):
        return
    taken = set(Assignment.objects.filter(pk__in=assignment_ids).exclude(result_at=now).values_list("pk", flat=True))
    errors = v.Errors()
    for index, r in enumerate(checked):
        if r is not None and r["assignment_id"] in taken:
            refused[index] = v.Errors()
            refused[index].add("assignment_id", "This assignment already has a result.")
            (errors.at(prefix, index) if prefix else errors).merge(refused[index])
            checked[index] = None
    if not skip_refused or not taken:
        errors.raise_if_any()
        raise ValidationError({prefix or "assignment_id": "An assignment in this batch already has a result."})


def _buckets_add_results(rows: list[tuple], *, bucket) -> None:
    table = VariantBucket._meta.db_table
    values = ", ".join(
        f"(%(experiment_{i})s, %(variant_{i})s, %(bucket)s, 0, %(results_{i})s, %(successes_{i})s, %(objective_{i})s, "
        f"{BUCKET_SHARD_SQL})"
        for i in range(len(rows))
    )
    params = {"bucket": bucket}
    for i, (experiment_id, variant_id, n, successes, objective) in enumerate(rows):
        params |= {
            f"experiment_{i}": experiment_id,
            f"variant_{i}": variant_id,
            f"results_{i}": n,
            f"successes_{i}": successes,
            f"objective_{i}": objective,
        }
    sql.execute(
        f"""INSERT INTO {table} (experiment_id, variant_id, bucket, assignments, results, successes, objective_sum, shard)
        VALUES {values}
        ON CONFLICT (variant_id, bucket, shard) DO UPDATE SET
            results = {table}.results + EXCLUDED.results,
            successes = {table}.successes + EXCLUDED.successes,
            objective_sum = {table}.objective_sum + EXCLUDED.objective_sum""",
        params,
    )


def _sums(cleaned: list[dict], variants: dict[int, Variant]) -> tuple[dict, dict, dict]:
    """What a batch adds: per variant (totals), per (variant, duration bin), per (variant, context)."""
    totals: dict[int, dict] = defaultdict(lambda: defaultdict(float))
    durations: dict[tuple[int, int], int] = defaultdict(int)  # (variant, bin) -> results
    contexts: dict[tuple[int, str], list] = defaultdict(lambda: [0, 0, 0.0])  # (variant, context) -> sums
    for r in cleaned:
        variant = variants[r["variant_id"]]
        t = totals[variant.pk]
        t["n"] += 1
        t["succ"] += 1 if r["success"] else 0
        score = objective_score(
            variant.experiment, success=r["success"], duration_ms=r["duration_ms"], quality=r["quality"], cost=r["cost"]
        )
        if score is not None:
            t["obj_n"] += 1
            t["obj"] += score
            t["obj_sq"] += score * score
        if score is not None and r.get("covariate") is not None:
            x = float(r["covariate"])
            t["cu_n"] += 1
            t["cu_y"] += score
            t["cu_yy"] += score * score
            t["cu_x"] += x
            t["cu_xx"] += x * x
            t["cu_xy"] += x * score
        if r.get("context"):
            c = contexts[(variant.pk, r["context"])]
            c[0] += 1
            c[1] += score is not None
            c[2] += score or 0.0
        if r["quality"] is not None:
            t["q_n"] += 1
            t["q"] += r["quality"]
            t["q_sq"] += r["quality"] ** 2
        t["d"] += r["duration_ms"]
        t["d_sq"] += r["duration_ms"] ** 2
        t["tokens"] += r["tokens"]
        t.setdefault("cost", Decimal(0))
        t["cost"] += r["cost"]
        t["c_sq"] += float(r["cost"]) ** 2
        durations[(variant.pk, guardrails.duration_bin(r["duration_ms"]))] += 1

    return totals, durations, contexts


def _cuped_moves(t: dict) -> dict:
    """CUPED's sums move only when the batch brought covariates (the usual update stays as it was)."""
    if not t["cu_n"]:
        return {}
    return {
        "cuped_count": F("cuped_count") + int(t["cu_n"]),
        "cuped_y_sum": F("cuped_y_sum") + t["cu_y"],
        "cuped_y_sum_sq": F("cuped_y_sum_sq") + t["cu_yy"],
        "cuped_x_sum": F("cuped_x_sum") + t["cu_x"],
        "cuped_x_sum_sq": F("cuped_x_sum_sq") + t["cu_xx"],
        "cuped_xy_sum": F("cuped_xy_sum") + t["cu_xy"],
    }


def _durations_add(durations: dict[tuple[int, int], int]) -> None:
    """Upsert the p95 guardrail's duration histogram (sorted, so concurrent batches cannot deadlock)."""
    if not durations:
        return
    table = VariantDuration._meta.db_table
    keys = sorted(durations)
    values = ", ".join(f"(%(variant_{i})s, %(bin_{i})s, %(count_{i})s)" for i in range(len(keys)))
    params = {}
    for i, (variant_id, duration_bin) in enumerate(keys):
        params |= {
            f"variant_{i}": variant_id,
            f"bin_{i}": duration_bin,
            f"count_{i}": durations[(variant_id, duration_bin)],
        }
    sql.execute(
        f"""INSERT INTO {table} (variant_id, bin, count) VALUES {values}
        ON CONFLICT (variant_id, bin) DO UPDATE SET count = {table}.count + EXCLUDED.count""",
        params,
    )


def _contexts_add(contexts: dict[tuple[int, str], list], experiments: dict[int, int]) -> None:
    """Upsert each variant's sums within a context bucket (sorted: no deadlock between batches)."""
    if not contexts:
        return
    table = VariantContext._meta.db_table
    keys = sorted(contexts)
    params = {}
    for i, (variant_id, context) in enumerate(keys):
        n, scored, total = contexts[(variant_id, context)]
        params |= {
            f"e{i}": experiments[variant_id],
            f"v{i}": variant_id,
            f"c{i}": context,
            f"n{i}": n,
            f"k{i}": scored,
            f"s{i}": total,
        }
    values = ", ".join(f"(%(e{i})s, %(v{i})s, %(c{i})s, %(n{i})s, %(k{i})s, %(s{i})s)" for i in range(len(keys)))
    sql.execute(
        f"""INSERT INTO {table} (experiment_id, variant_id, context, results, objective_count, objective_sum)
        VALUES {values}
        ON CONFLICT (variant_id, context) DO UPDATE SET
            results = {table}.results + EXCLUDED.results,
            objective_count = {table}.objective_count + EXCLUDED.objective_count,
            objective_sum = {table}.objective_sum + EXCLUDED.objective_sum""",
        params,
    )


def result_record(*, team, experiment: Experiment | None = None, **result) -> dict:
    """One result (see ``results_record_bulk``); bad fields are named as sent (``quality``)."""
    return results_record_bulk(team=team, results=[result], experiment=experiment, prefix="")
