"""Load and soak test with locust: the project's server (granian) on 127.0.0.1 against a private
PostgreSQL, a steady mix of reads, searches, variant selects, batch ingests and OTLP trace
exports for a bounded time, optionally with PostgreSQL restarted in the middle.

    .venv/bin/python benchmarks/load.py --duration 600 --rate 40 --restart-db-at 300   # the soak
    .venv/bin/python benchmarks/load.py --duration 60 --rate 20                        # a short run

Starts its own PostgreSQL cluster in a temporary folder (the shared embedded server is not
touched), migrates and seeds it through the apps' services, starts the server on a free loopback
port, then runs locust (as a library, no web UI) with ``--users`` simulated clients paced to
``--rate`` requests per second in all, for ``--duration`` seconds. With ``--restart-db-at S``
PostgreSQL is stopped S seconds in for ``--restart-down`` seconds and started again; a request
answered 503 with ``Retry-After`` (the database is down) is retried, as a well-behaved client
does, and only counts as an error if it never succeeds. Prints locust's figures per kind
(requests, p50/p95/p99, failures), the retries, and each worker's RSS after warm-up and at the
end, then stops everything it started. Exit status 1 on any failed request or on worker RSS
growth over ``--rss-bound`` times the RSS after warm-up. Not run in CI.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import gevent
from locust import HttpUser, constant_throughput, events, task
from locust.env import Environment

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hardening.servers import AppServer, PrivatePostgres, app_env, manage  # noqa: E402

READS = [
    ("agents", "/api/v1/marketplace/agents/?ordering=-install_count"),
    ("agent", "/api/v1/marketplace/agents/{agent}/"),
    ("dashboard", "/api/v1/observability/dashboard/?period=24h"),
    ("experiments", "/api/v1/improvement/experiments/"),
    ("insights", "/api/v1/teammemory/insights/"),
    ("executions", "/api/v1/observability/executions/?page_size=20"),
    ("installs", "/api/v1/marketplace/installs/"),
]
SEARCHES = ["review", "tests", "docs", "helper", "code review", "t3"]
SEED: dict = {}
RETRIES = {"count": 0, "first": None, "last": None}


class CrucibleClient(HttpUser):
    """One API client of one team: 40 % reads, 20 % searches, 15 % variant selects, 20 % ingests of
    ``batch`` events, 5 % OTLP trace exports (JSON, two GenAI spans)."""

    batch = 20
    wait_time = constant_throughput(1.0)  # replaced in main() to pace the total rate

    def on_start(self):
        self.rng = random.Random()
        self.team = self.rng.choice(SEED["teams"])
        self.client.headers["Authorization"] = f"Bearer {self.team['key']}"
        self.seq = 0

    def send(self, method: str, path: str, name: str, **kwargs):
        """A request, retried while the server says the database is away (503 + Retry-After)."""
        for attempt in range(60):
            retry = False
            with self.client.request(method, path, name=name, catch_response=True, timeout=60, **kwargs) as r:
                if r.status_code == 503 and r.headers.get("Retry-After") and attempt < 59:
                    r.success()  # not a failure yet: the client waits and tries again
                    RETRIES["count"] += 1
                    RETRIES["first"] = RETRIES["first"] or time.monotonic()
                    RETRIES["last"] = time.monotonic()
                    retry = True
                elif r.status_code in (200, 201):
                    r.success()
                    return
                else:
                    r.failure(f"{r.status_code} {r.text[:160]}")
                    return
            if retry:
                gevent.sleep(0.5)

    @task(40)
    def read(self):
        name, path = self.rng.choice(READS)
        self.send("GET", path.format(agent=self.rng.choice(SEED["agents"])), f"read {name}")

    @task(20)
    def search(self):
        self.send("GET", f"/api/v1/marketplace/agents/?q={self.rng.choice(SEARCHES)}", "search")

    @task(15)
    def select(self):
        self.send("POST", "/api/v1/improvement/select/", "select", json={"experiment": self.team["experiment"]})

    @task(20)
    def ingest(self):
        self.seq += 1
        now = time.time()
        prefix = f"soak-{id(self)}-{self.seq}-"
        events_ = [
            {
                "id": f"{prefix}{i}",
                "agent": f"bot-{i % 5}",
                "model": "gpt-4o-mini",
                "started_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now - self.rng.uniform(0, 3600))),
                "duration_ms": self.rng.uniform(20, 8000),
                "status": "success" if self.rng.random() < 0.9 else "error",
                "input_tokens": self.rng.randint(10, 4000),
                "output_tokens": self.rng.randint(10, 1000),
                "variant_id": self.rng.choice(self.team["variants"]),
            }
            for i in range(self.batch)
        ]
        self.send("POST", "/api/v1/observability/ingest/", f"ingest {self.batch}", json={"events": events_})

    @task(5)
    def traces(self):
        now_ns = time.time_ns()
        trace_id = base64.b16encode(self.rng.randbytes(16)).decode().lower()

        def span(i: int) -> dict:
            return {
                "traceId": trace_id,
                "spanId": base64.b16encode(self.rng.randbytes(8)).decode().lower(),
                "name": "chat gpt-4o-mini",
                "startTimeUnixNano": str(now_ns - 2_000_000_000),
                "endTimeUnixNano": str(now_ns - 2_000_000_000 + self.rng.randint(10, 1500) * 1_000_000),
                "attributes": [
                    {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                    {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
                    {"key": "gen_ai.agent.name", "value": {"stringValue": f"tracer-{i}"}},
                    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(self.rng.randint(10, 900))}},
                    {"key": "gen_ai.usage.output_tokens", "value": {"intValue": str(self.rng.randint(10, 300))}},
                ],
            }

        body = {"resourceSpans": [{"scopeSpans": [{"spans": [span(0), span(1)]}]}]}
        self.send("POST", "/api/v1/observability/otlp/v1/traces", "otlp traces", json=body)


def print_stats(stats, retries: int) -> dict:
    rows = {}
    print(f"{'kind':<22}{'requests':>9}{'fails':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
    for entry in [*sorted(stats.entries.values(), key=lambda e: e.name), stats.total]:
        row = {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "p50_ms": entry.get_response_time_percentile(0.5),
            "p95_ms": entry.get_response_time_percentile(0.95),
            "p99_ms": entry.get_response_time_percentile(0.99),
        }
        rows[entry.name] = row
        print(
            f"{entry.name:<22}{row['requests']:>9}{row['failures']:>7}"
            f"{row['p50_ms'] or 0:>9.0f}{row['p95_ms'] or 0:>9.0f}{row['p99_ms'] or 0:>9.0f}"
        )
    print(f"503 answers retried while the database was away: {retries}")
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600, help="seconds of steady load (default 600)")
    parser.add_argument("--rate", type=float, default=40, help="requests per second in all (default 40)")
    parser.add_argument("--users", type=int, default=16, help="simulated clients (default 16)")
    parser.add_argument("--workers", type=int, default=3, help="server workers (default 3)")
    parser.add_argument("--threads", type=int, default=4, help="threads per server worker (default 4)")
    parser.add_argument("--teams", type=int, default=8)
    parser.add_argument("--batch", type=int, default=20, help="events per ingest request (default 20)")
    parser.add_argument("--warmup", type=float, default=15, help="seconds of load before the first RSS reading")
    parser.add_argument("--restart-db-at", type=float, default=0, help="stop PostgreSQL this many seconds in")
    parser.add_argument("--restart-down", type=float, default=5, help="seconds PostgreSQL stays down")
    parser.add_argument("--rss-bound", type=float, default=1.3, help="allowed end/start RSS ratio per worker")
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
        out = subprocess.run(
            [sys.executable, str(ROOT / "tests/hardening/stack_setup.py"), str(args.teams)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        ).stdout
        SEED.update(json.loads(out.strip().splitlines()[-1]))
        server = AppServer(env, workers=args.workers, threads=args.threads).wait_ready()
        print(f"==> server on {server.base_url} ({args.workers} workers x {args.threads} threads)", flush=True)

        CrucibleClient.batch = args.batch
        CrucibleClient.wait_time = constant_throughput(args.rate / args.users)
        environment = Environment(user_classes=[CrucibleClient], host=server.base_url, events=events)
        runner = environment.create_local_runner()
        runner.start(args.users, spawn_rate=args.users)
        gevent.sleep(args.warmup)
        rss_start = server.rss_kib()
        environment.stats.reset_all()
        RETRIES.update(count=0, first=None, last=None)
        back_at = stop_at = None
        print(f"==> warm-up done; {args.duration:.0f} s at {args.rate:.0f} req/s", flush=True)
        started = time.monotonic()
        if args.restart_db_at:
            gevent.sleep(args.restart_db_at)
            print("==> stopping PostgreSQL", flush=True)
            stop_at = time.monotonic()
            pg.stop("fast")
            gevent.sleep(args.restart_down)
            pg.start()
            back_at = time.monotonic()
            print("==> PostgreSQL started again", flush=True)
        gevent.sleep(max(0.0, args.duration - (time.monotonic() - started)))
        runner.quit()
        wall = time.monotonic() - started
        rss_end = server.rss_kib()
        workers_end = server.worker_pids()
        rows = print_stats(environment.stats, RETRIES["count"])
        errors = environment.stats.total.num_failures
        samples = [f"{e.name}: {e.error}" for e in list(environment.stats.errors.values())[:5]]
    finally:
        if server is not None:
            server.stop()
        pg.destroy()

    ratios = {pid: rss_end[pid] / rss_start[pid] for pid in rss_start if pid in rss_end and pid != server.proc.pid}
    figures = {
        "duration_s": round(wall, 1),
        "throughput_rps": round(rows["Aggregated"]["requests"] / wall, 1),
        "errors": errors,
        "error_samples": samples,
        "retried_503": RETRIES["count"],
        # 503s came from this many seconds after the stop, until this many after PostgreSQL was back
        "503_from_s_after_stop": round(RETRIES["first"] - stop_at, 1) if back_at and RETRIES["first"] else None,
        "503_until_s_after_restart": round(RETRIES["last"] - back_at, 1) if back_at and RETRIES["last"] else None,
        "latency": rows,
        "rss_mib_start": {str(p): round(k / 1024, 1) for p, k in rss_start.items()},
        "rss_mib_end": {str(p): round(k / 1024, 1) for p, k in rss_end.items()},
        "rss_ratio_max": round(max(ratios.values()), 2) if ratios else None,
        "workers": {"start": sorted(rss_start), "end": workers_end},
    }
    print(json.dumps({k: v for k, v in figures.items() if k != "latency"}, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 1 if errors or (figures["rss_ratio_max"] or 0) > args.rss_bound else 0


if __name__ == "__main__":
    sys.exit(main())
