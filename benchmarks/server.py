"""Benchmark: the HTTP server itself. Requests per second and latency of ``GET /healthz`` and of a
small authenticated list (``GET /api/v1/teams/``), closed loop from ``--clients`` threads, on
granian + crucible.asgi (what scripts/run serves) or on gunicorn (the earlier server), with the
same workers and threads; optionally with ``--slow N`` slow connections held open meanwhile.

The floor, measured in the same run and interleaved round by round: ``GET /ping/`` of a minimal
Django + DRF application (``benchmarks/reference_app.py``: one APIView, no database, no
middleware) served the same way, and the same application's ``GET /ping/read/`` (one plain SELECT
of 20 rows: the least database work a small list does) and ``GET /ping/counted-read/`` (an
asynchronously committed counter upsert, as our throttle, then that SELECT: the least a
rate-limited small list does). Each line gives the median of the rounds and its ratio to the
first two. The load comes from ``benchmarks/_load.py``: by default a light asyncio
client (about as cheap per request as ``wrk``); ``--client requests`` is the heavier client of the
earlier figures, whose own CPU shares the cores with the servers and so flatters every ratio.

    CRUCIBLE_DB_NAME=bench_server .venv/bin/python benchmarks/server.py
    CRUCIBLE_DB_NAME=bench_server .venv/bin/python benchmarks/server.py --server gunicorn
    CRUCIBLE_DB_NAME=bench_server .venv/bin/python benchmarks/server.py --slow 500

Loopback only; bounded by ``--seconds`` per round; stops the server it started.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _load import CLIENTS, closed_loop  # noqa: E402  (benchmarks/_load.py)
from _measure import load_average  # noqa: E402
from _server import free_port, start_server, stop_server  # noqa: E402  (benchmarks/_server.py)

DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_server")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_server.")

from tests.hardening.test_slow_clients import SlowClients  # noqa: E402


def manage(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout


def prepare() -> str:
    manage("migrate", "--noinput", "-v0")
    # the reference's read floor (benchmarks/reference_app.py)
    manage(
        "shell",
        "-c",
        "from django.db import connection; from benchmarks.reference_app import ensure_tables; ensure_tables(connection.cursor())",
    )
    if "bench-server" not in manage(
        "shell", "-c", "from crucible.models import Team; print(list(Team.objects.values_list('slug', flat=True)))"
    ):
        manage("create_team", "Bench server", "--owner", "bench-server", "--password", "pw-bench-server-1")
    return manage("create_api_key", "bench-server", "--user", "bench-server").strip()


def round_(base_url: str, path: str, key: str, clients: int, seconds: float, client: str) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    return closed_loop(base_url + path, "GET", headers=headers, clients=clients, seconds=seconds, client=client)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=["granian", "gunicorn"], default="granian")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default="light",
        help="load client (benchmarks/_load.py; 'requests': the earlier one)",
    )
    parser.add_argument("--slow", type=int, default=0, help="slow connections held open during the rounds")
    args = parser.parse_args()
    key = prepare()
    port, reference_port = free_port(), free_port()
    proc = start_server(db_name=DB_NAME, port=port, workers=args.workers, threads=args.threads, server=args.server)
    reference = start_server(
        db_name=DB_NAME,
        port=reference_port,
        workers=args.workers,
        threads=args.threads,
        server=args.server,
        reference=True,
    )
    targets = [
        ("reference /ping/", f"http://127.0.0.1:{reference_port}", "/ping/"),
        ("ref. /ping/read/", f"http://127.0.0.1:{reference_port}", "/ping/read/"),
        ("ref. counted-read", f"http://127.0.0.1:{reference_port}", "/ping/counted-read/"),
        ("/healthz", f"http://127.0.0.1:{port}", "/healthz"),
        ("/api/v1/teams/", f"http://127.0.0.1:{port}", "/api/v1/teams/"),
    ]
    print(
        f"==> {args.server} ({args.workers} workers x {args.threads} threads), {args.clients} clients ({args.client})",
        flush=True,
    )
    results: dict[str, list[dict]] = {name: [] for name, _, _ in targets}
    try:
        for _, base_url, path in targets:
            round_(base_url, path, key, args.clients, 3, args.client)  # warm-up: connections, imports
        slow = SlowClients(port, args.slow) if args.slow else None
        if slow:
            slow.__enter__()
            print(f"    {slow.open} slow connections open", flush=True)
        try:
            loads = [load_average()]
            for index in range(args.rounds):
                # a rotating order: a load spike on the shared machine hits every figure alike
                for name, base_url, path in targets[index % len(targets) :] + targets[: index % len(targets)]:
                    r = round_(base_url, path, key, args.clients, args.seconds, args.client)
                    results[name].append(r)
                    print(
                        f"{name:<18} {r['requests']:>6} requests  {r['rps']:7.1f} req/s  "
                        f"p50 {r['p50']:6.1f} ms  p99 {r['p99']:7.1f} ms  errors {r['errors']}",
                        flush=True,
                    )
                loads.append(load_average())
        finally:
            if slow:
                slow.__exit__(None, None, None)
    finally:
        stop_server(proc)
        stop_server(reference)
    floor = statistics.median(r["rps"] for r in results["reference /ping/"])
    read_floor = statistics.median(r["rps"] for r in results["ref. /ping/read/"])
    print(f"\nload average before and after each round: {'; '.join(loads)}")
    print(
        f"medians of {args.rounds} interleaved rounds (ratio to the minimal DRF endpoint, and to the same "
        "endpoint reading 20 rows of a table: the least a small list does):"
    )
    for name, rounds in results.items():
        rps = statistics.median(r["rps"] for r in rounds)
        p50 = statistics.median(r["p50"] for r in rounds)
        print(f"{name:<18} {rps:8.1f} req/s  p50 {p50:6.1f} ms  {rps / floor:5.2f}x  {rps / read_floor:5.2f}x of read")


if __name__ == "__main__":
    main()
