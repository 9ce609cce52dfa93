"""Benchmark: what the indexes of the executions table cost a raw COPY (issue 16: the COPY into
``observability_execution`` >= 0.6x a COPY of the same rows into a table with only its keys).

The same rows go by ``COPY`` into each table, in rotating order, several rounds, medians of the
wall time and of the PostgreSQL backend's CPU per row (``_measure.CpuMeter``: it depends much less
on the machine's load than the wall time, whose ratio moved from 0.43x on a quiet machine to 0.79x
under heavy load for the same layout):
1. keys only (the floor): the same columns, defaults and monthly partitions, with only the primary
   key (id, team_id, started_at) and the idempotency key (team_id, client_id, started_at); no
   check constraint, no foreign key, no other index;
2. ``observability_execution`` as migrated (keys, checks, its secondary indexes);
3. the layout before migration 0014 (the trace index a btree (team_id, trace_id), not a hash);
4. the layout before migration 0009, for comparison: one table, 11 indexes (five full btrees on
   the mostly-null foreign keys and a team_id btree among them) and foreign keys.
``--each`` adds the table as migrated with each secondary index (the five partial link indexes
together, the six checks together) left out, and the candidate layouts of ``CANDIDATES``; the
variants are built from the catalog's definitions of the migrated table, so they follow the models.

The rows are those of live ingest (the batch API's shape and the ingest's COPY columns,
``observability.ingest.insert.COPY_COLUMNS``; agent, variant, build and API key links null, as for
most spans; each row its own trace id).

    CRUCIBLE_DB_NAME=bench_copy .venv/bin/python benchmarks/copy_floor.py --rounds 9   # 100,000 rows x 9 rounds
    CRUCIBLE_DB_NAME=bench_copy .venv/bin/python benchmarks/copy_floor.py --quick      # 20,000 rows x 3 rounds
    CRUCIBLE_DB_NAME=bench_copy .venv/bin/python benchmarks/copy_floor.py --each --rows 50000 --rounds 9

Measured (2 cores shared with other work, load 8.8-10.5; docs/observability.md "Index cost" has
the per-index table and the read paths):

    table                                rows/s   x floor   server CPU per row   CPU ratio
    keys only (the floor)                38,196     1.00           5.4 us           1.00
    as migrated (0014: hash trace index) 15,399     0.40          15.0 us           0.36
    before migration 0014                13,216     0.35          17.4 us           0.31
    before migration 0009                 8,474     0.22          26.6 us           0.20

The 0.6x goal is not met: only a layout without the per-agent index reaches it (7.6-8.0 us per
row, 0.63-0.65x), and the reads of one agent's runs then scan every agent's entries. Migration
0018's two sort indexes cost about a quarter more server CPU per row (2026-12-01, ``--each --only
"0018,all (a copy)"``: 16.0 -> 20.8-22.6 us, 0.49x -> 0.38-0.41x; docs "Index cost").

Drop the database afterwards (``DROP DATABASE bench_copy``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _measure import CpuMeter, cpu_per_item, load_average, median_rate  # noqa: E402

DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_copy")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_copy.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from crucible import services as core  # noqa: E402
from crucible.models import Team  # noqa: E402
from observability.ingest.insert import COPY_COLUMNS, execution_copy_row  # noqa: E402

MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"]

KEYS_ONLY = "bench_execution_keys_only"
OLD_LAYOUT = "bench_execution_before_0009"
VARIANT_PREFIX = "bench_execution_v_"
LINKS = ("execution_agent", "execution_agent_version", "execution_variant", "execution_build", "execution_api_key")


def live_definitions() -> dict[str, str]:
    """{name: SQL template with ``{table}``} for every index and constraint of the table as
    migrated, read from the catalog (the variants follow the models without a second list)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'observability_execution'::regclass AND contype IN ('p', 'u', 'c')"
        )
        definitions = {name: f"ALTER TABLE {{table}} ADD {sql}" for name, sql in cursor.fetchall()}
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = 'observability_execution'::regclass"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
        )
        for name, sql in cursor.fetchall():
            definitions[name] = re.sub(r"^CREATE (UNIQUE )?INDEX \S+ ON ONLY \S+", r"CREATE \1INDEX ON {table}", sql)
    return definitions


