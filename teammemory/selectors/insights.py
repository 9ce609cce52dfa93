"""Insights of a period, read from the daily rollups: summary, stacks, components, top errors,
agent outcomes and the whole ``team_insights``."""

from __future__ import annotations

import datetime as dt

from crucible.sql import fetch_rows
from marketplace import selectors as marketplace_selectors
from teammemory import conf, rollups
from teammemory.selectors._common import _METRIC_SUMS, _OUTCOME_SUMS, _complete_range, _rates
from teammemory.selectors.trends import quality_trend


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
    # Names of the few agents in the result.
    agents = marketplace_selectors.agents_by_ids(ids={r["agent_id"] for r in rows})
    versions = marketplace_selectors.version_numbers_by_ids(
        ids={r["agent_version_id"] for r in rows if r["agent_version_id"]}
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
