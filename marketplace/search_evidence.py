"""Measured evidence in search as the viewer may see it (docs/marketplace.md › Measured evidence).

The agent row carries the opted-in teams' medians (``evidence_*``, refreshed by a job). A team that
shares and measured the agent must not read those: its own figure is in the median and among the
K teams, so it could take it out and read another team's. For such a viewer every path (the
listed figures and warning, the evidence sorts and filters) reads ``AgentEvidenceWithoutTeam``, the
same figures computed without that team. A caller with two or more teams that measured the agent
sees no figure for it (the rows leave out one team, not two).

Speed: a viewer whose teams measured nothing (one indexed query says so) sorts and filters on the
agent row's indexed columns, as before. Otherwise an evidence sort reads a bounded set: the first
``limit`` agents the viewer did not measure in the indexed order, and the few it measured, ordered
by the viewer's figures (``bounded_evidence_order``: for browse, the list reads each page from the
agents that can be on it; for a text search, within its matches).
"""

from __future__ import annotations

from django.db.models import F, FloatField, JSONField, Max, Min, Q, QuerySet
from django.db.models.expressions import RawSQL

from marketplace import conf
from marketplace.models import Agent, AgentEvidenceWithoutTeam

# sort -> (agent row column, column without a team, descending); NULLs (no evidence) last.
EVIDENCE_SORTS = {
    "success": ("evidence_success_rate", "success_rate", True),
    "cost_per_run": ("evidence_cost_per_run", "cost_per_run", False),
}
# filter -> (agent row column, column without a team, lookup, stored value from the asked one)
EVIDENCE_FILTERS = {
    "min_success_rate": ("evidence_success_rate", "success_rate", "gte", lambda percent: float(percent) / 100),
    "max_cost_per_run": ("evidence_cost_per_run", "cost_per_run", "lte", float),
}


def _team_ids(team_ids) -> list[int]:
    return [int(i) for i in team_ids] or [0]  # no team: a key no row has


def _without_viewer(team_ids) -> QuerySet[AgentEvidenceWithoutTeam]:
    return AgentEvidenceWithoutTeam.objects.filter(team_id__in=_team_ids(team_ids))


def viewer_measured(*, team_ids) -> bool:
    """Whether one of ``team_ids`` shares evidence and measured some agent (one indexed query)."""
    return _without_viewer(team_ids).exists()


def column_order(sort: str) -> tuple:
    column, _, descending = EVIDENCE_SORTS[sort]
    ordered = F(column).desc(nulls_last=True) if descending else F(column).asc(nulls_last=True)
    return (ordered, "id")


def viewer_order(sort: str) -> tuple:
    """The evidence order on the viewer's figures (``with_evidence_order``'s alias)."""
    _, _, descending = EVIDENCE_SORTS[sort]
    key = F("search_order")
    return (key.desc(nulls_last=True) if descending else key.asc(nulls_last=True), "id")


# The figure an evidence sort orders by, as the caller may see it (``search_order``): the agent
# row's for agents none of its teams measured, its row without its team where one team did.
# The caller's agents are an uncorrelated (hashed) set; its own row is read only for those.
EVIDENCE_ORDER_SQL = """
CASE WHEN NOT ("marketplace_agent"."id" IN (
              SELECT w.agent_id FROM marketplace_agentevidencewithoutteam w WHERE w.team_id = ANY(%s::bigint[])))
     THEN CASE WHEN "marketplace_agent"."evidence_teams" >= %s THEN "marketplace_agent"."{column}" END
     ELSE (SELECT CASE WHEN max(w.team_id) = min(w.team_id) AND max(w.teams) >= %s THEN max(w.{without}) END
           FROM marketplace_agentevidencewithoutteam w
           WHERE w.agent_id = "marketplace_agent"."id" AND w.team_id = ANY(%s::bigint[]))
END
"""

# What search shows of an agent, as the caller may see it: [teams, success rate, cost per run,
# failure warning] from the agent row when none of its teams measured the agent, from its row
# without its team when one did, NULL when several did (each row leaves out one team).
SEARCH_EVIDENCE_SQL = """
SELECT CASE
    WHEN max(w.team_id) IS NULL THEN jsonb_build_array("marketplace_agent"."evidence_teams", "marketplace_agent"."evidence_success_rate",
                                 "marketplace_agent"."evidence_cost_per_run",
                                 "marketplace_agent"."evidence_failure_warning")
    WHEN max(w.team_id) = min(w.team_id) THEN jsonb_build_array(max(w.teams), max(w.success_rate), max(w.cost_per_run), bool_or(w.failure_warning))
END
FROM marketplace_agentevidencewithoutteam w
WHERE w.agent_id = "marketplace_agent"."id" AND w.team_id = ANY(%s::bigint[])
"""