def keys_of(definitions: dict[str, str]) -> set[str]:
    return {name for name, sql in definitions.items() if " PRIMARY KEY " in sql or " UNIQUE (" in sql}


def variants(definitions: dict[str, str]) -> dict[str, list[str]]:
    """Each variant: the table as migrated with one index or group left out ("-name"), plus the
    candidate layouts in ``CANDIDATES``. {variant: [SQL templates]}."""
    keys = keys_of(definitions)
    checks = {name for name, sql in definitions.items() if " CHECK " in sql}
    groups = {name: {name} for name in definitions if name not in keys | checks | set(LINKS)}
    groups |= {"links (5 partial)": set(LINKS), "checks (6)": checks}
    out = {"all (a copy)": list(definitions.values())}
    for label, left_out in groups.items():
        out[f"-{label}"] = [sql for name, sql in definitions.items() if name not in left_out]
    for label, (left_out, extra) in CANDIDATES.items():
        out[label] = [sql for name, sql in definitions.items() if name not in left_out] + list(extra)
    return out


VALUE_BOUNDS = [
    "DROP TABLE IF EXISTS {table}_bounds",
    "CREATE TABLE {table}_bounds (team_id bigint, kind text, value text, first_at timestamptz,"
    " last_at timestamptz, PRIMARY KEY (team_id, kind, value))",
    """CREATE OR REPLACE FUNCTION {table}_bounds_keep() RETURNS trigger LANGUAGE plpgsql AS $f$
    BEGIN
        INSERT INTO {table}_bounds AS b
        SELECT team_id, x.kind, x.value, min(started_at), max(started_at)
        FROM new_rows, LATERAL (VALUES ('model', model), ('version', version), ('source', source)) x(kind, value)
        GROUP BY 1, 2, 3
        ON CONFLICT (team_id, kind, value) DO UPDATE
        SET first_at = LEAST(b.first_at, excluded.first_at), last_at = GREATEST(b.last_at, excluded.last_at);
        RETURN NULL;
    END $f$""",
    "CREATE TRIGGER {table}_bounds AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION {table}_bounds_keep()",
]

# Candidate layouts measured against the table as migrated: (indexes left out, SQL added).
BEFORE_0014 = "the layout before migration 0014"
CANDIDATES: dict[str, tuple[set[str], list[str]]] = {
    # Migration 0014 replaced this btree by the hash index execution_trace_hash.
    BEFORE_0014: (
        {"execution_trace_hash"},
        ["CREATE INDEX ON {table} (team_id, trace_id) WHERE trace_id <> ''"],
    ),
    # Rejected: the agent's own reads then scan every agent's index entries (docs: "Index cost").
    "one (team_id, started_at, agent_name) for both": (
        {"execution_team_agent_started", "execution_team_started"},
        ["CREATE INDEX ON {table} (team_id, started_at, agent_name)"],
    ),
    "agent: (team_id, hashtext(agent_name), started_at)": (
        {"execution_team_agent_started"},
        ["CREATE INDEX ON {table} (team_id, hashtext(agent_name), started_at)"],
    ),
    # Migration 0018 added the two sort indexes (docs: "Sorting by duration or cost").
    "the layout before migration 0018": ({"execution_team_duration", "execution_team_cost"}, []),
    # Migration 0021 added the duration, the cost and the id to the per-agent index (INCLUDE).
    "the layout before migration 0021": (
        {"execution_team_agent_started"},
        ["CREATE INDEX ON {table} (team_id, agent_name, started_at)"],
    ),
    # Migration 0026 added the status to the per-agent index (INCLUDE).
    "the layout before migration 0026": (
        {"execution_team_agent_started"},
        ["CREATE INDEX ON {table} (team_id, agent_name, started_at) INCLUDE (duration_ms, cost, id, agent_id)"],
    ),
    # A candidate for the runs of one model (a model few runs have walks the team's runs).
    "with a model index": (set(), ["CREATE INDEX ON {table} (team_id, model, started_at) WHERE model <> ''"]),
    # Another candidate for them: each model, version and source's first and last start per team,
    # kept by a statement trigger over the COPY's rows (a value no run has would be known at once).
    "with value bounds (a statement trigger)": (set(), VALUE_BOUNDS),
}


