"""One migrated database per set of migrations, copied for every test database of a run.

Applying the 128 migrations takes about 40 s of CPU (Django renders its model states again and
again), and a run needed it once per pytest process: each xdist worker, the slow tests' process,
and the private clusters of the fault tests. Instead the first process of a run migrates a
template database named after a hash of the migration files, and each test database is created
from it (``CREATE DATABASE ... TEMPLATE``, about a second); Django's own ``migrate`` then finds
nothing to apply. A plain SQL dump of the template is kept beside it for the private clusters
(tests/hardening/servers.py). A changed migration gives another hash, so another template; the
old ones are dropped.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

import django
from django.core.management import call_command
from django.db import Error as DatabaseError
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
PREFIX = "crucible_tpl_"
LOCK_KEY = 7_301_733  # pg_advisory_lock key, taken on the maintenance database while building


def _fingerprint() -> str:
    digest = hashlib.sha256(django.get_version().encode())
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def name() -> str:
    return PREFIX + _fingerprint()


def dump_path() -> Path:
    """The plain SQL dump of the template (absent if pg_dump could not make it)."""
    return Path(tempfile.gettempdir()) / f"{name()}.sql"


def ensure() -> str:
    """The template's name, after building it (and its dump) unless an earlier process did."""
    template = name()
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_KEY])
        try:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template])
            if cursor.fetchone() is None:
                _build(cursor, template)
            if not dump_path().exists():
                _dump(template)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
    return template


def _build(cursor, template: str) -> None:
    # Built under another name and renamed when whole: a process killed half-way leaves no
    # template that looks finished.
    building = template + "_building"
    cursor.execute(f'DROP DATABASE IF EXISTS "{building}"')
    cursor.execute(f'CREATE DATABASE "{building}"')
    settings_dict = connection.settings_dict
    original = settings_dict["NAME"]
    connection.close()
    settings_dict["NAME"] = building
    try:
        call_command("migrate", verbosity=0, interactive=False, run_syncdb=True)
    finally:
        connection.close()
        settings_dict["NAME"] = original
    cursor.execute(f'ALTER DATABASE "{building}" RENAME TO "{template}"')
    cursor.execute("SELECT datname FROM pg_database WHERE datname LIKE %s AND datname <> %s", [PREFIX + "%", template])
    for (old,) in cursor.fetchall():
        try:
            cursor.execute(f'DROP DATABASE IF EXISTS "{old}"')
        except DatabaseError:  # another run still copies from it; it goes next time
            pass


def _dump(template: str) -> None:
    from tests.hardening.servers import pg_bin

    s = connection.settings_dict
    env = {**os.environ, **({"PGPASSWORD": str(s["PASSWORD"])} if s.get("PASSWORD") else {})}
    target = dump_path()
    part = target.with_suffix(".part")
    args = [str(pg_bin() / "pg_dump"), "--no-owner", "--no-privileges", "-f", str(part), "-d", template]
    for flag, key in (("-h", "HOST"), ("-p", "PORT"), ("-U", "USER")):
        if s.get(key):
            args[1:1] = [flag, str(s[key])]
    result = subprocess.run(args, env=env, capture_output=True, timeout=120)
    if result.returncode == 0:
        os.replace(part, target)
    else:  # e.g. a server newer than the wheel's pg_dump: the private clusters migrate instead
        part.unlink(missing_ok=True)
