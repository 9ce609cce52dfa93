"""Reads of team memory: build lists, insights, the quality trend, agent outcomes, stack
suggestions and recommendations. Every aggregate is computed by PostgreSQL from the daily rollups
(counts, sums, histograms, regr_* regression sums); Python only arranges the few result rows and
reads percentiles off the summed histogram. What needs raw builds (flaky stacks, the suggestion's
text similarity, evidence lists) reads a bounded window with LIMITs."""

from __future__ import annotations

import datetime as dt
import json
import math
import re

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from crucible import formatting, periods
from crucible.money import money, money_average
from crucible.rules import run_rules
from crucible.sql import fetch_rows
from teammemory import conf, histogram, rollups
from teammemory import recommendations as tm_recommendations
from teammemory.models import Build, BuildStatus
from teammemory.stacks import normalize_component, normalize_components
from teammemory.stats import slope_test, wilson_lower_bound

SUCCEEDED, FAILED, CANCELLED = BuildStatus.SUCCEEDED.value, BuildStatus.FAILED.value, BuildStatus.CANCELLED.value


# --- Lists -------------------------------------------------------------------------------------


def build_list(*, team_ids) -> QuerySet[Build]:
    return Build.objects.filter(team_id__in=team_ids).select_related("team", "reported_by", "api_key")


def build_detail_queryset(*, team_ids) -> QuerySet[Build]:
    return build_list(team_ids=team_ids).prefetch_related(
        "errors", "agent_uses__agent__team", "agent_uses__agent_version"
    )


def build_executions(*, build, limit: int = 100):
    """The build's executions (stored and listed by observability), oldest first."""
    from observability import selectors as obs_selectors

    return list(obs_selectors.executions_for_build(team=build.team, build=build)[:limit])


# --- Insights (read from the daily rollups) ------------------------------------------------------
#
# Whole UTC days come from the rollup tables, the partial days at the edges of the range from the
# raw builds shaped like rollup rows (teammemory.rollups.source): exact counts and sums for any
# range, at a cost that grows with days x groups rather than with builds. Medians and p90 come
# from the summed log-scale duration histogram (teammemory.histogram: nearest rank, within
# RELATIVE_ERROR of the exact value).

_OUTCOME_SUMS = """sum(r.builds)::bigint AS builds, sum(r.succeeded)::bigint AS succeeded,
       sum(r.failed)::bigint AS failed, sum(r.cancelled)::bigint AS cancelled,
       sum(r.quality_sum)::float / nullif(sum(r.scored), 0) AS avg_quality"""
_METRIC_SUMS = f"""{_OUTCOME_SUMS}, sum(r.tokens)::bigint AS total_tokens, sum(r.cost) AS total_cost,
       {rollups.HIST_SUM} AS hist"""


def _rates(row: dict) -> dict:
    """Success rate over decided builds (succeeded + failed; cancelled ones decide nothing) and its
    complement, the failure rate (DORA's change failure rate). A ``hist`` becomes the median and
    p90 duration."""
    out = dict(row)
    for key in ("builds", "succeeded", "failed", "cancelled"):
        out[key] = int(out.get(key) or 0)
    decided = out["succeeded"] + out["failed"]
    success = out["succeeded"] / decided if decided else None
    out["decided"] = decided
    out["success_rate"] = success
    out["failure_rate"] = None if success is None else 1 - success
    out["small_sample"] = out["builds"] < conf.MIN_SAMPLE
    if "hist" in out:
        hist = out.pop("hist")
        out["median_duration_ms"] = histogram.percentile(hist, 0.5)
        out["p90_duration_ms"] = histogram.percentile(hist, 0.9)
        builds = out["builds"]
        out["tokens_per_build"] = (out["total_tokens"] or 0) / builds if builds else None
        out["cost_per_build"] = money_average(out["total_cost"], builds)
        out["total_tokens"] = int(out["total_tokens"] or 0)
        out["total_cost"] = money(out["total_cost"])
    if out.get("avg_quality") is not None:
        out["avg_quality"] = float(out["avg_quality"])
    return out