def create_partitioned(cursor, table: str) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {table}")
    cursor.execute(
        f"CREATE TABLE {table} (LIKE observability_execution INCLUDING DEFAULTS INCLUDING IDENTITY)"
        " PARTITION BY RANGE (started_at)"
    )
    cursor.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    cursor.execute(
        f"SELECT observability_month_partition('{table}'::regclass, d::date)"
        " FROM generate_series(now() - interval '1 month', now(), interval '1 month') AS d"
    )


def setup_tables(variant_sql: dict[str, list[str]]) -> dict[str, str]:
    """Creates the reference tables and the variants; returns {label: table}."""
    tables = {}
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {OLD_LAYOUT}")
        create_partitioned(cursor, KEYS_ONLY)
        cursor.execute(f"ALTER TABLE {KEYS_ONLY} ADD PRIMARY KEY (id, team_id, started_at)")
        cursor.execute(f"ALTER TABLE {KEYS_ONLY} ADD UNIQUE (team_id, client_id, started_at)")
        for number, (label, statements) in enumerate(variant_sql.items()):
            table = f"{VARIANT_PREFIX}{number}"
            create_partitioned(cursor, table)
            for sql in statements:
                cursor.execute(sql.replace("{table}", table))
            tables[label] = table

        # Before 0009: unpartitioned, checks and foreign keys, 11 indexes.
        cursor.execute(
            f"CREATE TABLE {OLD_LAYOUT} (LIKE observability_execution INCLUDING DEFAULTS INCLUDING IDENTITY"
            " INCLUDING CONSTRAINTS)"
        )
        cursor.execute(f"ALTER TABLE {OLD_LAYOUT} ADD PRIMARY KEY (id)")
        cursor.execute(f"ALTER TABLE {OLD_LAYOUT} ADD UNIQUE (team_id, client_id)")
        for columns in ("team_id, started_at", "team_id, agent_name, started_at"):
            cursor.execute(f"CREATE INDEX ON {OLD_LAYOUT} ({columns})")
        cursor.execute(f"CREATE INDEX ON {OLD_LAYOUT} USING brin (started_at)")
        cursor.execute(f"CREATE INDEX ON {OLD_LAYOUT} (team_id, trace_id) WHERE trace_id <> ''")
        links = {
            "team_id": "crucible_team",
            "agent_id": "marketplace_agent",
            "agent_version_id": "marketplace_agentversion",
            "variant_id": "improvement_variant",
            "build_id": "teammemory_build",
            "api_key_id": "crucible_apikey",
        }
        for column, target in links.items():
            cursor.execute(f"CREATE INDEX ON {OLD_LAYOUT} ({column})")
            cursor.execute(
                f"ALTER TABLE {OLD_LAYOUT} ADD FOREIGN KEY ({column}) REFERENCES {target} (id)"
                " DEFERRABLE INITIALLY DEFERRED"
            )
    return tables


def make_rows(team_id: int, n: int, round_no: int) -> list[tuple]:
    rng = random.Random(round_no)
    now = timezone.now()
    rows = []
    for i in range(n):
        failed = rng.random() < 0.03
        rows.append(
            execution_copy_row(
                {
                    "team_id": team_id,
                    "client_id": f"r{round_no}-{i}",
                    "agent_name": f"agent-{i % 200:03d}",
                    "version": "1.0.0",
                    "model": MODELS[i % 4],
                    "operation": "chat",
                    "trace_id": f"{rng.getrandbits(128):032x}",
                    "span_id": f"{rng.getrandbits(64):016x}",
                    "name": "chat",
                    "started_at": now - dt.timedelta(seconds=rng.randint(0, 600)),
                    "duration_ms": round(rng.lognormvariate(7.5, 0.8), 3),
                    "status": "error" if failed else "success",
                    "error_type": "Timeout" if failed else "",
                    "error_message": "deadline exceeded" if failed else "",
                    "input_tokens": rng.randint(200, 8000),
                    "output_tokens": rng.randint(50, 2000),
                    "cost_source": "none",
                    "received_at": now,
                }
            )
        )
    return rows


