"""A real background worker (``manage.py procrastinate worker``) in a subprocess, against the test
database, for the tests that need one. Its heartbeat and stalled-job timings are shortened so a
killed worker is noticed in seconds. Everything started here is stopped by process id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
FAST = {
    "CRUCIBLE_WORKER_HEARTBEAT_SECONDS": "1",
    "CRUCIBLE_WORKER_STALLED_SECONDS": "3",
    "CRUCIBLE_WORKER_STALLED_CHECK_SECONDS": "1",
}


def _worker_env() -> dict:
    """The test run's environment, pointed at the test database (not the development one)."""
    name = settings.DATABASES["default"]["NAME"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_ALLOW_ASYNC"))}
    env.pop("CRUCIBLE_TEST_DB_NAME", None)
    if env.get("DATABASE_URL"):
        parts = urlsplit(env["DATABASE_URL"])
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
    else:
        env["CRUCIBLE_DB_NAME"] = name
    env.update(FAST, CRUCIBLE_TESTING="1", CRUCIBLE_LOG_LEVEL="INFO", DJANGO_SETTINGS_MODULE="crucible.settings")
    return env


class WorkerProcess:
    def __init__(self):
        self.proc = None
        self.log = tempfile.NamedTemporaryFile(prefix="crucible-worker-", suffix=".log", delete=False)
        self.log.close()

    def start(self) -> WorkerProcess:
        with open(self.log.name, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "manage.py", "procrastinate", "worker", "--delete-jobs", "never"],
                cwd=ROOT,
                env=_worker_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill(self):
        """SIGKILL: no clean shutdown, no unregistering; the heartbeat just stops."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-4000:]


def wait_for(predicate, *, timeout: float, what: str, worker: WorkerProcess | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{worker.output()}" if worker else ""))


def _clear_queue():
    # The queue tables are not Django-managed: the test database's flush leaves them.
    with connection.cursor() as cursor:
        for table in ("procrastinate_events", "procrastinate_periodic_defers", "procrastinate_jobs"):
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed table names)
        cursor.execute("DELETE FROM procrastinate_workers")


@pytest.fixture
def worker_processes(transactional_db):
    """Start workers with ``worker_processes()``; all are stopped (then the queue emptied) after."""
    _clear_queue()
    started: list[WorkerProcess] = []

    def start() -> WorkerProcess:
        started.append(WorkerProcess().start())
        return started[-1]

    yield start
    for worker in started:
        worker.stop()
        Path(worker.log.name).unlink(missing_ok=True)
    _clear_queue()
