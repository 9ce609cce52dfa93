"""Benchmark: a worker's memory under repeated 1,000-event ingests.

    .venv/bin/python benchmarks/memory.py                    # 1,000 batches, granian (scripts/run's server)
    .venv/bin/python benchmarks/memory.py --server gunicorn  # the earlier server, for comparison

Starts its own PostgreSQL (temporary folder) and one server worker (so every batch lands in the
same process) on 127.0.0.1, records the worker's RSS after boot, then sends ``--batches``
batches of ``--events`` execution events from ``--clients`` threads and prints the RSS every
100 batches. Exit status 1 when the worker ends above ``--bound`` times its size after boot
(issue 15's goal: 1.3x after 1,000 batches). Loopback only; stops everything it started.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.hardening.servers import AppServer, PrivatePostgres, app_env, manage  # noqa: E402


def batch(prefix: str, n: int) -> dict:
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).isoformat()
    return {
        "events": [
            {
                "id": f"{prefix}{i}",
                "agent": f"bot-{i % 20}",
                "model": "gpt-4o",
                "started_at": start,
                "duration_ms": 100 + i % 900,
                "status": "success" if i % 10 else "error",
                "input_tokens": 1200 + i,
                "output_tokens": 300,
                "trace_id": uuid.uuid4().hex,
            }
            for i in range(n)
        ]
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", choices=["granian", "gunicorn"], default="granian")
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--bound", type=float, default=1.3)
    args = parser.parse_args()

    pg = PrivatePostgres()
    server = None
    try:
        pg.start()
        pg.create_database("bench_memory")
        env = app_env(DATABASE_URL=pg.url("bench_memory"), CRUCIBLE_OBS_MAX_BATCH_EVENTS=str(max(1000, args.events)))
        manage("migrate", "--noinput", env=env)
        manage("create_team", "Memory Co", "--owner", "memory", "--password", "pw-memory-123", env=env)
        key = manage("create_api_key", "memory-co", "--user", "memory", env=env).strip()
        server = AppServer(env, workers=1, threads=args.threads, kind=args.server).wait_ready()
        time.sleep(1)
        (worker,) = server.worker_pids()

        def rss() -> float:
            return server.rss_kib()[worker] / 1024

        boot = rss()
        print(f"==> {args.server}, 1 worker x {args.threads} threads; RSS after boot {boot:.1f} MiB", flush=True)
        sent = [0]
        lock = threading.Lock()
        errors = []

        def client():
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {key}"
            while True:
                with lock:
                    if sent[0] >= args.batches or errors:
                        return
                    sent[0] += 1
                    number = sent[0]
                r = session.post(
                    server.base_url + "/api/v1/observability/ingest/",
                    json=batch(f"b{number}-", args.events),
                    timeout=120,
                )
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                if number % 100 == 0:
                    print(f"    {number:>5} batches  RSS {rss():6.1f} MiB", flush=True)

        started = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        end = rss()
        elapsed = time.monotonic() - started
        assert server.worker_pids() == [worker], "the worker was replaced"
        print(
            f"{sent[0]} batches of {args.events} events in {elapsed:.0f} s "
            f"({sent[0] * args.events / elapsed:,.0f} events/s); RSS {boot:.1f} -> {end:.1f} MiB "
            f"({end / boot:.2f}x, bound {args.bound}x); errors: {errors[:3] or 'none'}"
        )
        if errors or end > args.bound * boot:
            sys.exit(1)
    finally:
        if server is not None:
            server.stop()
        pg.destroy()


if __name__ == "__main__":
    main()