# The period of the insights: presets of whole days ending with today (UTC); ``since``/``until``
# given alone are completed with the default length or now. Any span, back to year 1.
PERIOD_RULES = periods.PeriodRules(
    presets=tuple(dict.fromkeys(("30d", "90d", "180d", "365d", f"{conf.INSIGHTS_DEFAULT_DAYS}d"))),
    default=f"{conf.INSIGHTS_DEFAULT_DAYS}d",
    start_name="since",
    end_name="until",
    earliest=dt.datetime.min.replace(tzinfo=dt.UTC),
    latest=dt.datetime.max.replace(tzinfo=dt.UTC),
    max_length=None,
    custom_unit=None,
    start_help="Start (inclusive), ISO 8601; UTC if no offset is given.",
    end_help="End (exclusive). Default: now.",
)


def _complete_range(since, until) -> tuple[dt.datetime, dt.datetime]:
    """The insights period rule (``PERIOD_RULES``): bounds given are kept, a missing end is now, a
    missing start is the default length before the end; neither is the default preset."""
    period = periods.period_resolve(PERIOD_RULES, start=since, end=until)
    return period.start, period.end


def _days_before(moment: dt.datetime, days: int) -> dt.datetime:
    """``moment`` minus ``days``, or the earliest datetime when that is before year 1."""
    try:
        return moment - dt.timedelta(days=days)
    except OverflowError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def stack_figures(*, team, since: dt.datetime, until: dt.datetime, limit: int | None = None) -> dict:
    """Summary, by stack and by component in one pass over the stack rollups of the range: rows
    are first summed per (stack, components), then those few rows per stack, per component (a
    component's builds are those of the stacks that contain it) and overall."""
    src, params = rollups.source("stack", team.pk, since, until)
    limit = limit or conf.INSIGHTS_TOP_N
    sql = f"""
        WITH per_stack AS MATERIALIZED (
            SELECT r.stack_key, r.components, sum(r.builds) AS builds, sum(r.succeeded) AS succeeded,
                   sum(r.failed) AS failed, sum(r.cancelled) AS cancelled, sum(r.scored) AS scored,
                   sum(r.quality_sum) AS quality_sum, sum(r.tokens) AS tokens, sum(r.cost) AS cost,
                   {rollups.HIST_SUM} AS hist
            FROM {src} r
            GROUP BY r.stack_key, r.components
        )
        SELECT 'summary' AS part, NULL::text AS key, {_METRIC_SUMS} FROM per_stack r
        UNION ALL
        (SELECT 'stack', r.stack_key::text, {_METRIC_SUMS} FROM per_stack r GROUP BY r.stack_key
         ORDER BY builds DESC, r.stack_key LIMIT %(limit)s)
        UNION ALL
        (SELECT 'component', c.component::text, {_METRIC_SUMS}
         FROM per_stack r CROSS JOIN LATERAL unnest(r.components) AS c(component)
         GROUP BY c.component ORDER BY builds DESC, c.component COLLATE "C" LIMIT %(limit)s)
    """
    out = {"summary": None, "by_stack": [], "by_component": []}
    for row in fetch_rows(sql, params | {"limit": limit}):
        part, key = row.pop("part"), row.pop("key")
        if part == "summary":
            out["summary"] = _rates(row)
        elif part == "stack":
            out["by_stack"].append(_rates({"stack_key": key, **row}))
        else:
            out["by_component"].append(_rates({"component": key, **row}))
    return out


def insights_summary(*, team, since: dt.datetime, until: dt.datetime) -> dict:
    src, params = rollups.source("stack", team.pk, since, until)
    return _rates(fetch_rows(f"SELECT {_METRIC_SUMS} FROM {src} r", params)[0])


def insights_by_stack(*, team, since: dt.datetime, until: dt.datetime, limit: int | None = None) -> list[dict]:
    return stack_figures(team=team, since=since, until=until, limit=limit)["by_stack"]


