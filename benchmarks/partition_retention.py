"""Benchmark: retention over the monthly partitions of executions (issue 16: "retention over 10
million rows takes seconds and leaves no bloat").

N executions (and a span payload for 2% of them) are generated with INSERT ... SELECT
generate_series, spread evenly over the last 150 days, 10 teams. Then, beside a reference from the
same run, a plain scan counting the rows retention removes (median of 3), the retention service
(``observability.services.executions_purge(days=90)``, what the worker's nightly job runs) is timed
once. Printed: its time and the scan's, the partitions dropped, the rows deleted one by one (only
the month straddling the cutoff), and the tables' size on disk before and after.

    CRUCIBLE_DB_NAME=bench_retention .venv/bin/python benchmarks/partition_retention.py           # 10,000,000 rows
    CRUCIBLE_DB_NAME=bench_retention .venv/bin/python benchmarks/partition_retention.py --quick   # 200,000 rows

Generating 10 million rows takes minutes and a few GB; drop the database afterwards
(``DROP DATABASE bench_retention``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_retention")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_retention.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from crucible import services as core  # noqa: E402
from crucible.models import Team  # noqa: E402
from observability import partitions, services  # noqa: E402

DAYS = 150
RETENTION = 90
CHUNK = 1_000_000

INSERT_SQL = """
INSERT INTO observability_execution (
    team_id, client_id, agent_name, version, model, operation, source, trace_id, span_id, name, started_at,
    duration_ms, status, error_type, error_message, input_tokens, output_tokens, cached_input_tokens,
    reasoning_tokens, cost_source, received_at)
SELECT (%(teams)s::bigint[])[1 + g %% 10], 'ret-' || g, 'agent-' || (g %% 200), '1.0.0', 'gpt-4o', 'chat', 'api',
       md5('t' || g), left(md5('s' || g), 16), 'chat',
       now() - (%(days)s * interval '1 day') * (g::float8 / %(n)s), 500 + g %% 5000,
       CASE WHEN g %% 31 = 0 THEN 'error' ELSE 'success' END, CASE WHEN g %% 31 = 0 THEN 'Timeout' ELSE '' END, '',
       1000 + g %% 3000, 200 + g %% 800, 0, 0, 'none', now()
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
"""
PAYLOAD_SQL = """
INSERT INTO observability_spanpayload (execution_id, team_id, started_at, input, output, input_truncated,
                                       output_truncated, redacted)
SELECT id, team_id, started_at, jsonb_build_object('prompt', repeat('lorem ipsum ', 20)),
       jsonb_build_object('answer', repeat('dolor sit ', 30)), false, false, false
FROM observability_execution WHERE client_id LIKE 'ret-%%' AND id %% 50 = 0
"""
SIZE_SQL = """
SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0)
FROM pg_inherits i WHERE i.inhparent = ANY(ARRAY['observability_execution'::regclass, 'observability_spanpayload'::regclass])
"""


def scalar(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})
        return cursor.fetchone()[0]


def generate(n: int) -> None:
    teams = [
        (Team.objects.filter(slug=f"bench-ret-{i}").first() or core.team_create(name=f"r{i}", slug=f"bench-ret-{i}")).pk
        for i in range(10)
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT observability_month_partition(t::regclass, d::date) FROM generate_series("
            f"now() - interval '{DAYS + 31} days', now(), interval '1 month') AS d,"
            " unnest(ARRAY['observability_execution', 'observability_spanpayload']) AS t"
        )
        start = time.perf_counter()
        for first in range(1, n + 1, CHUNK):
            last = min(n, first + CHUNK - 1)
            cursor.execute(INSERT_SQL, {"teams": teams, "days": DAYS, "n": n, "first": first, "last": last})
            print(f"  generated {last:,} rows ({time.perf_counter() - start:.0f} s)", flush=True)
        cursor.execute(PAYLOAD_SQL, {})
        cursor.execute("ANALYZE observability_execution")
        cursor.execute("ANALYZE observability_spanpayload")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200,000 rows (CI-sized)")
    parser.add_argument("--rows", type=int, default=None)
    args = parser.parse_args()
    n = args.rows or (200_000 if args.quick else 10_000_000)
    call_command("migrate", verbosity=0)
    connection.set_autocommit(True)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE observability_execution, observability_spanpayload")
    print(f"Generating {n:,} executions over {DAYS} days ...", flush=True)
    generate(n)

    rows_before = scalar("SELECT count(*) FROM observability_execution")
    size_before = scalar(SIZE_SQL)
    partitions_before = {p.name for p in partitions.partitions_of(partitions.EXECUTIONS)}
    scan_sql = f"SELECT count(*) FROM observability_execution WHERE started_at < now() - interval '{RETENTION} days'"
    scans = []
    for _ in range(3):
        start = time.perf_counter()
        removed = scalar(scan_sql)
        scans.append(time.perf_counter() - start)
    start = time.perf_counter()
    services.executions_purge(days=RETENTION)
    purge_seconds = time.perf_counter() - start
    rows_after = scalar("SELECT count(*) FROM observability_execution")
    size_after = scalar(SIZE_SQL)
    dropped = sorted(partitions_before - {p.name for p in partitions.partitions_of(partitions.EXECUTIONS)})
    time.sleep(1.5)  # statistics are flushed at most once a second
    row_wise = scalar(
        "SELECT coalesce(sum(n_tup_del), 0) FROM pg_stat_user_tables WHERE relname LIKE 'observability_execution_p%%'"
    )
    scan = statistics.median(scans)
    print(f"Retention over {rows_before:,} executions (load: {os.getloadavg()[0]:.1f}), cutoff {RETENTION} days:")
    print(f"  rows removed                         : {rows_before - rows_after:>12,} (the scan counted {removed:,})")
    print(f"  reference: plain scan counting them  : {scan:>10.2f} s (median of 3)")
    print(
        f"  executions_purge (drop + boundary)   : {purge_seconds:>10.2f} s   = {purge_seconds / scan:.2f} x the scan"
    )
    print(f"  partitions dropped                   : {', '.join(dropped) or 'none'}")
    print(f"  rows deleted one by one (boundary)   : {row_wise:>12,}")
    print(f"  executions + payloads on disk        : {size_before / 2**20:>10,.0f} MB -> {size_after / 2**20:,.0f} MB")


if __name__ == "__main__":
    main()
