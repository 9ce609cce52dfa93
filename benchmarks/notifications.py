"""Benchmark: from ``notification_publish`` to the webhook request arriving at a local receiver,
with an idle worker (goal: p95 ≤ 2 s), beside a reference from the same run: a direct signed HTTP
POST of the same body to the same receiver.

    CRUCIBLE_DB_NAME=bench_notifications .venv/bin/python benchmarks/notifications.py [--events 200]

It migrates the database, makes a team with one webhook pointing at a receiver on 127.0.0.1
(CRUCIBLE_WEBHOOKS_ALLOW_PRIVATE=1 for this process and the worker) and starts one worker process
(``manage.py procrastinate worker -q notifications``). Events are published one at a time, each
after the previous one arrived (an idle worker). Drop the database afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_notifications")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_notifications.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")
os.environ["CRUCIBLE_WEBHOOKS_ALLOW_PRIVATE"] = "1"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from crucible import services as core  # noqa: E402
from crucible.models import Team  # noqa: E402
from crucible.notifications import netguard, notification_publish, signing  # noqa: E402
from crucible.notifications import services as notes  # noqa: E402


class Receiver:
    """Records the arrival time of each request by its webhook-id."""

    def __init__(self):
        self.arrived: dict[str, float] = {}
        self.event = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.event:
                    receiver.arrived[self.headers.get("webhook-id", "")] = time.perf_counter()
                    receiver.event.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait(self, predicate, timeout=30.0) -> bool:
        with self.event:
            return self.event.wait_for(predicate, timeout=timeout)


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def summary(name, values):
    ms = [v * 1000 for v in values]
    return (
        f"{name:<42} p50 {statistics.median(ms):7.1f} ms   p95 {percentile(ms, 0.95):7.1f} ms   "
        f"max {max(ms):7.1f} ms   (n={len(ms)})"
    )


def setup(receiver_url):
    call_command("migrate", verbosity=0)
    team = Team.objects.filter(slug="bench-notify").first() or core.team_create(name="Bench", slug="bench-notify")
    team.webhooks.all().delete()
    hook, secret = notes.webhook_create(team=team, name="bench", url=receiver_url)
    return team, hook, secret


def start_worker():
    env = dict(os.environ, CRUCIBLE_LOG_LEVEL="WARNING")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "procrastinate", "worker", "-q", "notifications"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(3)
    return process


def measure_publish(team, receiver, events: int, run: str) -> list[float]:
    from crucible.notifications.models import WebhookDelivery

    latencies = []
    for i in range(events):
        started = time.perf_counter()
        with transaction.atomic():
            event = notification_publish(team=team, kind="alert.firing", title=f"Event {i}", dedupe_key=f"{run}-{i}")
        message_id = WebhookDelivery.objects.get(event=event).message_id
        if not receiver.wait(lambda mid=message_id: mid in receiver.arrived):
            sys.exit(f"event {i} did not arrive within 30 s: is the worker running?")
        latencies.append(receiver.arrived[message_id] - started)
    return latencies


def measure_direct(hook, secret, receiver, events: int) -> list[float]:
    body = b'{"type":"alert.firing","data":{}}'
    latencies = []
    for i in range(events):
        message_id = f"msg_direct_{i}"
        started = time.perf_counter()
        headers = signing.headers(secret=secret, message_id=message_id, timestamp=int(time.time()), body=body)
        netguard.post(hook.url, body=body, headers=headers)
        latencies.append(receiver.arrived[message_id] - started)
    return latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    receiver = Receiver()
    team, hook, secret = setup(receiver.url)
    worker = start_worker()
    try:
        run = f"bench-{int(time.time())}"
        measure_publish(team, receiver, 5, run + "-warm")  # connections, imports
        published = measure_publish(team, receiver, args.events, run)
        direct = measure_direct(hook, secret, receiver, args.events)
    finally:
        worker.terminate()
        worker.wait(30)
    print(f"Webhooks, {args.events} events one at a time, idle worker (goal: p95 ≤ 2 s)")
    print(summary("publish → request at the receiver", published))
    print(summary("reference: direct signed POST", direct))


if __name__ == "__main__":
    main()
