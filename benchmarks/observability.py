"""Benchmark: observability ingest throughput and dashboard latency, each beside a reference
measured in the same run on the same database.

1. Ingest: events per second through the batch API (``POST /api/v1/observability/ingest/`` with
   Django's test client: JSON parsing, auth, validation, pricing, insert, trace summaries, rollup
   upserts) against a raw PostgreSQL ``COPY`` of the same rows into the same table (with its
   indexes and foreign keys), which writes no rollups, validates nothing and prices nothing; and
   that COPY against one into a table with only the same keys (what indexes cost). The three run
   in interleaved rounds (``benchmarks/_measure.py``) and the medians are compared; CPU per event
   (this process and its PostgreSQL backend) gives events per second per core.
2. Dashboard: the 30-day dashboard (``GET /api/v1/observability/dashboard/?range=30d``: per-agent
   p50/p95/p99, totals, daily series, read from rollups) over N executions of 200 agents, against a
   plain SQL aggregate over the raw rows computing the same figures (per agent and per day, with
   ``percentile_cont``).

    CRUCIBLE_DB_NAME=bench_observability .venv/bin/python benchmarks/observability.py --quick       # CI-sized
    CRUCIBLE_DB_NAME=bench_observability .venv/bin/python benchmarks/observability.py               # small
    CRUCIBLE_DB_NAME=bench_observability .venv/bin/python benchmarks/observability.py --full        # docs figures

``--full`` means 10,000,000 executions (generated with INSERT ... SELECT generate_series, rollups
built with ``rollups_rebuild``) and 20,000 ingested events per round; it takes several minutes and
a few GB.
Drop the database afterwards (``DROP DATABASE bench_observability``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest import mock

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _measure import CpuMeter, cpu_per_item, interleaved, load_average, median_rate  # noqa: E402
from _server import free_port, start_server, stop_server  # noqa: E402  (benchmarks/_server.py)

DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_observability")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_observability.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")

import django  # noqa: E402

django.setup()

from _dashboard_rows import AGENTS, RAW_AGENTS_SQL, RAW_SERIES_SQL, ensure_rows  # noqa: E402  (the dashboard's data)
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from crucible import services as core  # noqa: E402
from crucible import validation as v  # noqa: E402
from crucible.models import Team  # noqa: E402
from observability import selectors  # noqa: E402
from observability.ingest.insert import COPY_COLUMNS, execution_copy_row, executions_insert  # noqa: E402
from observability.ingest.validate import event_validate  # noqa: E402
from observability.models import Execution  # noqa: E402

MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"]


def team_named(slug: str) -> Team:
    return Team.objects.filter(slug=slug).first() or core.team_create(name=slug, slug=slug)


def make_events(n: int, rng: random.Random, now: dt.datetime, prefix: str) -> list[dict]:
    events = []
    for i in range(n):
        failed = rng.random() < 0.03
        inp = rng.randint(200, 8000)
        out = rng.randint(50, 2000)
        event = {
            "id": f"{prefix}-{i}",
            "agent": f"agent-{i % AGENTS:03d}",
            "model": MODELS[(i % AGENTS) % len(MODELS)],
            "agent_version": "1.0.0",
            # a live stream: events arrive within minutes of their start
            "started_at": (now - dt.timedelta(seconds=rng.randint(0, 600))).isoformat(),
            "duration_ms": round(rng.lognormvariate(7.5, 0.8), 3),
            "status": "error" if failed else "success",
            "input_tokens": inp,
            "cached_input_tokens": inp // 4,
            "output_tokens": out,
            "trace_id": f"{rng.getrandbits(128):032x}",
            "span_id": f"{rng.getrandbits(64):016x}",
        }
        if failed:
            event["error_type"] = "Timeout"
        events.append(event)
    return events


def truncate_all():
    """Empty the ingest team's rows (only those: the dashboard part's rows stay)."""
    team = team_named("bench-ingest")
    with connection.cursor() as cursor:
        for table in (
            "observability_spanpayload",
            "observability_execution",
            "observability_trace",
            "observability_hourlyrollup",
            "observability_dailyrollup",
            "observability_errorrollup",
        ):
            cursor.execute(f"DELETE FROM {table} WHERE team_id = %s", [team.pk])
            cursor.execute(f"VACUUM {table}")


KEYS_TABLE = "bench_execution_keys"


def keys_only_table() -> None:
    """A table shaped like observability_execution with only its keys (primary key and unique
    constraints, read from the real table): the COPY into it measures what the other indexes,
    foreign keys and checks cost."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'observability_execution'::regclass AND contype IN ('p', 'u') ORDER BY contype"
        )
        keys = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"DROP TABLE IF EXISTS {KEYS_TABLE}")
        cursor.execute(
            f"CREATE TABLE {KEYS_TABLE} (LIKE observability_execution INCLUDING DEFAULTS INCLUDING IDENTITY)"
        )
        for key in keys:
            cursor.execute(f"ALTER TABLE {KEYS_TABLE} ADD {key}")


