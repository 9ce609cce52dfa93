"""The database restarted under load: while it is down every request gets a clean 503 JSON answer
(never a 500, never a hung worker), and once it is back the same server workers serve again,
without a restart of the application.

A private PostgreSQL cluster is started for this test (the shared embedded server is never
touched), the server (granian) runs on 127.0.0.1 against it, and a few client threads keep sending
requests.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import requests

from tests.hardening.servers import AppServer, PrivatePostgres, app_env, manage

pytestmark = pytest.mark.slow

DB = "hardening_restart"


@pytest.fixture(scope="module")
def stack():
    pg = PrivatePostgres()
    server = None
    try:
        pg.start()
        env = app_env(DATABASE_URL=pg.url(DB))
        pg.create_migrated_database(DB, env)
        manage("create_team", "Restart Co", "--owner", "restarter", "--password", "pw-restart-123", env=env)
        key = manage("create_api_key", "restart-co", "--user", "restarter", env=env).strip()
        server = AppServer(env, workers=2, threads=4).wait_ready()
        yield pg, server, key
    finally:
        if server is not None:
            server.stop()
        pg.destroy()


class Load:
    """Client threads with their own sessions, bounded by a stop flag and a request cap."""

    def __init__(self, base_url: str, key: str, threads: int = 4, cap: int = 20000):
        self.base_url, self.key, self.cap = base_url, key, cap
        self.records: list[tuple[float, str, int, str, str]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def run(self, index: int):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {self.key}"
        paths = ["/api/v1/teams/", "/healthz", "/api/v1/teams/?ordering=-created_at", "/api/v1/api-keys/"]
        n = 0
        while not self.stop.is_set() and len(self.records) < self.cap:
            path = paths[(index + n) % len(paths)]
            n += 1
            try:
                r = session.get(self.base_url + path, timeout=15)
                code = (
                    r.json().get("code", "") if r.headers.get("Content-Type", "").startswith("application/json") else ""
                )
                record = (
                    time.monotonic(),
                    path,
                    r.status_code,
                    r.headers.get("Content-Type", ""),
                    code or r.headers.get("Retry-After", ""),
                )
            except requests.RequestException as exc:
                record = (time.monotonic(), path, -1, type(exc).__name__, "")
            with self.lock:
                self.records.append(record)
            time.sleep(0.01)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=30)

    def between(self, start: float, end: float):
        with self.lock:
            return [r for r in self.records if start <= r[0] <= end]


def test_database_restart_under_load_gives_503_then_recovers(stack):
    pg, server, key = stack
    workers_before = server.worker_pids()
    assert len(workers_before) == 2
    with Load(server.base_url, key) as load:
        time.sleep(1.5)
        t_stop = time.monotonic()
        pg.stop("fast")
        t_down = time.monotonic()
        time.sleep(3)
        t_up_begin = time.monotonic()
        pg.start()
        t_up = time.monotonic()
        # Recovery: the same workers answer 200 again within a few seconds, nobody restarted them.
        deadline = t_up + 20
        recovered_at = None
        while time.monotonic() < deadline:
            recent = load.between(time.monotonic() - 1.0, time.monotonic())
            if len(recent) >= 8 and all(r[2] == 200 for r in recent):
                recovered_at = time.monotonic()
                break
            time.sleep(0.2)
        time.sleep(1)
    records = load.records
    statuses = Counter(r[2] for r in records)
    assert statuses[200] > 50, statuses
    # Nothing but 200 and 503, and no connection errors or timeouts: the app never fell over.
    assert set(statuses) <= {200, 503}, statuses
    down = load.between(t_down + 0.2, t_up_begin)
    assert down and all(r[2] == 503 for r in down), Counter(r[2] for r in down)
    for _, path, _status, ctype, code in (r for r in records if r[2] == 503):
        assert ctype.startswith("application/json"), (path, ctype)
        assert code == "service_unavailable", (path, code)
    before = load.between(0, t_stop)
    assert before and all(r[2] == 200 for r in before)
    assert recovered_at is not None, (
        f"no recovery after the database came back: {Counter(r[2] for r in load.between(t_up, t_up + 20))}"
    )
    assert recovered_at - t_up < 10
    assert server.worker_pids() == workers_before, "server workers were replaced"
    assert server.proc.poll() is None
    print(
        f"\nrestart: {len(records)} requests, {statuses[503]} answered 503 while down "
        f"({t_up - t_stop:.1f}s), recovered {recovered_at - t_up:.2f}s after the database was back"
    )
