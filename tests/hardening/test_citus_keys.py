"""Citus-ready keys, read from the migrated schema (pg_constraint, pg_index): distributing the large
tables by team_id needs no schema change (crucible.distribution, docs/architecture.md)."""

from __future__ import annotations

import pytest
from django.db import connection

from crucible.distribution import DISTRIBUTED_TABLES, DISTRIBUTION_COLUMN, citus_commands

pytestmark = pytest.mark.django_db

# The tables themselves and, for partitioned ones, every partition.
RELATIONS_SQL = """
SELECT c.oid FROM pg_class c WHERE c.relname = ANY(%(tables)s) AND c.relnamespace = 'public'::regnamespace
UNION
SELECT i.inhrelid FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent WHERE c.relname = ANY(%(tables)s)
"""


def _rows(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _columns(relation_oid, attnums) -> set[str]:
    return {
        row[0]
        for row in _rows(
            "SELECT attname FROM pg_attribute WHERE attrelid = %(rel)s AND attnum = ANY(%(nums)s)",
            {"rel": relation_oid, "nums": list(attnums)},
        )
    }


def _relations() -> list[int]:
    return [row[0] for row in _rows(RELATIONS_SQL, {"tables": list(DISTRIBUTED_TABLES)})]


def test_every_large_table_exists_and_has_the_distribution_column():
    found = _rows(
        "SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " WHERE c.relname = ANY(%(tables)s) AND a.attname = %(column)s",
        {"tables": list(DISTRIBUTED_TABLES), "column": DISTRIBUTION_COLUMN},
    )
    assert {row[0] for row in found} == set(DISTRIBUTED_TABLES)


def test_primary_keys_and_unique_constraints_include_team_id():
    relations = _relations()
    constraints = _rows(
        "SELECT conrelid::regclass::text, conname, conrelid, conkey FROM pg_constraint"
        " WHERE contype IN ('p', 'u') AND conrelid = ANY(%(rels)s)",
        {"rels": relations},
    )
    assert len(constraints) >= 2 * len(DISTRIBUTED_TABLES)  # a primary key and a unique key each
    missing = [
        (table, name) for table, name, rel, keys in constraints if DISTRIBUTION_COLUMN not in _columns(rel, keys)
    ]
    assert missing == []


def test_unique_indexes_include_team_id():
    indexes = _rows(
        "SELECT indexrelid::regclass::text, indrelid, indkey::int2[] FROM pg_index"
        " WHERE indisunique AND indrelid = ANY(%(rels)s)",
        {"rels": _relations()},
    )
    assert indexes
    missing = [name for name, rel, keys in indexes if DISTRIBUTION_COLUMN not in _columns(rel, keys)]
    assert missing == []


def test_foreign_keys_between_large_tables_include_team_id_and_others_point_at_reference_tables():
    relations = set(_relations())
    foreign_keys = _rows(
        "SELECT conrelid::regclass::text, conname, conrelid, conkey, confrelid, confkey FROM pg_constraint"
        " WHERE contype = 'f' AND (conrelid = ANY(%(rels)s) OR confrelid = ANY(%(rels)s))",
        {"rels": list(relations)},
    )
    assert foreign_keys
    wrong = []
    for table, name, rel, keys, target, target_keys in foreign_keys:
        if rel not in relations:  # a reference table may not point at a distributed one
            wrong.append((table, name, "a small table refers to a large one"))
        elif target in relations and not (
            DISTRIBUTION_COLUMN in _columns(rel, keys) and DISTRIBUTION_COLUMN in _columns(target, target_keys)
        ):
            wrong.append((table, name, "between large tables without team_id"))
    assert wrong == []


def test_citus_commands_make_every_other_table_a_reference_table_first():
    commands = citus_commands(["crucible_team", "marketplace_agent"])
    assert commands[1:3] == [
        "SELECT create_reference_table('crucible_team');",
        "SELECT create_reference_table('marketplace_agent');",
    ]
    assert commands[3] == "SELECT create_distributed_table('observability_execution', 'team_id');"
    assert all("colocate_with => 'observability_execution'" in c for c in commands[4:])
    assert len(commands) == 3 + len(DISTRIBUTED_TABLES)