def _copy_rows(table: str, rows) -> CpuMeter:
    connection.ensure_connection()
    with CpuMeter() as meter:
        with connection.cursor() as cursor:
            with (
                cursor.connection.cursor() as pg,
                pg.copy(f"COPY {table} ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
    return meter


def bench_ingest(n_events: int, batch: int, repeats: int) -> dict:
    """Interleaved rounds of: raw COPY into observability_execution, raw COPY into the keys-only
    table, and the batch API; medians of the rounds."""
    team = team_named("bench-ingest")
    api_key, raw_key = core.api_key_create(team=team, name="bench")
    now = timezone.now()
    events = make_events(n_events, random.Random(7), now, "e")
    bodies = [json.dumps({"events": events[i : i + batch]}) for i in range(0, n_events, batch)]
    # The rows as the ingest stores them (its API key too: the same rows, the same foreign keys).
    rows = [
        execution_copy_row(
            {
                "team_id": team.pk,
                "api_key_id": api_key.pk,
                "client_id": e["id"],
                "agent_name": e["agent"],
                "version": e["agent_version"],
                "model": e["model"],
                "trace_id": e["trace_id"],
                "span_id": e["span_id"],
                "started_at": e["started_at"],
                "duration_ms": e["duration_ms"],
                "status": e["status"],
                "error_type": e.get("error_type", ""),
                "input_tokens": e["input_tokens"],
                "output_tokens": e["output_tokens"],
                "cached_input_tokens": e["cached_input_tokens"],
                "cost_source": "none",
                "received_at": now,
            }
        )
        for e in events
    ]
    keys_only_table()
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}
    client.post(
        "/api/v1/observability/ingest/",
        json.dumps({"events": make_events(10, random.Random(1), now, "warm")}),
        content_type="application/json",
        **headers,
    )

    def copy_same_table():
        truncate_all()
        meter = _copy_rows("observability_execution", rows)
        assert Execution.objects.filter(team=team).count() == n_events
        return meter

    def copy_keys_only():
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {KEYS_TABLE}")
        return _copy_rows(KEYS_TABLE, rows)

    def batch_api():
        truncate_all()
        with CpuMeter() as meter:
            for body in bodies:
                response = client.post(
                    "/api/v1/observability/ingest/", body, content_type="application/json", **headers
                )
                assert response.status_code == 200, response.content[:500]
        assert Execution.objects.filter(team=team).count() == n_events
        window = {"start": now - dt.timedelta(days=1), "end": now + dt.timedelta(days=1)}
        report = selectors.rollups_verify(**window, team=team)  # the rollups equal a rebuild from the rows
        assert report["ok"], report
        return meter

    def lean_floor():
        # What any ingest that checks each event must do, and nothing more: parse the body, run the
        # ingest's own validation, store the rows with the ingest's own COPY. No auth, no pricing,
        # no lookups, no trace summaries, no rollups: the bound on a validating Python ingest.
        truncate_all()
        oldest, newest = now - dt.timedelta(days=30), now + dt.timedelta(hours=1)
        with CpuMeter() as meter:
            for body in bodies:
                rows = []
                for event in orjson.loads(body)["events"]:
                    row = event_validate(event, oldest=oldest, newest=newest, errors=v.Errors())
                    row.update(
                        agent_id=None,
                        agent_version_id=None,
                        content_hash="",
                        cost_source="none",
                        counts_execution=True,
                        counts_usage=True,
                    )
                    rows.append(row)
                with transaction.atomic():
                    executions_insert(
                        rows, team_id=team.pk, build_id=None, api_key_id=api_key.pk, source="api", existing=set()
                    )
        assert Execution.objects.filter(team=team).count() == n_events
        return meter

    runs = interleaved({"copy": copy_same_table, "keys": copy_keys_only, "api": batch_api, "lean": lean_floor}, repeats)
    truncate_all()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {KEYS_TABLE}")
    return {
        "events": n_events,
        "batch": batch,
        "repeats": repeats,
        "copy_eps": median_rate(runs["copy"], n_events),
        "keys_eps": median_rate(runs["keys"], n_events),
        "api_eps": median_rate(runs["api"], n_events),
        "api_cpu": cpu_per_item(runs["api"], n_events),
        "copy_cpu": cpu_per_item(runs["copy"], n_events),
        "lean_eps": median_rate(runs["lean"], n_events),
        "lean_cpu": cpu_per_item(runs["lean"], n_events),
    }


def cpu_line(label: str, cpu: tuple[float, float | None]) -> str:
    python, database = cpu
    if database is None:
        return f"  {label}: {python * 1e6:,.0f} us Python per event (server CPU not readable)"
    total = python + database
    return (
        f"  {label}: {python * 1e6:,.0f} us Python + {database * 1e6:,.0f} us PostgreSQL per event"
        f" = {1 / total:,.0f} events/s per core"
    )


def gunicorn(port: int, workers: int) -> subprocess.Popen:
    return start_server(db_name=DB_NAME, port=port, workers=workers)


def bench_ingest_gunicorn(n_events: int, batch: int, workers: int, clients: int) -> dict:
    """The same batches over HTTP to the real server on loopback, ``clients`` at a time."""
    import requests

    team = team_named("bench-ingest")
    _, raw_key = core.api_key_create(team=team, name="bench-http")
    now = timezone.now()
    events = make_events(n_events, random.Random(8), now, "h")
    bodies = [json.dumps({"events": events[i : i + batch]}) for i in range(0, n_events, batch)]
    truncate_all()
    port = free_port()
    proc = gunicorn(port, workers)
    url = f"http://127.0.0.1:{port}/api/v1/observability/ingest/"
    headers = {"Authorization": f"Bearer {raw_key}", "Content-Type": "application/json"}
    failures = []
    try:
        warm = requests.Session()
        for _ in range(workers * 2):
            warm.post(
                url,
                data=json.dumps({"events": make_events(5, random.Random(), now, f"w{time.time()}")}),
                headers=headers,
                timeout=60,
            )
        truncate_all()
        queue = list(range(len(bodies)))
        lock = threading.Lock()

        def client():
            session = requests.Session()
            while True:
                with lock:
                    if not queue:
                        return
                    index = queue.pop()
                response = session.post(url, data=bodies[index], headers=headers, timeout=120)
                if response.status_code != 200:
                    failures.append(response.status_code)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.perf_counter() - start
    finally:
        stop_server(proc)
    assert not failures, failures[:5]
    assert Execution.objects.filter(team=team).count() == n_events
    truncate_all()
    return {"api_eps": n_events / seconds, "workers": workers, "clients": clients}


def _dashboard_ms(client: Client, headers: dict) -> float:
    start = time.perf_counter()
    response = client.get("/api/v1/observability/dashboard/?range=30d", **headers)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200
    return elapsed * 1000


def bench_dashboard(n_rows: int, repeats: int, regenerate: bool = False, small_rows: int = 100_000) -> dict:
    """The 30-day dashboard of ``bench-big`` (``n_rows``) and of ``bench-small`` (``small_rows``),
    measured interleaved, beside the plain SQL aggregate over bench-big's raw rows."""
    team, small = team_named("bench-big"), team_named("bench-small")
    timings = ensure_rows(team, n_rows, regenerate)
    ensure_rows(small, small_rows, regenerate)
    _, raw_key = core.api_key_create(team=team, name="bench")
    _, small_key = core.api_key_create(team=small, name="bench")
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}
    small_headers = {"HTTP_AUTHORIZATION": f"Bearer {small_key}"}
    period = selectors.time_range("30d")  # the window the API computes now (the clock may have moved on)
    _dashboard_ms(client, headers), _dashboard_ms(client, small_headers)  # warm-up
    api_times, small_times, rollup_times = [], [], []
    for _ in range(repeats):
        api_times.append(_dashboard_ms(client, headers))
        small_times.append(_dashboard_ms(client, small_headers))
        # Before blocks: the rollups only.
        with mock.patch("observability.selectors.dashboard.block_agent_model_and_series", return_value=None):
            rollup_times.append(_dashboard_ms(client, headers))
    response = client.get("/api/v1/observability/dashboard/?range=30d", **headers)
    data = response.json()
    in_window = Execution.objects.filter(team=team, started_at__gte=period.start, started_at__lt=period.end).count()
    assert data["totals"]["executions"] == in_window, (data["totals"]["executions"], in_window)
    assert len(data["agents"]) == AGENTS
    raw_times = []
    for _ in range(max(1, min(3, repeats // 5))):  # minutes each at 10M rows
        start = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")  # minutes at 10M rows; a request's bound is 5 s
            cursor.execute(RAW_AGENTS_SQL, [team.pk, period.start, period.end])
            raw_agents = cursor.fetchall()
            cursor.execute(RAW_SERIES_SQL, [team.pk, period.start, period.end])
            cursor.fetchall()
        raw_times.append(time.perf_counter() - start)
    # The two agree (percentiles within the histogram's error).
    exact = {row[0]: row for row in raw_agents}
    worst = 0.0
    for agent in data["agents"]:
        for position, key in enumerate(("p50_ms", "p95_ms", "p99_ms")):
            true = exact[agent["agent"]][3][position]
            worst = max(worst, abs(agent[key] - true) / true)
        assert agent["executions"] == exact[agent["agent"]][1]
    return {
        "rows": n_rows,
        "small_rows": small_rows,
        **timings,
        "api_ms": statistics.median(api_times),
        "api_p95_ms": sorted(api_times)[max(0, round(0.95 * len(api_times)) - 1)],
        "small_ms": statistics.median(small_times),
        "rollups_only_ms": statistics.median(rollup_times),
        "raw_ms": statistics.median(raw_times) * 1000,
        "worst_percentile_error": worst,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="10,000,000 executions and 20,000 events per round.")
    parser.add_argument("--quick", action="store_true", help="CI-sized: 2,000 events, 3 rounds, 20,000 rows.")
    parser.add_argument("--rows", type=int, default=None, help="Executions for the dashboard part (default 500,000).")
    parser.add_argument(
        "--small-rows", type=int, default=100_000, help="Executions of the small team (default 100,000)."
    )
    parser.add_argument("--events", type=int, default=None, help="Events per ingest round (default 5,000).")
    parser.add_argument("--batch", type=int, default=1000, help="Events per API request (default 1000).")
    parser.add_argument(
        "--repeats", type=int, default=None, help="Interleaved ingest rounds (default 5); dashboard runs (default 15)."
    )
    parser.add_argument("--workers", type=int, default=0, help="server workers for an HTTP run (default 0: none).")
    parser.add_argument("--clients", type=int, default=2, help="concurrent HTTP clients.")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--regenerate", action="store_true", help="Generate the dashboard rows even if they exist.")
    parser.add_argument("--skip-dashboard", action="store_true")
    args = parser.parse_args()
    rows = args.rows or (10_000_000 if args.full else 20_000 if args.quick else 500_000)
    events = args.events or (20_000 if args.full else 2_000 if args.quick else 5_000)
    repeats = args.repeats or (3 if args.quick else 5)
    call_command("migrate", verbosity=0)
    print(f"database {DB_NAME}; PostgreSQL; load average {load_average()}")
    if not args.skip_ingest:
        print(f"Ingest: {events:,} events per round, batches of {args.batch}, {repeats} interleaved rounds (medians)")
        r = bench_ingest(events, args.batch, repeats)
        print(f"  raw COPY into a keys-only table       : {r['keys_eps']:>10,.0f} events/s")
        print(
            f"  raw COPY into observability_execution : {r['copy_eps']:>10,.0f} events/s"
            f"   = {r['copy_eps'] / r['keys_eps']:.2f} x the keys-only COPY (target >= 0.6)"
        )
        print(
            f"  batch API, test client, sequential    : {r['api_eps']:>10,.0f} events/s"
            f"   = {r['api_eps'] / r['copy_eps']:.2f} x COPY (target >= 0.5)"
        )
        print(
            f"  parse + validate + COPY only (floor)  : {r['lean_eps']:>10,.0f} events/s"
            f"   = {r['lean_eps'] / r['copy_eps']:.2f} x COPY (no auth, pricing, lookups, traces or rollups)"
        )
        print(cpu_line("batch API CPU", r["api_cpu"]))
        print(cpu_line("lean floor CPU", r["lean_cpu"]))
        print(cpu_line("raw COPY CPU ", r["copy_cpu"]))
        if args.workers:
            g = bench_ingest_gunicorn(events, args.batch, args.workers, args.clients)
            print(
                f"  batch API, server {g['workers']} workers, {g['clients']} clients: {g['api_eps']:>8,.0f} events/s"
                f"   = {g['api_eps'] / r['copy_eps']:.2f} x COPY"
            )
    if not args.skip_dashboard:
        print(f"Dashboard: 30 days, {rows:,} executions, {AGENTS} agents")
        r = bench_dashboard(rows, args.repeats or (3 if args.quick else 15), args.regenerate, args.small_rows)
        if "generate_s" in r:
            print(f"  generated in {r['generate_s']:.0f} s; rollups rebuilt in {r['rebuild_s']:.0f} s")
        print(f"  plain SQL aggregate over raw rows     : {r['raw_ms']:>10,.0f} ms")
        print(
            f"  dashboard API, {r['rows']:,} rows, median / p95: {r['api_ms']:,.1f} / {r['api_p95_ms']:,.1f} ms"
            f"   = {r['raw_ms'] / r['api_ms']:.0f}x faster than the aggregate (target <= 50 ms)"
        )
        print(f"  the same without day blocks (rollups only), median: {r['rollups_only_ms']:,.1f} ms")
        print(
            f"  dashboard API, {r['small_rows']:,} rows, median: {r['small_ms']:,.1f} ms; "
            f"{r['rows']:,} rows / {r['small_rows']:,} rows = {r['api_ms'] / r['small_ms']:.2f}x (target <= 1.2x)"
        )
        print(f"  worst p50/p95/p99 gap vs percentile_cont: {r['worst_percentile_error'] * 100:.2f} %")


if __name__ == "__main__":
    main()