def insights_by_component(*, team, since: dt.datetime, until: dt.datetime, limit: int | None = None) -> list[dict]:
    return stack_figures(team=team, since=since, until=until, limit=limit)["by_component"]


def insights_top_errors(*, team, since: dt.datetime, until: dt.datetime, limit: int | None = None) -> list[dict]:
    src, params = rollups.source("error", team.pk, since, until)
    sql = f"""
        SELECT r.error_type COLLATE "C" AS error_type, sum(r.occurrences)::bigint AS occurrences,
               sum(r.builds)::bigint AS builds, sum(r.failed_builds)::bigint AS failed_builds,
               max(r.example_message) AS example_message
        FROM {src} r GROUP BY 1
        ORDER BY builds DESC, occurrences DESC, 1
        LIMIT %(limit)s
    """
    return fetch_rows(sql, params | {"limit": limit or conf.INSIGHTS_TOP_N})


def quality_trend(*, team, since: dt.datetime, until: dt.datetime) -> dict:
    """Average quality and success rate per ISO week (weeks start on Monday, UTC), with the OLS
    slope of each against the week number (regr_slope / regr_r2 / regr_count), its t-test, and
    a direction that is "rising" or "falling" only when the slope is significant. Read from the
    daily rollups (exact: weeks are made of whole days)."""
    src, params = rollups.source("stack", team.pk, since, until, hist=False)
    sql = f"""
        WITH weeks AS (
            SELECT date_trunc('week', r.day::timestamp) AS week,
                   sum(r.builds)::bigint AS builds,
                   sum(r.scored)::bigint AS scored,
                   sum(r.quality_sum)::float / nullif(sum(r.scored), 0) AS avg_quality,
                   sum(r.succeeded)::bigint AS succeeded,
                   sum(r.succeeded + r.failed)::bigint AS decided
            FROM {src} r
            GROUP BY 1
        ), points AS (
            SELECT weeks.*,
                   extract(epoch FROM week)::float / 604800.0 AS x,
                   CASE WHEN decided > 0 THEN succeeded::float / decided END AS success_rate
            FROM weeks
        ), fit AS (
            SELECT regr_slope(avg_quality, x) AS q_slope, regr_r2(avg_quality, x) AS q_r2,
                   regr_count(avg_quality, x) AS q_n, regr_intercept(avg_quality, x) AS q_intercept,
                   regr_slope(success_rate, x) AS s_slope, regr_r2(success_rate, x) AS s_r2,
                   regr_count(success_rate, x) AS s_n, regr_intercept(success_rate, x) AS s_intercept
            FROM points
        )
        SELECT points.week, points.builds, points.scored, points.avg_quality, points.succeeded,
               points.decided, points.success_rate, points.x, fit.*
        FROM points CROSS JOIN fit
        ORDER BY points.week
    """
    rows = fetch_rows(sql, params)
    weeks = [
        {
            "week": row["week"].date().isoformat(),
            "builds": row["builds"],
            "avg_quality": row["avg_quality"],
            "success_rate": row["success_rate"],
        }
        for row in rows
    ]
    fit = rows[0] if rows else {}

    def describe(prefix: str, unit: str) -> dict:
        slope, r2, n = fit.get(f"{prefix}_slope"), fit.get(f"{prefix}_r2"), fit.get(f"{prefix}_n") or 0
        test = slope_test(slope=slope, r2=r2, n=n)
        enough = n >= max(conf.TREND_MIN_WEEKS, 3)
        significant = bool(enough and test["p_value"] is not None and test["p_value"] < conf.TREND_ALPHA)
        if not enough:
            direction = "insufficient_data"
        elif not significant or not slope:
            direction = "flat"
        else:
            direction = "rising" if slope > 0 else "falling"
        return {
            "slope_per_week": slope,
            "unit": unit,
            "r2": r2,
            "weeks": n,
            "t": None if test["t"] is None or math.isinf(test["t"]) else test["t"],
            "p_value": test["p_value"],
            "significant": significant,
            "alpha": conf.TREND_ALPHA,
            "direction": direction,
        }

    quality = describe("q", "quality points per week")
    success = describe("s", "success rate per week")
    # Fitted line for the chart (PostgreSQL's intercept and slope at each week's x).
    for week, row in zip(weeks, rows, strict=True):
        if fit.get("q_slope") is not None:
            week["quality_fit"] = row["q_intercept"] + row["q_slope"] * row["x"]
    return {"weeks": weeks, "quality": quality, "success_rate": success}


