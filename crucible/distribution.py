"""Past one machine: which tables Citus would distribute by ``team_id`` (the large ones, whose every
primary key, unique constraint and foreign key includes ``team_id``; tests/hardening/test_citus_keys.py
enforces it) and which it would copy to every node (reference tables: every other table, all small).

``citus_commands`` lists the statements, in order, that turn a migrated database into a Citus
cluster's coordinator schema; docs/architecture.md ("Partitions and Citus-ready keys") shows them.
"""

from __future__ import annotations

# Distributed by team_id, colocated (a team's spans, payloads, traces and rollups on one node).
DISTRIBUTED_TABLES = (
    "observability_execution",
    "observability_spanpayload",
    "observability_trace",
    "observability_hourlyrollup",
    "observability_dailyrollup",
    "observability_errorrollup",
    "observability_minuterollup",
    "observability_dayblockrollup",
    "observability_hourblockrollup",
)
DISTRIBUTION_COLUMN = "team_id"


def citus_commands(reference_tables) -> list[str]:
    """The Citus statements for a schema: reference tables first (the distributed tables' foreign
    keys point at them), then the distributed tables, colocated with the first one."""
    commands = ["CREATE EXTENSION IF NOT EXISTS citus;"]
    commands += [f"SELECT create_reference_table('{table}');" for table in sorted(reference_tables)]
    first, *rest = DISTRIBUTED_TABLES
    commands.append(f"SELECT create_distributed_table('{first}', '{DISTRIBUTION_COLUMN}');")
    commands += [
        f"SELECT create_distributed_table('{table}', '{DISTRIBUTION_COLUMN}', colocate_with => '{first}');"
        for table in rest
    ]
    return commands
