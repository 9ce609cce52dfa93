"""Concurrent clients and killed server processes, against the server on 127.0.0.1 and a private
PostgreSQL (never the shared embedded server).

1. Many clients at once (threads with their own HTTP connections; server workers with their own
   database connections) install, uninstall, rate, select variants, record results and ingest
   executions. Afterwards every counter, statistic and rollup equals a recompute from raw rows
   (and, for variant statistics, from what the clients sent).
2. Workers are SIGKILLed in the middle of batch ingests. Right after a request dies, its batch is
   stored wholly or not at all; every batch retried until acknowledged is stored exactly once; the
   rollups still match the raw executions (observability_rollups --verify-only).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import psycopg
import pytest
import requests

from tests.hardening.servers import ROOT, AppServer, PrivatePostgres, app_env, manage

pytestmark = pytest.mark.slow

DB = "hardening_concurrency"
N_TEAMS = 6


@pytest.fixture(scope="module")
def stack():
    pg = PrivatePostgres()
    server = None
    try:
        pg.start()
        env = app_env(DATABASE_URL=pg.url(DB))
        pg.create_migrated_database(DB, env)
        out = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("stack_setup.py")), str(N_TEAMS)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        ).stdout
        seed = json.loads(out.strip().splitlines()[-1])
        server = AppServer(env, workers=2, threads=4).wait_ready()
        conn = psycopg.connect(host=str(pg.sock), port=pg.port, user="postgres", dbname=DB, autocommit=True)
        yield {"pg": pg, "server": server, "seed": seed, "db": conn, "env": env}
        conn.close()
    finally:
        if server is not None:
            server.stop()
        pg.destroy()


def session_for(key: str) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    return s


def now_iso(offset_s: float = 0) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=offset_s)).isoformat()


def rows(conn, sql, params=()):
    return conn.execute(sql, params).fetchall()


def verify_rollups(env) -> str:
    return manage("observability_rollups", "--verify-only", "--days", "2", env=env)


# --- 1. concurrent clients -----------------------------------------------------------------


def test_concurrent_clients_keep_every_counter_exact(stack):
    base, seed = stack["server"].base_url, stack["seed"]
    agents = seed["agents"]
    sent = defaultdict(lambda: Counter())  # variant id -> results, successes, tokens (what clients sent)
    sent_lock = threading.Lock()
    failures: list[str] = []

    def check(response, *ok):
        if response.status_code not in ok:
            failures.append(
                f"{response.request.method} {response.request.url} -> {response.status_code} {response.text[:200]}"
            )

    def installer(team, rng):
        s = session_for(team["key"])
        for _ in range(8):
            agent = rng.choice(agents)
            check(s.post(f"{base}/api/v1/marketplace/agents/{agent}/install/", json={}, timeout=30), 200, 201)
            check(
                s.post(
                    f"{base}/api/v1/marketplace/agents/{agent}/rate/", json={"stars": rng.randint(1, 5)}, timeout=30
                ),
                200,
                201,
            )
            if rng.random() < 0.4:
                check(
                    s.post(f"{base}/api/v1/marketplace/agents/{agent}/uninstall/", json={}, timeout=30), 200, 201, 204
                )

    def results(team, rng):
        s = session_for(team["key"])
        for _ in range(30):
            variant = rng.choice(team["variants"])
            success, tokens = rng.random() < 0.7, rng.randint(0, 5000)
            r = s.post(
                f"{base}/api/v1/improvement/results/",
                json={
                    "variant_id": variant,
                    "success": success,
                    "duration_ms": rng.uniform(10, 5000),
                    "tokens": tokens,
                    "quality": rng.uniform(0, 100),
                },
                timeout=30,
            )
            check(r, 200, 201)
            if r.status_code in (200, 201):
                with sent_lock:
                    sent[variant].update(results=1, successes=int(success), tokens=tokens)

    def selector(team, rng):
        s = session_for(team["key"])
        for _ in range(20):
            check(
                s.post(f"{base}/api/v1/improvement/select/", json={"experiment": team["experiment"]}, timeout=30),
                200,
                201,
            )

    def ingester(team, rng):
        s = session_for(team["key"])
        for batch in range(5):
            events, local = [], []
            for i in range(60):
                variant = rng.choice(team["variants"] + [None])
                status = "success" if rng.random() < 0.8 else "error"
                ev = {
                    "id": f"c-{team['slug']}-{batch}-{i}",
                    "agent": f"bot-{i % 4}",
                    "started_at": now_iso(rng.uniform(0, 3600)),
                    "duration_ms": rng.uniform(5, 9000),
                    "status": status,
                    "model": "gpt-4o-mini",
                    "input_tokens": rng.randint(0, 3000),
                    "output_tokens": rng.randint(0, 1000),
                }
                if variant is not None:
                    ev["variant_id"] = variant
                    local.append((variant, status == "success", ev["input_tokens"] + ev["output_tokens"]))
                events.append(ev)
            r = s.post(f"{base}/api/v1/observability/ingest/", json={"events": events}, timeout=60)
            check(r, 200)
            if r.status_code == 200:
                with sent_lock:
                    for variant, ok, tokens in local:
                        sent[variant].update(results=1, successes=int(ok), tokens=tokens)

    threads = []
    for index, team in enumerate(seed["teams"]):
        for job in (installer, results, selector, ingester):
            threads.append(threading.Thread(target=job, args=(team, random.Random(f"{index}-{job.__name__}"))))
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "client threads did not finish"
    assert failures == [], failures[:5]
    elapsed = time.monotonic() - started
    db = stack["db"]

    # Marketplace counters against raw rows.
    for agent in agents:
        (install_count, active, rating_count, rating_sum, *hist) = rows(
            db,
            """
            SELECT install_count, active_install_count, rating_count, rating_sum, rating_1, rating_2, rating_3, rating_4, rating_5
            FROM marketplace_agent WHERE id = %s""",
            [agent],
        )[0]
        assert (
            install_count
            == rows(db, "SELECT count(*) FROM marketplace_installation WHERE agent_id = %s", [agent])[0][0]
        )
        assert (
            active
            == rows(
                db,
                "SELECT count(*) FROM marketplace_installation WHERE agent_id = %s AND uninstalled_at IS NULL",
                [agent],
            )[0][0]
        )
        raw = dict(
            rows(db, "SELECT stars, count(*) FROM marketplace_rating WHERE agent_id = %s GROUP BY stars", [agent])
        )
        assert rating_count == sum(raw.values())
        assert rating_sum == sum(stars * n for stars, n in raw.items())
        assert hist == [raw.get(stars, 0) for stars in range(1, 6)]

    # Variant statistics against what the clients sent, and against the hourly buckets.
    for team in seed["teams"]:
        for variant in team["variants"]:
            results_count, success_count, tokens_sum = rows(
                db, "SELECT results_count, success_count, tokens_sum FROM improvement_variant WHERE id = %s", [variant]
            )[0]
            assert (results_count, success_count, tokens_sum) == (
                sent[variant]["results"],
                sent[variant]["successes"],
                sent[variant]["tokens"],
            ), variant
            bucket_results, bucket_successes = rows(
                db,
                "SELECT coalesce(sum(results), 0), coalesce(sum(successes), 0) FROM improvement_variantbucket WHERE variant_id = %s",
                [variant],
            )[0]
            assert (bucket_results, bucket_successes) == (results_count, success_count)
        assignments = rows(
            db,
            """
            SELECT count(*) FROM improvement_assignment a JOIN improvement_experiment e ON e.id = a.experiment_id
            JOIN crucible_team t ON t.id = e.team_id WHERE t.slug = %s""",
            [team["slug"]],
        )[0][0]
        bucket_assignments = rows(
            db,
            """
            SELECT coalesce(sum(b.assignments), 0) FROM improvement_variantbucket b JOIN improvement_experiment e ON e.id = b.experiment_id
            JOIN crucible_team t ON t.id = e.team_id WHERE t.slug = %s""",
            [team["slug"]],
        )[0][0]
        assert assignments == bucket_assignments == 20

    # Executions: every event once, rollups equal to a recompute from raw rows.
    assert (
        rows(db, "SELECT count(*) FROM observability_execution WHERE client_id LIKE 'c-%%'")[0][0] == N_TEAMS * 5 * 60
    )
    hourly = rows(db, "SELECT coalesce(sum(executions), 0) FROM observability_hourlyrollup")[0][0]
    assert hourly == rows(db, "SELECT count(*) FROM observability_execution")[0][0]
    assert "Rollups match the raw executions" in verify_rollups(stack["env"])
    print(f"\nconcurrency: {len(threads)} client threads finished in {elapsed:.1f}s; all counters match raw rows")


# --- 2. SIGKILL in the middle of batch ingests ---------------------------------------------------


def test_killed_workers_leave_no_half_batch_and_retries_store_once(stack):
    base, seed, server, db = stack["server"].base_url, stack["seed"], stack["server"], stack["db"]
    team = seed["teams"][0]
    batch_size, n_batches, max_batches = 400, 16, 400
    stop = threading.Event()
    observations: list[tuple[str, int]] = []  # (batch, stored count right after a request died)
    attempts = Counter()
    kills = []
    rounds = []
    lock = threading.Lock()

    def count(prefix: str) -> int:
        with psycopg.connect(
            host=str(stack["pg"].sock), port=stack["pg"].port, user="postgres", dbname=DB, autocommit=True
        ) as conn:
            return conn.execute(
                "SELECT count(*) FROM observability_execution WHERE client_id LIKE %s", [prefix + "%"]
            ).fetchone()[0]

    next_batch = iter(range(max_batches))
    sent_batches: list[int] = []

    def take_batch():
        # At least n_batches; more (up to max_batches) until two requests were actually cut in at
        # least three kill rounds.
        with lock:
            b = next(next_batch, None)
            if b is None or (b >= n_batches and len(observations) >= 2 and len(rounds) >= 3):
                return None
            sent_batches.append(b)
            return b

    def sender(worker_index: int):
        s = session_for(team["key"])
        rng = random.Random(worker_index)
        while (b := take_batch()) is not None:
            prefix = f"k-{b}-"
            events = [
                {
                    "id": f"{prefix}{i}",
                    "agent": f"bot-{i % 3}",
                    "started_at": now_iso(rng.uniform(0, 7200)),
                    "duration_ms": rng.uniform(5, 9000),
                    "status": "success" if i % 5 else "error",
                    "model": "gpt-4o",
                    "input_tokens": rng.randint(0, 4000),
                    "output_tokens": rng.randint(0, 800),
                }
                for i in range(batch_size)
            ]
            # Bounded retries, by time: on a loaded machine a killed worker takes seconds to come back.
            deadline = time.monotonic() + 120
            while True:
                if time.monotonic() > deadline:
                    raise AssertionError(f"batch {b} never acknowledged; server log: {server.log()}")
                with lock:
                    attempts[b] += 1
                try:
                    in_flight.set()
                    r = s.post(f"{base}/api/v1/observability/ingest/", json={"events": events}, timeout=60)
                except requests.RequestException:
                    # The worker died under this request: the batch is all there or not at all.
                    time.sleep(0.3)
                    with lock:
                        observations.append((prefix, count(prefix)))
                    s = session_for(team["key"])
                    continue
                if r.status_code == 200:
                    body = r.json()
                    assert body["stored"] + body["duplicates"] == batch_size, body
                    # Paced, so that a quiet machine does not send every batch before the killer's
                    # third round (it waits for workers old enough to kill).
                    time.sleep(0.15)
                    break
                if r.status_code in (502, 503):
                    time.sleep(0.3)
                    continue
                raise AssertionError(f"ingest answered {r.status_code}: {r.text[:300]}")

    in_flight = threading.Event()

    # granian exits the whole server ("worker crash loop detected") when a worker dies within 5.5 s
    # of being respawned, which is not the fault tried here: kill only workers alive for longer.
    min_age_s = 7.0
    first_seen: dict[int, float] = {}

    def old_workers() -> list[int]:
        now = time.monotonic()
        pids = server.worker_pids()
        for pid in pids:
            first_seen.setdefault(pid, now)
        return [pid for pid in pids if now - first_seen[pid] >= min_age_s]

    def killer():
        rng = random.Random(7)
        # Kill rounds until the senders are done (up to 40 workers killed).
        # Each round waits until both workers are old enough and a batch request is on its way,
        # lets the worker get into it, then SIGKILLs every worker, so the cut lands inside a request
        # whatever the machine's load.
        while not stop.is_set() and len(kills) < 40:
            if len(old_workers()) < 2:
                time.sleep(0.2)
                continue
            in_flight.clear()
            if not in_flight.wait(timeout=1.0):
                continue
            time.sleep(rng.uniform(0.005, 0.06))
            killed = 0
            for pid in old_workers():
                try:
                    server.kill_worker(pid)
                    kills.append(pid)
                    killed += 1
                except ProcessLookupError:
                    pass
            if killed:
                rounds.append(time.monotonic())
            in_flight.clear()

    senders = [threading.Thread(target=sender, args=(i,)) for i in range(2)]
    kill_thread = threading.Thread(target=killer)
    for t in senders:
        t.start()
    kill_thread.start()
    for t in senders:
        t.join(timeout=300)
    stop.set()
    kill_thread.join(timeout=10)
    assert not any(t.is_alive() for t in senders)
    assert len(rounds) >= 3, f"only {len(rounds)} kill rounds"
    assert observations, "no request was interrupted by a kill (nothing was tested)"
    for prefix, stored in observations:
        assert stored in (0, batch_size), f"batch {prefix} half stored after a kill: {stored} of {batch_size}"
    # Every batch stored exactly once, however often it was retried.
    per_batch = dict(
        rows(
            db,
            """
        SELECT split_part(client_id, '-', 2), count(*) FROM observability_execution WHERE client_id LIKE 'k-%%'
        GROUP BY 1""",
        )
    )
    assert len(sent_batches) >= n_batches
    assert per_batch == {str(b): batch_size for b in sent_batches}
    dupes = rows(db, "SELECT client_id FROM observability_execution GROUP BY team_id, client_id HAVING count(*) > 1")
    assert dupes == []
    assert (
        rows(db, "SELECT coalesce(sum(executions), 0) FROM observability_hourlyrollup")[0][0]
        == rows(db, "SELECT count(*) FROM observability_execution")[0][0]
    )
    assert "Rollups match the raw executions" in verify_rollups(stack["env"])
    replaced_by = time.monotonic() + 30  # the server replaces the workers killed last
    while len(server.worker_pids()) < 2 and time.monotonic() < replaced_by:
        time.sleep(0.2)
    assert server.proc.poll() is None and len(server.worker_pids()) == 2
    print(
        f"\nkill: {len(kills)} workers SIGKILLed in {len(rounds)} rounds, {len(observations)} requests cut, "
        f"{sum(attempts.values())} attempts for {len(sent_batches)} batches; all stored once, rollups verified"
    )