def agent_outcomes(
    *, team, since: dt.datetime, until: dt.datetime, team_summary: dict | None = None, limit: int | None = None
) -> list[dict]:
    """Builds per agent version with their success rate and quality, beside the team's figures
    in the same range (``delta_*``). Counts stay in the output so small samples show as such."""
    team_row = team_summary or insights_summary(team=team, since=since, until=until)
    src, params = rollups.source("agent", team.pk, since, until)
    sql = f"""
        SELECT r.agent_id, r.agent_version_id, {_OUTCOME_SUMS}
        FROM {src} r
        GROUP BY r.agent_id, r.agent_version_id
        ORDER BY builds DESC, r.agent_id, r.agent_version_id
        LIMIT %(limit)s
    """
    rows = fetch_rows(sql, params | {"limit": limit or conf.INSIGHTS_TOP_N * 3})
    from marketplace.models import Agent, AgentVersion  # names of the few agents in the result

    agents = {a.pk: a for a in Agent.objects.filter(pk__in={r["agent_id"] for r in rows}).select_related("team")}
    versions = dict(
        AgentVersion.objects.filter(pk__in={r["agent_version_id"] for r in rows if r["agent_version_id"]}).values_list(
            "pk", "version"
        )
    )
    out = []
    for row in rows:
        agent = agents.get(row["agent_id"])
        rates = _rates({k: row[k] for k in ("builds", "succeeded", "failed", "cancelled", "avg_quality")})
        out.append(
            {
                "agent_id": row["agent_id"],
                "agent": f"{agent.team.slug}/{agent.slug}" if agent else str(row["agent_id"]),
                "agent_name": agent.name if agent else "",
                "version_id": row["agent_version_id"],
                "version": versions.get(row["agent_version_id"]),
                **rates,
                "delta_success_rate": None
                if rates["success_rate"] is None or team_row["success_rate"] is None
                else rates["success_rate"] - team_row["success_rate"],
                "delta_quality": None
                if rates["avg_quality"] is None or team_row["avg_quality"] is None
                else rates["avg_quality"] - team_row["avg_quality"],
            }
        )
    return out


def team_insights(*, team, since: dt.datetime | None = None, until: dt.datetime | None = None) -> dict:
    since, until = _complete_range(since, until)
    window = {"team": team, "since": since, "until": until}
    figures = stack_figures(**window)
    summary = figures["summary"]
    return {
        "team": team.slug,
        "since": since,
        "until": until,
        "summary": summary,
        "by_stack": figures["by_stack"],
        "by_component": figures["by_component"],
        "top_errors": insights_top_errors(**window),
        "trend": quality_trend(**window),
        "agents": agent_outcomes(**window, team_summary=summary),
    }


# --- Stack suggestion --------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9][a-z0-9.#+\-]*")
_TSQUERY_OR = (
    r"regexp_replace(plainto_tsquery('english', %(requirements)s)::text, ' (&|<[0-9-]+>) ', ' | ', 'g')::tsquery"
)


def components_mentioned(text: str, limit: int = 5000) -> list[str]:
    """Normalised names of words and two/three-word phrases in ``text`` ("Postgres" -> postgresql,
    "ruby on rails"). Used as the component side of similarity: overlap is counted on the past
    build's components, so only names that are real components there count."""
    words = [w.rstrip(".-") for w in _WORD.findall(text.lower()[: limit * 10])][:limit]
    grams = set(words)
    grams.update(" ".join(words[i : i + 2]) for i in range(len(words) - 1))
    grams.update(" ".join(words[i : i + 3]) for i in range(len(words) - 2))
    return sorted({normalize_component(g) for g in grams if g})


