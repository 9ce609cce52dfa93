"""Load test: gunicorn on 127.0.0.1 against a private PostgreSQL, a steady mix of reads,
searches, variant selects and batch ingests for a bounded time.

    .venv/bin/python benchmarks/load.py --duration 300 --rate 60

Starts its own PostgreSQL cluster in a temporary folder (the shared embedded server is not
touched), migrates and seeds it through the apps' services, starts gunicorn on a free loopback
port, then sends requests at ``--rate`` per second (open loop: a request's start time is fixed by
the schedule, so a slow server shows up as latency, not as fewer requests) from ``--clients``
threads for ``--duration`` seconds, and at most ``--rate * --duration`` requests. Prints
throughput, p50/p95/p99 latency (overall and per kind), error count and the RSS of each gunicorn
worker after warm-up and at the end, then stops everything it started. Exit status 1 when a
request failed or a worker grew by more than ``--rss-bound-mib``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from tests.hardening.servers import Gunicorn, PrivatePostgres, app_env, manage  # noqa: E402

MIX = [("read", 0.40), ("search", 0.20), ("select", 0.15), ("ingest", 0.25)]
READS = [
    "/api/v1/marketplace/agents/?ordering=-install_count",
    "/api/v1/marketplace/agents/{agent}/",
    "/api/v1/observability/dashboard/?period=24h",
    "/api/v1/improvement/experiments/",
    "/api/v1/teammemory/insights/",
    "/api/v1/observability/executions/?page_size=20",
    "/api/v1/marketplace/installs/",
]
SEARCHES = ["review", "tests", "docs", "helper", "code review", "t3"]


def percentile(values, q):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Runner:
    def __init__(self, base_url, seed, rate, duration, clients, batch):
        self.base_url, self.seed, self.rate, self.duration, self.clients, self.batch = (
            base_url,
            seed,
            rate,
            duration,
            clients,
            batch,
        )
        self.max_requests = int(rate * duration)
        self.next_slot = 0
        self.lock = threading.Lock()
        self.samples = defaultdict(list)  # kind -> latencies (s)
        self.errors: list[str] = []
        self.event_seq = 0

    def take_slot(self):
        with self.lock:
            if self.next_slot >= self.max_requests:
                return None
            slot = self.next_slot
            self.next_slot += 1
            self.event_seq += 1
            return slot, self.event_seq

    def request(self, session, kind, team, rng, seq):
        agents = self.seed["agents"]
        if kind == "read":
            path = rng.choice(READS).format(agent=rng.choice(agents))
            return session.get(self.base_url + path, timeout=30)
        if kind == "search":
            return session.get(
                self.base_url + "/api/v1/marketplace/agents/", params={"q": rng.choice(SEARCHES)}, timeout=30
            )
        if kind == "select":
            return session.post(
                self.base_url + "/api/v1/improvement/select/", json={"experiment": team["experiment"]}, timeout=30
            )
        now = time.time()
        events = [
            {
                "id": f"load-{seq}-{i}",
                "agent": f"bot-{i % 5}",
                "model": "gpt-4o-mini",
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - rng.uniform(0, 3600))),
                "duration_ms": rng.uniform(20, 8000),
                "status": "success" if rng.random() < 0.9 else "error",
                "input_tokens": rng.randint(10, 4000),
                "output_tokens": rng.randint(10, 1000),
                "variant_id": rng.choice(team["variants"]),
            }
            for i in range(self.batch)
        ]
        return session.post(self.base_url + "/api/v1/observability/ingest/", json={"events": events}, timeout=60)

    def client(self, index, t0):
        rng = random.Random(index)
        team = self.seed["teams"][index % len(self.seed["teams"])]
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {team['key']}"
        kinds, weights = zip(*MIX, strict=True)
        while True:
            taken = self.take_slot()
            if taken is None:
                return
            slot, seq = taken
            start_at = t0 + slot / self.rate
            if start_at - t0 > self.duration:
                return
            delay = start_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            kind = rng.choices(kinds, weights)[0]
            began = time.perf_counter()
            try:
                response = self.request(session, kind, team, rng, seq)
                ok = response.status_code in (200, 201)
                detail = f"{kind} {response.status_code} {response.text[:120]}"
            except requests.RequestException as exc:
                ok, detail = False, f"{kind} {type(exc).__name__}"
            elapsed = time.perf_counter() - began
            with self.lock:
                self.samples[kind].append(elapsed)
                if not ok:
                    self.errors.append(detail)

    def run(self):
        t0 = time.monotonic() + 0.2
        threads = [threading.Thread(target=self.client, args=(i, t0)) for i in range(self.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=self.duration + 120)
        return time.monotonic() - t0


def summarize(samples):
    everything = [x for values in samples.values() for x in values]
    out = {}
    for kind, values in [("all", everything), *sorted(samples.items())]:
        out[kind] = {
            "requests": len(values),
            "p50_ms": round(1000 * percentile(values, 50), 1) if values else None,
            "p95_ms": round(1000 * percentile(values, 95), 1) if values else None,
            "p99_ms": round(1000 * percentile(values, 99), 1) if values else None,
            "mean_ms": round(1000 * statistics.fmean(values), 1) if values else None,
        }
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300, help="seconds of steady load (default 300)")
    parser.add_argument("--rate", type=float, default=60, help="requests per second (default 60)")
    parser.add_argument("--clients", type=int, default=16, help="client threads (default 16)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (default 3)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default 4)")
    parser.add_argument("--teams", type=int, default=8)
    parser.add_argument("--batch", type=int, default=20, help="events per ingest request (default 20)")
    parser.add_argument("--warmup", type=float, default=10, help="seconds of load before the first RSS reading")
    parser.add_argument(
        "--rss-bound-mib", type=float, default=64, help="allowed RSS growth per worker (default 64 MiB)"
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    pg = PrivatePostgres()
    server = None
    try:
        pg.start()
        pg.create_database("bench_load")
        env = app_env(DATABASE_URL=pg.url("bench_load"))
        print("==> migrating and seeding a private PostgreSQL", flush=True)
        manage("migrate", "--noinput", env=env)
        seed = json.loads(
            subprocess.run(
                [sys.executable, str(ROOT / "tests/hardening/stack_setup.py"), str(args.teams)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        server = Gunicorn(env, workers=args.workers, threads=args.threads).wait_ready()
        print(f"==> gunicorn on {server.base_url} ({args.workers} workers x {args.threads} threads)", flush=True)
        warm = Runner(server.base_url, seed, args.rate, args.warmup, args.clients, args.batch)
        warm.run()
        rss_start = server.rss_kib()
        print(
            f"==> warm-up done ({sum(len(v) for v in warm.samples.values())} requests); "
            f"{args.duration:.0f}s at {args.rate:.0f} req/s",
            flush=True,
        )
        runner = Runner(server.base_url, seed, args.rate, args.duration, args.clients, args.batch)
        runner.event_seq = 10_000_000  # event ids distinct from the warm-up's
        wall = runner.run()
        rss_end = server.rss_kib()
        workers_alive = server.worker_pids()
    finally:
        if server is not None:
            server.stop()
        pg.destroy()

    total = sum(len(v) for v in runner.samples.values())
    figures = {
        "duration_s": round(wall, 1),
        "target_rate": args.rate,
        "requests": total,
        "throughput_rps": round(total / wall, 1) if wall else None,
        "errors": len(runner.errors),
        "error_samples": runner.errors[:5],
        "latency": summarize(runner.samples),
        "events_ingested": len(runner.samples.get("ingest", [])) * args.batch,
        "rss_mib_start": {str(pid): round(kib / 1024, 1) for pid, kib in rss_start.items()},
        "rss_mib_end": {str(pid): round(kib / 1024, 1) for pid, kib in rss_end.items()},
        "workers": {"start": sorted(rss_start), "end": workers_alive},
    }
    growth = [rss_end[pid] - rss_start[pid] for pid in rss_start if pid in rss_end]
    figures["rss_growth_mib_max"] = round(max(growth) / 1024, 1) if growth else None
    print(json.dumps(figures, indent=2))
    print(
        f"\n{total} requests in {wall:.0f}s = {figures['throughput_rps']} req/s; "
        f"p50 {figures['latency']['all']['p50_ms']} ms, p95 {figures['latency']['all']['p95_ms']} ms, "
        f"p99 {figures['latency']['all']['p99_ms']} ms; errors {len(runner.errors)}; "
        f"max worker RSS growth {figures['rss_growth_mib_max']} MiB (bound {args.rss_bound_mib})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    bad = runner.errors or (figures["rss_growth_mib_max"] or 0) > args.rss_bound_mib
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
