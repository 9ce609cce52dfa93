"""Benchmark: what the indexes of the executions table cost a raw COPY (issue 16: the COPY into
``observability_execution`` >= 0.6x a COPY of the same rows into a table with only its keys).

Three tables get the same rows by ``COPY``, in rotating order, several rounds, medians:
1. keys only (the floor): the same columns, defaults and monthly partitions, with only the primary
   key (id, team_id, started_at) and the idempotency key (team_id, client_id, started_at); no
   check constraint, no foreign key, no other index;
2. ``observability_execution`` as migrated (keys, checks, foreign keys, its secondary indexes);
3. the layout before migration 0009, for comparison: one table, 11 indexes (five full btrees on
   the mostly-null foreign keys and a team_id btree among them).

The rows are those of live ingest (the batch API's shape and the ingest's COPY columns,
``observability.ingest.insert.COPY_COLUMNS``; agent, variant, build and API key links null, as for
most spans).

    CRUCIBLE_DB_NAME=bench_copy .venv/bin/python benchmarks/copy_floor.py            # 100,000 rows x 5 rounds
    CRUCIBLE_DB_NAME=bench_copy .venv/bin/python benchmarks/copy_floor.py --quick    # 20,000 rows x 3 rounds

Drop the database afterwards (``DROP DATABASE bench_copy``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def setup_tables() -> None:
    with connection.cursor() as cursor:
        for table in (KEYS_ONLY, OLD_LAYOUT):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(
            f"CREATE TABLE {KEYS_ONLY} (LIKE observability_execution INCLUDING DEFAULTS INCLUDING IDENTITY)"
            " PARTITION BY RANGE (started_at)"
        )
        cursor.execute(f"CREATE TABLE {KEYS_ONLY}_default PARTITION OF {KEYS_ONLY} DEFAULT")
        cursor.execute(
            f"SELECT observability_month_partition('{KEYS_ONLY}'::regclass, d::date)"
            " FROM generate_series(now() - interval '1 month', now(), interval '1 month') AS d"
        )
        cursor.execute(f"ALTER TABLE {KEYS_ONLY} ADD PRIMARY KEY (id, team_id, started_at)")
        cursor.execute(f"ALTER TABLE {KEYS_ONLY} ADD UNIQUE (team_id, client_id, started_at)")

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


def copy_seconds(table: str, rows: list[tuple]) -> float:
    with connection.cursor() as cursor:
        cursor.execute(
            f"TRUNCATE {table}" + (", observability_spanpayload" if table == "observability_execution" else "")
        )
    start = time.perf_counter()  # autocommit: the COPY's commit (deferred foreign-key checks) is counted
    with connection.cursor() as cursor:
        with cursor.connection.cursor() as pg, pg.copy(f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20,000 rows, 3 rounds (CI-sized)")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args()
    n = args.rows or (20_000 if args.quick else 100_000)
    rounds = args.rounds or (3 if args.quick else 5)
    call_command("migrate", verbosity=0)
    connection.set_autocommit(True)
    team = Team.objects.filter(slug="bench-copy").first() or core.team_create(name="bench-copy", slug="bench-copy")
    setup_tables()
    tables = ["observability_execution", KEYS_ONLY, OLD_LAYOUT]
    seconds: dict[str, list[float]] = {table: [] for table in tables}
    for round_no in range(rounds):
        rows = make_rows(team.pk, n, round_no)
        order = tables[round_no % 3 :] + tables[: round_no % 3]  # interleaved: each goes first in turn
        for table in order:
            seconds[table].append(copy_seconds(table, rows))
    rate = {table: n / statistics.median(values) for table, values in seconds.items()}
    floor = rate[KEYS_ONLY]
    print(f"COPY of {n:,} execution rows, median of {rounds} interleaved rounds (load: {os.getloadavg()[0]:.1f})")
    print(f"  keys only (the floor)                 : {floor:>10,.0f} rows/s")
    print(
        f"  observability_execution (as migrated) : {rate['observability_execution']:>10,.0f} rows/s"
        f"   = {rate['observability_execution'] / floor:.2f} x floor (target >= 0.6)"
    )
    print(
        f"  the layout before migration 0009      : {rate[OLD_LAYOUT]:>10,.0f} rows/s"
        f"   = {rate[OLD_LAYOUT] / floor:.2f} x floor"
    )
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"TRUNCATE {table}" + (", observability_spanpayload" if table == "observability_execution" else "")
            )


if __name__ == "__main__":
    main()