def _json(value):
    """jsonb from a raw cursor arrives as text (Django leaves decoding to the model field)."""
    return json.loads(value) if isinstance(value, str) else value


def _suggestion_row(row: dict, z: float) -> dict:
    decided = row["succeeded"] + row["failed"]
    lower = wilson_lower_bound(row["succeeded"], decided, z)
    avg_quality = float(row["avg_quality"]) if row["avg_quality"] is not None else None
    quality_weight = avg_quality / 100 if avg_quality is not None else 0.5
    return {
        "stack_key": row["stack_key"],
        "components": list(_json(row["components"]) or []),
        "stack": _json(row.get("stack")) or {},
        "builds": row["builds"],
        "succeeded": row["succeeded"],
        "failed": row["failed"],
        "success_rate": row["succeeded"] / decided if decided else None,
        "avg_quality": avg_quality,
        "wilson_lower_bound": lower,
        "score": lower * quality_weight,
        "avg_similarity": float(row["avg_similarity"]) if row.get("avg_similarity") is not None else None,
        "small_sample": row["builds"] < conf.MIN_SAMPLE,
        "evidence": [],
    }


def _evidence(ids_by_stack: dict[str, list[int]], similarity: dict[int, float] | None = None) -> dict[str, list[dict]]:
    ids = [i for group in ids_by_stack.values() for i in group]
    builds = {
        b["id"]: b
        for b in Build.objects.filter(pk__in=ids).values(
            "id", "client_build_id", "project_name", "status", "quality", "started_at"
        )
    }
    out = {}
    for key, group in ids_by_stack.items():
        rows = []
        for build_id in group:
            if build_id in builds:
                row = dict(builds[build_id])
                if similarity is not None:
                    row["similarity"] = similarity.get(build_id)
                rows.append(row)
        out[key] = rows
    return out


