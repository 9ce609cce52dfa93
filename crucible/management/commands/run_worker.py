"""Run a background worker that comes back: ``manage.py procrastinate worker`` in a child process,
started again (after a short, growing pause) whenever it exits on its own.

procrastinate stops a worker when its database connection fails (PostgreSQL restarted, network
cut); under this supervisor it starts again once the database answers, and the jobs wait in the
queue meanwhile. Ctrl-C or SIGTERM stops the child (which finishes its running jobs) and the
supervisor. Extra arguments go to ``procrastinate worker`` (``-q notifications``, ``-c 4``)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand

MANAGE = Path(__file__).resolve().parents[3] / "manage.py"


class Command(BaseCommand):
    help = "Run a procrastinate worker, restarted whenever it stops on its own (a database outage)."

    def add_arguments(self, parser):
        parser.add_argument("worker_args", nargs="*", help="arguments for 'procrastinate worker'")
        parser.add_argument("--max-pause", type=float, default=10.0, help="longest pause between restarts (s)")

    def handle(self, *args, worker_args, max_pause, **options):
        stopping = False
        child: subprocess.Popen | None = None

        def stop(signum, frame):
            nonlocal stopping
            stopping = True
            if child is not None and child.poll() is None:
                child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        pause = 0.5
        while not stopping:
            started = time.monotonic()
            child = subprocess.Popen([sys.executable, str(MANAGE), "procrastinate", "worker", *worker_args])
            code = child.wait()
            if stopping:
                break
            if time.monotonic() - started > 60:
                pause = 0.5  # it ran for a while: the next failure starts the back-off again
            self.stderr.write(f"The worker stopped (exit code {code}); starting it again in {pause:.1f} s.")
            time.sleep(pause)
            pause = min(pause * 2, max_pause)
        if child is not None:
            child.wait()
