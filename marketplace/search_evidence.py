"""Measured evidence in search as the viewer may see it (docs/marketplace.md › Measured evidence).

The agent row carries the opted-in teams' medians (``evidence_*``, refreshed by a job). A team that
shares and measured the agent must not read those: its own figure is in the median and among the
K teams, so it could take it out and read another team's. For such a viewer every path (the
listed figures and warning, the evidence sorts and filters) reads ``AgentEvidenceWithoutTeam``, the
same figures computed without that team. A caller with two or more teams that measured the agent
sees no figure for it (the rows leave out one team, not two).

Speed: a viewer whose teams measured nothing (one indexed query says so) sorts and filters on the
agent row's indexed columns, as before. Otherwise the evidence sorts read a bounded set in one
query: the first ``limit`` agents the viewer did not measure in the indexed order, and the few it
measured, ordered by the viewer's figures (``bounded_evidence_order``).
"""

from __future__ import annotations

from django.db.models import (
    BooleanField,
    Case,
    F,
    FloatField,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce

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


def with_evidence_order(queryset: QuerySet[Agent], *, sort: str, team_ids) -> QuerySet[Agent]:
    """``search_order``: the figure ``sort`` orders by, as ``with_search_evidence`` shows it, cheap
    to compute on every row of a sort: two uncorrelated (hashed) sets of the viewer's agents, and a
    lookup of its own row only for the agents it measured."""
    k = conf.EVIDENCE_MIN_TEAMS
    column, without_column, _ = EVIDENCE_SORTS[sort]
    mine = _without_viewer(team_ids)
    measured_once = _one_team(mine.order_by().values("agent_id")).filter(spread=0).values("agent_id")
    own_row = mine.filter(agent_id=OuterRef("pk"), teams__gte=k).values(without_column)[:1]
    return queryset.alias(
        search_order=Case(
            When(Q(evidence_teams__gte=k) & ~Q(pk__in=mine.values("agent_id")), then=F(column)),
            When(pk__in=measured_once, then=Subquery(own_row)),
            default=Value(None),
            output_field=FloatField(),
        )
    )


def with_search_evidence(queryset: QuerySet[Agent], *, team_ids) -> QuerySet[Agent]:
    """Each agent with the search figures a caller with ``team_ids`` may see: ``search_teams``,
    ``search_success_rate``, ``search_cost_per_run``, ``search_failure_warning``. From the agent row
    when none of the teams measured the agent; from its row without that team when one did; none
    when two or more did. Below K teams the figures are NULL (and the warning false).
    Subqueries on a unique key, evaluated for the listed rows only."""
    k = conf.EVIDENCE_MIN_TEAMS
    mine = _without_viewer(team_ids).filter(agent_id=OuterRef("pk"))
    # NULL: none of the teams measured the agent; 0: one did; more: several did.
    measured_spread = Subquery(_one_team(mine.order_by().values("agent_id")).values("spread")[:1])

    def shown(agent_column, without_column, output, default=None):
        return Case(
            When(Q(search_measured_spread__isnull=True, evidence_teams__gte=k), then=F(agent_column)),
            When(search_measured_spread=0, then=Subquery(mine.filter(teams__gte=k).values(without_column)[:1])),
            default=Value(default),
            output_field=output,
        )

    return queryset.alias(search_measured_spread=measured_spread).annotate(
        search_teams=Case(
            When(search_measured_spread__isnull=True, then=F("evidence_teams")),
            When(search_measured_spread=0, then=Subquery(mine.values("teams")[:1])),
            default=Value(0),
            output_field=IntegerField(),
        ),
        search_success_rate=shown("evidence_success_rate", "success_rate", FloatField()),
        search_cost_per_run=shown("evidence_cost_per_run", "cost_per_run", FloatField()),
        search_failure_warning=Coalesce(
            shown("evidence_failure_warning", "failure_warning", BooleanField()),
            Value(False),
            output_field=BooleanField(),
        ),
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


def bounded_evidence_order(qs, *, sort: str, team_ids, limit: int):
    """``qs`` cut to the agents that can be among its first ``limit`` in the viewer's evidence
    order, and so ordered: the first ``limit`` that none of ``team_ids`` measured, in the agent row's
    indexed order, and every agent they measured (a few). One query, whatever the catalogue size."""
    mine = _without_viewer(team_ids).values("agent_id")
    walk = qs.exclude(pk__in=mine).order_by(*column_order(sort)).values("pk")[:limit]
    measured = qs.filter(pk__in=mine).order_by().values("pk")
    return with_evidence_order(qs.filter(pk__in=_union(walk, measured)), sort=sort, team_ids=team_ids).order_by(
        *viewer_order(sort)
    )