def stack_suggest(
    *,
    team,
    requirements: str,
    require=(),
    exclude=(),
    prefer=(),
    limit: int = 3,
    now: dt.datetime | None = None,
) -> dict:
    """Stacks for new requirements, from the team's own history.

    1. Similar past builds: full-text similarity of the requirements (ts_rank of the build's
       tsvector against an OR of the new text's lexemes, scaled to 0-1) combined with component
       overlap (share of the build's components named in the text or in ``prefer``/``require``).
       ``require``/``exclude`` filter builds by component.
    2. Candidate stacks among them are ranked by the Wilson lower bound of their success rate
       times their average quality / 100, so a stack proven over many builds outranks a lucky
       one-off.
    3. With fewer than SUGGEST_MIN_SIMILAR similar builds the answer says so and ranks the
       team's stacks over all its builds instead (``basis = "team_history"``).
    """
    now = now or timezone.now()
    require = normalize_components(require)
    exclude = normalize_components(exclude)
    prefer = normalize_components(prefer)
    target = sorted(set(components_mentioned(requirements)) | set(prefer) | set(require))
    text_weight = conf.SUGGEST_TEXT_WEIGHT
    since = now - dt.timedelta(days=conf.SUGGEST_LOOKBACK_DAYS) if conf.SUGGEST_LOOKBACK_DAYS > 0 else None
    z = conf.WILSON_Z
    filters_sql = "b.team_id = %(team)s AND b.components @> %(require)s::varchar[] AND NOT (b.components && %(exclude)s::varchar[])"
    if since is not None:
        filters_sql += " AND b.started_at >= %(since)s"
    # With no text at all, component overlap is all there is to compare.
    text_weight, component_weight = (text_weight, 1 - text_weight) if requirements.strip() else (0.0, 1.0)
    params = {
        "requirements": requirements,
        "team": team.pk,
        "require": require,
        "exclude": exclude,
        "since": since,
        "target": target,
        "candidates": conf.SUGGEST_CANDIDATES,
        "text_weight": text_weight,
        "component_weight": component_weight,
        "min_similarity": conf.SUGGEST_MIN_SIMILARITY,
        "similar_limit": conf.SUGGEST_SIMILAR_LIMIT,
        "succeeded": SUCCEEDED,
        "failed": FAILED,
        "evidence_builds": conf.SUGGEST_EVIDENCE_BUILDS,
    }

    sql = f"""
        WITH q AS (SELECT {_TSQUERY_OR} AS q),
        recent AS (
            -- Bounded: the most recent SUGGEST_CANDIDATES builds that share a lexeme or a
            -- component with the request (GIN indexes, or the (team, started_at) index backwards).
            SELECT b.id FROM teammemory_build b, q
            WHERE {filters_sql}
              AND (b.search @@ q.q OR b.components && %(target)s::varchar[])
            ORDER BY b.started_at DESC
            LIMIT %(candidates)s
        ),
        cand AS (
            SELECT b.id, b.stack_key, b.components, b.stack, b.status, b.quality, b.started_at,
                   ts_rank(ARRAY[1, 1, 1, 1]::float4[], b.search, q.q, 32) AS text_sim,
                   (SELECT count(*) FROM unnest(b.components) c WHERE c = ANY(%(target)s::varchar[]))::float
                       / greatest(cardinality(b.components), 1) AS comp_sim
            FROM recent JOIN teammemory_build b ON b.id = recent.id, q
        ), scored AS (
            SELECT cand.*, (%(text_weight)s * text_sim + %(component_weight)s * comp_sim) AS similarity FROM cand
        ), top AS (
            SELECT * FROM scored WHERE similarity >= %(min_similarity)s
            ORDER BY similarity DESC, started_at DESC, id DESC LIMIT %(similar_limit)s
        )
        SELECT stack_key,
               count(*) AS builds,
               count(*) FILTER (WHERE status = %(succeeded)s) AS succeeded,
               count(*) FILTER (WHERE status = %(failed)s) AS failed,
               avg(quality) AS avg_quality,
               avg(similarity) AS avg_similarity,
               (array_agg(to_jsonb(components) ORDER BY similarity DESC, id DESC))[1] AS components,
               (array_agg(stack ORDER BY similarity DESC, id DESC))[1] AS stack,
               (array_agg(id ORDER BY similarity DESC, id DESC))[1:%(evidence_builds)s] AS evidence_ids,
               (array_agg(similarity ORDER BY similarity DESC, id DESC))[1:%(evidence_builds)s] AS evidence_similarity
        FROM top GROUP BY stack_key
    """
    groups = fetch_rows(sql, params)
    similar_count = sum(g["builds"] for g in groups)
    constraints = {"require": require, "exclude": exclude, "prefer": prefer}

    if similar_count >= conf.SUGGEST_MIN_SIMILAR:
        suggestions = sorted(
            (_suggestion_row(g, z) for g in groups), key=lambda s: (-s["score"], -s["builds"], s["stack_key"])
        )[:limit]
        by_key = {g["stack_key"]: g for g in groups}
        evidence = _evidence(
            {s["stack_key"]: list(by_key[s["stack_key"]]["evidence_ids"]) for s in suggestions},
            {
                i: float(v)
                for s in suggestions
                for i, v in zip(
                    by_key[s["stack_key"]]["evidence_ids"], by_key[s["stack_key"]]["evidence_similarity"], strict=True
                )
            },
        )
        for s in suggestions:
            s["evidence"] = evidence.get(s["stack_key"], [])
        return {
            "basis": "similar_builds",
            "fallback": False,
            "similar_builds": similar_count,
            "min_similar_builds": conf.SUGGEST_MIN_SIMILAR,
            "note": f"Ranked from {similar_count} similar past builds of this team.",
            "constraints": constraints,
            "suggestions": suggestions,
        }

    # Fallback: the strongest stacks across the team's history (same constraints and score), from
    # the daily rollups of the lookback period (exact: partial edge days come from raw builds).
    stack_source, stack_params = rollups.source(
        "stack",
        team.pk,
        since or dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 1, 1, tzinfo=dt.UTC),
        hist=False,
    )
    fallback_sql = f"""
        WITH stacks AS (
            SELECT r.stack_key,
                   sum(r.builds)::bigint AS builds,
                   sum(r.succeeded)::bigint AS succeeded,
                   sum(r.failed)::bigint AS failed,
                   sum(r.quality_sum)::float / nullif(sum(r.scored), 0) AS avg_quality
            FROM {stack_source} r
            WHERE r.components @> %(require)s::varchar[] AND NOT (r.components && %(exclude)s::varchar[])
              AND r.stack_key <> ''
            GROUP BY r.stack_key
        )
        SELECT s.*, latest.components, latest.stack, latest.ids AS evidence_ids
        FROM stacks s
        CROSS JOIN LATERAL (
            SELECT (array_agg(to_jsonb(x.components)))[1] AS components, (array_agg(x.stack))[1] AS stack,
                   array_agg(x.id) AS ids
            FROM (
                SELECT b.id, b.components, b.stack FROM teammemory_build b
                WHERE {filters_sql} AND b.stack_key = s.stack_key AND b.status = %(succeeded)s
                ORDER BY b.started_at DESC, b.id DESC LIMIT %(evidence_builds)s
            ) x
        ) latest
    """
    stacks = fetch_rows(fallback_sql, params | stack_params)
    suggestions = sorted(
        (_suggestion_row(g, z) for g in stacks), key=lambda s: (-s["score"], -s["builds"], s["stack_key"])
    )[:limit]
    evidence = _evidence(
        {
            s["stack_key"]: list(next(g for g in stacks if g["stack_key"] == s["stack_key"])["evidence_ids"] or [])
            for s in suggestions
        }
    )
    for s in suggestions:
        s["evidence"] = evidence.get(s["stack_key"], [])
    if suggestions:
        note = (
            f"Only {similar_count} past build{'s' if similar_count != 1 else ''} resemble these requirements "
            f"({conf.SUGGEST_MIN_SIMILAR} needed): these are the team's strongest stacks overall, not matched "
            "to the requirements."
        )
        basis = "team_history"
    else:
        note = "This team has no builds (within the constraints) to learn from yet."
        basis = "none"
    return {
        "basis": basis,
        "fallback": True,
        "similar_builds": similar_count,
        "min_similar_builds": conf.SUGGEST_MIN_SIMILAR,
        "note": note,
        "constraints": constraints,
        "suggestions": suggestions,
    }


