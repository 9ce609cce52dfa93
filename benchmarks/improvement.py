"""Benchmark: throughput of ``POST /api/v1/improvement/select/`` under concurrent load, beside
the framework's floor measured in the same run: ``GET /ping/`` of a minimal Django + DRF
application (``benchmarks/reference_app.py``: one APIView, no database, no middleware) served the
same way (granian, the same workers and threads, the same buffering front). Beside it, the same
application's ``POST /ping/write/``: the floor plus one durable ``INSERT`` into a keys-only table,
the least database work a select must do (record its assignment); each select's ratio to both is
printed. The load comes from ``benchmarks/_load.py``: by default a light asyncio client (about as
cheap per request as ``wrk``), so the cores go to the servers; ``--client requests`` is the
heavier client of the earlier figures, whose own CPU the floor and the selects share.

    CRUCIBLE_DB_NAME=bench_improvement .venv/bin/python benchmarks/improvement.py            # small
    CRUCIBLE_DB_NAME=bench_improvement .venv/bin/python benchmarks/improvement.py --full     # docs figure

It migrates its own database, prepares a running experiment (three variants past warm-up, so
epsilon-greedy exploits and explores as in production), starts the server, then runs rounds of the
floor and of three select paths (by name, ``/experiments/{id}/select/``, and the same with a unit
key drawn from 5,000 units so that new and returning units mix: sticky assignment) with the same
number of concurrent clients, in a rotating order round by round. It prints the load average
around the rounds, the median requests per second and latency percentiles of each path, its ratio
to the floor, and a check that every successful select wrote exactly one assignment and one
traffic count.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from _load import CLIENTS, closed_loop  # noqa: E402  (benchmarks/_load.py)
from _measure import load_average  # noqa: E402
from _server import free_port, start_server, stop_server  # noqa: E402  (benchmarks/_server.py)

DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_improvement")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_improvement.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")

import django  # noqa: E402

django.setup()

from _seed import select_experiment  # noqa: E402  (benchmarks/_seed.py)
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from reference_app import ensure_tables  # noqa: E402  (benchmarks/reference_app.py)

from crucible import services as core  # noqa: E402
from crucible.models import Team  # noqa: E402
from improvement.models import Assignment, Experiment, VariantBucket  # noqa: E402

EXPERIMENT = "bench-select"


def prepare() -> str:
    call_command("migrate", verbosity=0)
    team, _ = Team.objects.get_or_create(slug="bench-improvement", defaults={"name": "Bench improvement"})
    Experiment.objects.filter(team=team).delete()
    select_experiment(team=team, name=EXPERIMENT)
    _, raw = core.api_key_create(team=team, name="bench")
    with connection.cursor() as cursor:
        ensure_tables(cursor)  # the reference's write floor
    return raw


def start_app_server(port: int, workers: int, threads: int) -> subprocess.Popen:
    return start_server(db_name=DB_NAME, port=port, workers=workers, threads=threads)


def load(url: str, method: str, key: str, *, body=None, clients: int, seconds: float, client: str = "light") -> dict:
    """``clients`` concurrent keep-alive connections for ``seconds`` (benchmarks/_load.py)."""
    headers = {"Authorization": f"Bearer {key}"}
    return closed_loop(url, method, headers=headers, body=body, clients=clients, seconds=seconds, client=client)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the documented size: 3 rounds of 20 s each")
    parser.add_argument("--seconds", type=float, default=None, help="length of each round")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=3, help="server workers")
    parser.add_argument("--threads", type=int, default=4, help="server threads per worker")
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default="light",
        help="load client (benchmarks/_load.py; 'requests': the earlier one)",
    )
    args = parser.parse_args()
    seconds = args.seconds or (20.0 if args.full else 4.0)
    rounds = args.rounds or (3 if args.full else 1)

    key = prepare()
    before_assignments = Assignment.objects.filter(experiment__name=EXPERIMENT).count()
    port, reference_port = free_port(), free_port()
    server = start_app_server(port, args.workers, args.threads)
    reference = start_server(
        db_name=DB_NAME, port=reference_port, workers=args.workers, threads=args.threads, reference=True
    )
    base = f"http://127.0.0.1:{port}"
    experiment_id = Experiment.objects.get(name=EXPERIMENT).pk
    by_name, by_id = (
        f"{base}/api/v1/improvement/select/",
        f"{base}/api/v1/improvement/experiments/{experiment_id}/select/",
    )

    def with_unit():
        return {"unit": f"user-{random.randrange(5000)}"}

    # name: (label, url, method, body); measured in a rotating order, round by round
    paths = {
        "floor": ("GET /ping/ (minimal DRF, floor)", f"http://127.0.0.1:{reference_port}/ping/", "GET", None),
        "write": (
            "POST /ping/write/ (floor + 1 durable insert)",
            f"http://127.0.0.1:{reference_port}/ping/write/",
            "POST",
            {},
        ),
        "select": ("POST /improvement/select/ (by name)", by_name, "POST", {"experiment": EXPERIMENT}),
        "by_id": ("POST /experiments/{id}/select/", by_id, "POST", {}),
        "unit": ("POST /experiments/{id}/select/ + unit", by_id, "POST", with_unit),
    }
    results = {name: [] for name in paths}
    loads = [load_average()]
    try:
        # Warm every path (connections, imports) before measuring.
        for _, url, method, body in paths.values():
            load(url, method, key, body=body, clients=2, seconds=1, client=args.client)
        names = list(paths)
        for round_ in range(rounds):
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                _, url, method, body = paths[name]
                results[name].append(
                    load(url, method, key, body=body, clients=args.clients, seconds=seconds, client=args.client)
                )
            loads.append(load_average())
    finally:
        stop_server(server)
        stop_server(reference)

    def summary(rows):
        return {
            "rps": statistics.median(r["rps"] for r in rows),
            "p50": statistics.median(r["p50"] for r in rows),
            "p95": statistics.median(r["p95"] for r in rows),
            "errors": sum(r["errors"] for r in rows),
            "ok": sum(r["ok"] for r in rows),
        }

    summaries = {name: summary(rows) for name, rows in results.items()}
    floor = summaries["floor"]
    print(
        f"\nselect throughput vs the DRF floor: {args.clients} concurrent clients, server {args.workers}x{args.threads}, "
        f"{rounds} interleaved round(s) of {seconds:g}s, median of rounds, {args.client} client"
    )
    print("load average before and after each round: " + "; ".join(loads))
    write = summaries["write"]
    print(f"{'endpoint':<46}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}{'ratio':>8}{'/write':>8}")
    for name, (label, *_) in paths.items():
        row = summaries[name]
        print(
            f"{label:<46}{row['rps']:>9.0f}{row['p50']:>9.1f}{row['p95']:>9.1f}{row['errors']:>8}"
            f"{row['rps'] / floor['rps']:>7.2f}x{row['rps'] / write['rps']:>7.2f}x"
        )

    # Exactness under load: one assignment and one traffic count per successful select.
    made = Assignment.objects.filter(experiment__name=EXPERIMENT).count() - before_assignments
    counted = sum(VariantBucket.objects.filter(experiment__name=EXPERIMENT).values_list("assignments", flat=True))
    measured = sum(summaries[name]["ok"] for name in ("select", "by_id", "unit"))
    print(f"assignments written: {made} (measured {measured}, the rest warm-up); traffic counters: {counted}")
    if counted != made:
        raise SystemExit("traffic counters disagree with assignments")


if __name__ == "__main__":
    main()
