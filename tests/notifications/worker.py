"""A real worker (``manage.py run_worker``: a supervised procrastinate worker) for the tests that
need one, against the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

from tests.hardening.servers import app_env

ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 90
FAST = {
    "CRUCIBLE_WEBHOOKS_ALLOW_PRIVATE": "1",
    "CRUCIBLE_WEBHOOKS_RETRY_BASE_SECONDS": "0.5",
    "CRUCIBLE_WEBHOOKS_READ_TIMEOUT": "5",
    "CRUCIBLE_WORKER_HEARTBEAT_SECONDS": "1",
    "CRUCIBLE_WORKER_STALLED_SECONDS": "3",
    "CRUCIBLE_WORKER_STALLED_CHECK_SECONDS": "1",
    "CRUCIBLE_WORKER_SHUTDOWN_SECONDS": "2",
}


class Worker:
    def __init__(self, db_name: str | None = None, queues: str = "notifications,maintenance", **env):
        name = db_name or connection.settings_dict["NAME"]
        # Unbuffered, so the log shows the worker's start as it happens (``start`` waits for it).
        self.env = app_env(CRUCIBLE_DB_NAME=name, PYTHONUNBUFFERED="1", **(FAST | env))
        if "DATABASE_URL" in env:
            self.env.pop("CRUCIBLE_DB_NAME")
        self.queues = queues
        self.process: subprocess.Popen | None = None
        self.log = ROOT / ".pytest_cache" / f"worker-{os.getpid()}-{id(self)}.log"

    def start(self) -> Worker:
        self.log.parent.mkdir(exist_ok=True)
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--", "-q", self.queues, "-p", "0.2"],
            cwd=ROOT,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # Until procrastinate says it is launching (two Django start-ups: the supervisor and its
        # child; 20 s and more on a loaded 2-core machine), so that a test's own timeouts count
        # the work it waits for, not the start-up. Jobs deferred meanwhile wait in the queue.
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline and "Launching a worker" not in self.log.read_text():
            assert self.process.poll() is None, self.log.read_text()[-2000:]
            time.sleep(0.2)
        assert self.process.poll() is None, self.log.read_text()[-2000:]
        return self

    def kill(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # the supervisor and the worker it runs
            self.process.wait(10)
        self._close_log()

    def _close_log(self):
        if getattr(self, "_log_file", None) is not None:
            self._log_file.close()
            self._log_file = None

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