# --- Recommendations ---------------------------------------------------------------------------


def flaky_stacks(
    *,
    team,
    since: dt.datetime,
    until: dt.datetime,
    window_hours: int | None = None,
    min_flips: int | None = None,
    min_rate: float | None = None,
) -> list[dict]:
    """Stacks where the same requirements (same normalised text) both passed and failed within
    ``window_hours``: consecutive decided builds of one (stack, requirements) whose status flips.
    A stack is listed from ``min_flips`` flips and ``min_rate`` flips per decided build of the
    stack, so a busy stack with the odd retry is not called flaky.

    This needs the builds themselves, so it is bounded: only the last RECO_FLAKY_LOOKBACK_DAYS of
    the range, and at most RECO_FLAKY_MAX_BUILDS of its most recent decided builds (an index-only
    scan of ``build_team_started`` backwards)."""
    window_hours = conf.RECO_FLAKY_WINDOW_HOURS if window_hours is None else window_hours
    min_flips = conf.RECO_FLAKY_MIN_FLIPS if min_flips is None else min_flips
    min_rate = conf.RECO_FLAKY_MIN_RATE if min_rate is None else min_rate
    start = max(since, _days_before(until, conf.RECO_FLAKY_LOOKBACK_DAYS))
    sql = """
        WITH decided AS (
            SELECT b.id, b.stack_key, b.requirements_hash, b.status, b.started_at
            FROM teammemory_build b
            WHERE b.team_id = %(team)s AND b.started_at >= %(start)s AND b.started_at < %(until)s
              AND b.status IN (%(succeeded)s, %(failed)s) AND b.stack_key <> ''
            ORDER BY b.started_at DESC
            LIMIT %(max_builds)s
        ), per_stack AS (
            SELECT stack_key, count(*) AS builds FROM decided GROUP BY stack_key
        ), pairs AS (
            SELECT stack_key, requirements_hash, status, started_at,
                   lag(status) OVER w AS previous_status,
                   lag(started_at) OVER w AS previous_started_at
            FROM decided
            WHERE requirements_hash <> md5('')
            WINDOW w AS (PARTITION BY stack_key COLLATE "C", requirements_hash COLLATE "C" ORDER BY started_at, id)
        )
        SELECT p.stack_key, s.builds,
               count(*) FILTER (WHERE p.previous_status <> p.status) AS flips,
               count(*) AS repeats,
               count(DISTINCT p.requirements_hash) FILTER (WHERE p.previous_status <> p.status) AS requirement_sets,
               max(p.started_at) FILTER (WHERE p.previous_status <> p.status) AS last_flip_at
        FROM pairs p JOIN per_stack s ON s.stack_key = p.stack_key
        WHERE p.previous_status IS NOT NULL
          AND p.started_at - p.previous_started_at <= make_interval(hours => %(window_hours)s)
        GROUP BY p.stack_key, s.builds
        HAVING count(*) FILTER (WHERE p.previous_status <> p.status) >= greatest(%(min_flips)s, %(min_rate)s * s.builds)
        ORDER BY flips DESC, p.stack_key
        LIMIT %(limit)s
    """
    rows = fetch_rows(
        sql,
        {
            "team": team.pk,
            "start": start,
            "until": until,
            "succeeded": SUCCEEDED,
            "failed": FAILED,
            "max_builds": conf.RECO_FLAKY_MAX_BUILDS,
            "window_hours": window_hours,
            "min_flips": min_flips,
            "min_rate": min_rate,
            "limit": conf.INSIGHTS_TOP_N,
        },
    )
    for row in rows:
        row["window_start"] = start
    return rows


