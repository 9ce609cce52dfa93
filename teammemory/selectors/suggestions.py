"""Stack suggestions for new requirements, from the team's own history."""

from __future__ import annotations

import datetime as dt
import json
import re

from django.utils import timezone

from crucible.sql import fetch_rows
from teammemory import conf, rollups
from teammemory.models import Build
from teammemory.selectors._common import FAILED, SUCCEEDED
from teammemory.stacks import normalize_component, normalize_components
from teammemory.stats import wilson_lower_bound

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


_TERM = re.compile(r"\w[\w.#+\-]{0,31}")  # a word of at most 32 characters (longer ones are cut)


def requirements_bounded(text: str, max_terms: int | None = None) -> str:
    """The part of a requirements text that a suggestion reads: its words up to the
    ``SUGGEST_MAX_TERMS``-th distinct one (a hyphenated word counts once per part, and at most
    twice that many in all). A suggestion's cost grows with the terms of its query, so a
    20,000-character text costs what a paragraph costs."""
    max_terms = conf.SUGGEST_MAX_TERMS if max_terms is None else max_terms
    kept: list[str] = []
    distinct: set[str] = set()
    cost = 0
    for term in _TERM.findall(text):
        folded = term.lower()
        if folded not in distinct and len(distinct) >= max_terms:
            break
        cost += 1 + term.count("-")
        if cost > 2 * max_terms:
            break
        distinct.add(folded)
        kept.append(term)
    return " ".join(kept)


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
    requirements = requirements_bounded(requirements)
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
