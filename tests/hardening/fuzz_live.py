"""Schemathesis's own command line, with every check and every phase, against the project's server.

    .venv/bin/python -m tests.hardening.fuzz_live --db fuzz_live -- -n 150 --include-path-regex '^/api/v1/m'

Migrates the database ``--db`` (on the embedded PostgreSQL, or ``DATABASE_URL``'s server), builds
the hardening suites' world in it (two teams, every role, one object of each kind), starts the
server that ``scripts/run`` serves (granian running crucible.asgi, 2 workers x 4 threads) on
127.0.0.1, and runs ``st run`` on its schema with a member key of team A and every check (the
default; the phases examples, coverage, fuzzing and stateful). Everything after ``--`` goes to ``st run``
(``-n``, ``--include-path-regex`` to run the operations in parts, ``--seed``...). Exit status:
schemathesis's. Stops the server it started; drop the database afterwards with ``--drop``.

``schemathesis.toml`` beside this file holds what "every check" means here: the statuses a
schema-valid request may still get (a business rule, an id that is not there).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from tests.hardening.servers import ROOT, AppServer, app_env, manage

CONFIG = Path(__file__).with_name("schemathesis.toml")
SEED = (
    "from tests.hardening.registry import make_world; "
    "from crucible.models import Team; "
    "Team.objects.filter(slug__startswith='acme').exists() or print('KEY=' + make_world().keys['member_a'])"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="fuzz_live", help="database name (created and migrated if needed)")
    parser.add_argument("--key-file", default=None, help="where the member key is kept between parts")
    parser.add_argument("st_args", nargs="*", help="arguments for `st run` (after --)")
    args = parser.parse_args()

    env = app_env(CRUCIBLE_DB_NAME=args.db)
    if "DATABASE_URL" in os.environ:
        env["DATABASE_URL"] = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + args.db
    key_file = Path(args.key_file or f"/tmp/{args.db}.key")
    manage("migrate", "--no-input", env=env, timeout=1200)
    out = manage("shell", "-c", SEED, env=env)
    if "KEY=" in out:
        key_file.write_text(out.split("KEY=", 1)[1].split()[0])
    key = key_file.read_text().strip()

    server = AppServer(env, workers=2, threads=4)
    try:
        server.wait_ready()
        command = [
            *(str(Path(sys.executable).with_name("st")), "--config-file", str(CONFIG)),
            *("run", f"{server.base_url}/api/v1/schema/"),
            *("-H", f"Authorization: Bearer {key}"),
            # Every check runs by default. Naming them here (`--checks all`) would also override the
            # per-operation settings of schemathesis.toml: schemathesis lets check names given on the
            # command line win over an operation's `enabled = false`.
            *("--no-shrink", "--max-failures", "200"),
            *args.st_args,
        ]
        return subprocess.run(command, cwd=ROOT, env=env).returncode
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