def team_recommendations(
    *, team, since: dt.datetime | None = None, until: dt.datetime | None = None, insights: dict | None = None
) -> dict:
    """Findings from the data, each with its evidence and a suggested action: the rules of
    ``teammemory.recommendations`` over the insights of the period."""
    since, until = _complete_range(since, until)
    insights = insights or team_insights(team=team, since=since, until=until)
    context = tm_recommendations.Context(
        insights=insights, flaky_stacks=lambda: flaky_stacks(team=team, since=since, until=until)
    )
    recs = [rec.as_dict() for rec in run_rules(tm_recommendations.RULES, context)]
    return {
        "team": team.slug,
        "since": since,
        "until": until,
        "builds": insights["summary"]["builds"],
        "recommendations": recs,
    }


# --- Home card ---------------------------------------------------------------------------------


def home_card(*, team, request) -> dict:
    until = timezone.now()
    summary = insights_summary(team=team, since=until - dt.timedelta(days=30), until=until)
    figures = [
        {"label": "Builds (30 days)", "value": formatting.number(summary["builds"])},
        {"label": "Success rate", "value": formatting.percent(summary["success_rate"])},
        {"label": "Avg quality", "value": formatting.number(summary["avg_quality"])},
    ]
    return {
        "title": "Team memory",
        "url": reverse("teammemory:index"),
        "figures": figures,
        "note": "What your builds show: quality trend, stacks that work, recurring errors.",
        "links": [
            {"label": "Builds", "url": reverse("teammemory:build-list")},
            {"label": "Suggest a stack", "url": reverse("teammemory:suggest")},
        ],
    }