def with_evidence_order(queryset: QuerySet[Agent], *, sort: str, team_ids) -> QuerySet[Agent]:
    """``search_order``: the figure ``sort`` orders by, as ``with_search_evidence`` shows it (NULL
    below K teams), cheap on every row of a sort (``EVIDENCE_ORDER_SQL``). For a queryset whose
    agents table is not aliased (a top-level query)."""
    column, without_column, _ = EVIDENCE_SORTS[sort]
    k, ids = conf.EVIDENCE_MIN_TEAMS, _team_ids(team_ids)
    sql = EVIDENCE_ORDER_SQL.format(column=column, without=without_column)
    return queryset.alias(search_order=RawSQL(sql, (ids, k, k, ids), output_field=FloatField()))


def with_search_evidence(queryset: QuerySet[Agent], *, team_ids) -> QuerySet[Agent]:
    """Each agent with ``search_evidence_row``: what search may show a caller with ``team_ids`` of
    its measured evidence (``SEARCH_EVIDENCE_SQL``; ``marketplace.evidence.agent_search_evidence``
    reads it and applies the K threshold). One subquery on a unique key per listed row. For a
    queryset whose agents table is not aliased (a top-level query)."""
    return queryset.annotate(
        search_evidence_row=RawSQL(SEARCH_EVIDENCE_SQL, (_team_ids(team_ids),), output_field=JSONField())
    )


def _one_team(grouped):
    """Rows grouped by agent, with ``spread``: 0 when one of the teams measured it, more when several."""
    return grouped.annotate(spread=Max("team_id") - Min("team_id"))


def _union(*querysets) -> RawSQL:
    """The keys of several single-column querysets, as one subquery for ``pk__in``."""
    parts, params = [], []
    for queryset in querysets:
        sql, part_params = queryset.query.sql_with_params()
        parts.append(f"({sql})")
        params.extend(part_params)
    return RawSQL(" UNION ALL ".join(parts), params)


def viewer_evidence(qs, *, team_ids, sort: str, min_success_rate, max_cost_per_run) -> tuple[QuerySet[Agent], bool]:
    """``qs`` with the evidence filters on the figures the caller may see, and whether its evidence
    sort (if any) reads the caller's figures: when a team of the caller measured agents (one query,
    only when an evidence sort or filter is asked for). Such a sort finds ``search_order`` on ``qs``."""
    asked = sort in EVIDENCE_SORTS or (min_success_rate, max_cost_per_run) != (None, None)
    measured = asked and viewer_measured(team_ids=team_ids)
    qs = evidence_filters(
        qs,
        team_ids=team_ids,
        measured=measured,
        sort=sort,
        min_success_rate=min_success_rate,
        max_cost_per_run=max_cost_per_run,
    )
    viewer_sorted = measured and sort in EVIDENCE_SORTS
    return (with_evidence_order(qs, sort=sort, team_ids=team_ids) if viewer_sorted else qs), viewer_sorted


def evidence_filters(qs, *, team_ids, measured: bool, sort, **asked):
    """The evidence filters (``min_success_rate``, ``max_cost_per_run``) on the viewer's figures.
    A row refreshed under a lower threshold than today's takes no part in filters or evidence sorts
    until the next refresh."""
    k = conf.EVIDENCE_MIN_TEAMS
    stale = Q(evidence_teams__lt=k) & (Q(evidence_success_rate__isnull=False) | Q(evidence_cost_per_run__isnull=False))
    if sort in EVIDENCE_SORTS:
        qs = qs.exclude(stale)
    for name, (column, without_column, lookup, stored) in EVIDENCE_FILTERS.items():
        if asked.get(name) is None:
            continue
        value = stored(asked[name])
        agent_rows = Q(evidence_teams__gte=k, **{f"{column}__{lookup}": value})
        if not measured:
            qs = qs.filter(agent_rows)
            continue
        mine = _without_viewer(team_ids)
        unmeasured = Agent.objects.filter(agent_rows).exclude(pk__in=mine.values("agent_id")).values("pk")
        measured_once = (
            _one_team(mine.order_by().values("agent_id"))
            .annotate(least_teams=Min("teams"), figure=Max(without_column))
            .filter(spread=0, least_teams__gte=k, **{f"figure__{lookup}": value})
            .values("agent_id")
        )
        qs = qs.filter(pk__in=_union(unmeasured, measured_once))
    return qs


def bounded_evidence_order(qs, limit: int, *, sort: str, team_ids):
    """``qs`` cut to the agents that can be among its first ``limit`` in the viewer's evidence
    order, and so ordered: the first ``limit`` that none of ``team_ids`` measured, in the agent row's
    indexed order, and every agent they measured (a few). One query, whatever the catalogue size."""
    mine = _without_viewer(team_ids).values("agent_id")
    walk = qs.exclude(pk__in=mine).order_by(*column_order(sort)).values("pk")[:limit]
    measured = qs.filter(pk__in=mine).order_by().values("pk")
    return with_evidence_order(qs.filter(pk__in=_union(walk, measured)), sort=sort, team_ids=team_ids).order_by(
        *viewer_order(sort)
    )