def truncate(table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"TRUNCATE {table}" + (", observability_spanpayload" if table == "observability_execution" else "")
        )


def timed_copy(table: str, rows: list[tuple]) -> CpuMeter:
    truncate(table)
    # autocommit: the COPY's commit (deferred foreign-key checks) is counted
    with CpuMeter() as meter, connection.cursor() as cursor:
        with cursor.connection.cursor() as pg, pg.copy(f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return meter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 3 rounds (CI-sized)")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument(
        "--each", action="store_true", help="also the table with each index (or group) left out, and the candidates"
    )
    parser.add_argument(
        "--only", default="", help="with --each: only the variants whose label contains one of these (a,b)"
    )
    args = parser.parse_args()
    n = args.rows or (20_000 if args.quick else 100_000)
    rounds = args.rounds or (3 if args.quick else 5)
    call_command("migrate", verbosity=0)
    connection.set_autocommit(True)
    team = Team.objects.filter(slug="bench-copy").first() or core.team_create(name="bench-copy", slug="bench-copy")
    definitions = live_definitions()
    every = variants(definitions)
    chosen = every if args.each else {}
    if args.only:
        chosen = {label: sql for label, sql in chosen.items() if any(part in label for part in args.only.split(","))}
    variant_tables = setup_tables({BEFORE_0014: every[BEFORE_0014]} | chosen)
    tables = {
        "keys only (the floor)": KEYS_ONLY,
        "observability_execution (as migrated)": "observability_execution",
        BEFORE_0014: variant_tables.pop(BEFORE_0014),
        "the layout before migration 0009": OLD_LAYOUT,
        **variant_tables,
    }
    load_before = load_average()
    meters: dict[str, list[CpuMeter]] = {label: [] for label in tables}
    labels = list(tables)
    for round_no in range(rounds):
        rows = make_rows(team.pk, n, round_no)
        order = labels[round_no % len(labels) :] + labels[: round_no % len(labels)]  # each goes first in turn
        for label in order:
            meters[label].append(timed_copy(tables[label], rows))
    floor = median_rate(meters[labels[0]], n)
    floor_db = cpu_per_item(meters[labels[0]], n)[1]
    print(f"COPY of {n:,} execution rows, medians of {rounds} interleaved rounds")
    print(f"load average before: {load_before}; after: {load_average()}")
    print(f"{'table':<42} {'rows/s':>9} {'x floor':>8} {'server us/row':>14} {'floor/server':>13}")
    for label in labels:
        rate = median_rate(meters[label], n)
        server = cpu_per_item(meters[label], n)[1]
        server_text = f"{server * 1e6:>14.2f}" if server is not None else f"{'n/a':>14}"
        cpu_ratio = f"{floor_db / server:>13.2f}" if server and floor_db else f"{'n/a':>13}"
        print(f"{label:<42} {rate:>9,.0f} {rate / floor:>8.2f} {server_text} {cpu_ratio}")
    print("(target: observability_execution >= 0.6 x floor; 'floor/server' is the same ratio in server CPU)")
    for table in tables.values():
        truncate(table)
    with connection.cursor() as cursor:
        for table in tables.values():
            if table.startswith(VARIANT_PREFIX):
                cursor.execute(f"DROP TABLE {table}")
                # what a candidate may have made beside its table (VALUE_BOUNDS)
                cursor.execute(f"DROP TABLE IF EXISTS {table}_bounds")
                cursor.execute(f"DROP FUNCTION IF EXISTS {table}_bounds_keep()")


if __name__ == "__main__":
    main()
