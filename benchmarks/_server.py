"""The project's HTTP server on a free loopback port, for the benchmarks that go over HTTP.

``server="granian"`` is what ``scripts/run`` serves (granian running ``crucible.asgi``, which
buffers whole requests before a thread sees them); ``server="gunicorn"`` is the earlier server
(sync gthread workers on the WSGI application), kept for before/after comparisons.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.hardening.servers import server_command  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    *, db_name: str, port: int, workers: int, threads: int = 1, server: str = "granian", reference: bool = False
) -> subprocess.Popen:
    """Start the server on ``db_name`` (throttling off, quiet logs) and wait for /healthz.
    ``reference``: serve the minimal DRF application of ``benchmarks/reference_app.py`` instead,
    the same way (its floor for comparisons), and wait for its /ping/."""
    import requests

    env = os.environ | {
        "CRUCIBLE_DB_NAME": db_name,
        "CRUCIBLE_THROTTLE_API_KEY": "100000000/min",
        "CRUCIBLE_THROTTLE_EXPENSIVE": "100000000/min",
        "CRUCIBLE_LOG_LEVEL": "WARNING",
        "CRUCIBLE_THREADS": str(threads),
    }
    if reference:
        env["DJANGO_SETTINGS_MODULE"] = "benchmarks.reference_app"
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    command = server_command(server, port=port, workers=workers, threads=threads, log_level="warning")
    proc = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    ready = "/ping/" if reference else "/healthz"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}{ready}", timeout=2).status_code == 200:
                return proc
        except requests.RequestException:
            time.sleep(0.3)
    stop_server(proc)
    raise SystemExit(f"{server} did not come up")


def stop_server(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)
