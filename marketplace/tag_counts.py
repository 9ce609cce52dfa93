"""Agents per tag, kept in the database (``marketplace.models_search.TagCount``).

Triggers on ``marketplace_agent`` (one statement-level trigger per insert, update and delete, with
transition tables) add the rows a statement inserted, subtract the rows it deleted and, for an
update, move only the agents whose tags, team, visibility or listing changed: one upsert per
statement, so a bulk load costs one aggregate and a counter update on an agent costs a join of one
row. A tag-only browse then counts its agents from a few rows instead of the GIN index and the
table (``agent_tag_count``).
"""

from __future__ import annotations

from typing import NamedTuple

from django.db import connection

from crucible.sql import fetch_one

# The (tag, team) key of an agent row: the public, listed agents share the NULL team.
_KEYED = """
SELECT DISTINCT agent.id, tag, CASE WHEN agent.visibility = 'public' AND agent.is_listed THEN NULL
    ELSE agent.team_id END AS team_id
FROM {rows} AS agent, unnest(agent.tags) AS tag
"""
_UPSERT = """
INSERT INTO marketplace_tagcount (tag, team_id, agents)
SELECT tag, team_id, sum(delta) FROM ({deltas}) AS moved GROUP BY tag, team_id HAVING sum(delta) <> 0
ON CONFLICT (tag, team_id) DO UPDATE SET agents = marketplace_tagcount.agents + EXCLUDED.agents
"""
TRIGGER_FUNCTIONS = {
    "INSERT": _UPSERT.format(deltas=f"SELECT tag, team_id, 1 AS delta FROM ({_KEYED.format(rows='new_rows')}) k"),
    "DELETE": _UPSERT.format(deltas=f"SELECT tag, team_id, -1 AS delta FROM ({_KEYED.format(rows='old_rows')}) k"),
    "UPDATE": _UPSERT.format(
        deltas=(
            "WITH changed AS (SELECT new_rows.id FROM new_rows JOIN old_rows USING (id) "
            "WHERE (new_rows.tags, new_rows.team_id, new_rows.visibility, new_rows.is_listed) IS DISTINCT FROM "
            "(old_rows.tags, old_rows.team_id, old_rows.visibility, old_rows.is_listed)) "
            f"SELECT tag, team_id, 1 AS delta FROM ({_KEYED.format(rows='new_rows')}) k "
            "WHERE k.id IN (SELECT id FROM changed) "
            "UNION ALL "
            f"SELECT tag, team_id, -1 FROM ({_KEYED.format(rows='old_rows')}) k WHERE k.id IN (SELECT id FROM changed)"
        )
    ),
}
FILL_SQL = _UPSERT.format(deltas=f"SELECT tag, team_id, 1 AS delta FROM ({_KEYED.format(rows='marketplace_agent')}) k")


def trigger_sql() -> list[str]:
    """The functions and triggers that keep the counts (run by migration 0009)."""
    statements = []
    for op, body in TRIGGER_FUNCTIONS.items():
        name = f"marketplace_tagcount_{op.lower()}"
        transition = {"INSERT": "NEW TABLE AS new_rows", "DELETE": "OLD TABLE AS old_rows"}.get(
            op, "OLD TABLE AS old_rows NEW TABLE AS new_rows"
        )
        statements += [
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body}; RETURN NULL; END $$",
            f"DROP TRIGGER IF EXISTS {name} ON marketplace_agent",
            f"CREATE TRIGGER {name} AFTER {op} ON marketplace_agent REFERENCING {transition} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
        ]
    return statements


def drop_sql() -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS marketplace_tagcount_{op} ON marketplace_agent; "
        f"DROP FUNCTION IF EXISTS marketplace_tagcount_{op}()"
        for op in ("insert", "update", "delete")
    ]


def tag_counts_fill() -> None:
    """Recount every tag from the agents (after a TRUNCATE, or to check the triggers)."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM marketplace_tagcount")
        cursor.execute(FILL_SQL)


class Counted(NamedTuple):
    agents: int


def agent_tag_count(*, team_ids, tag: str) -> int:
    """Agents with ``tag`` that callers with ``team_ids`` see: the public, listed ones and their
    teams' own (``marketplace.selectors.visible_q``)."""
    row = fetch_one(
        "SELECT coalesce(sum(agents), 0)::bigint AS agents FROM marketplace_tagcount "
        "WHERE tag = %(tag)s AND (team_id IS NULL OR team_id = ANY(%(teams)s))",
        {"tag": tag, "teams": list(team_ids)},
        Counted,
    )
    return row.agents
