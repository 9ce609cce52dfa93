"""PostgreSQL stopped for 10 s under a running worker: a delivery that was failing before the
outage and one published after it both arrive, each with its one webhook-id, and the worker is
still running (a private cluster; the shared embedded server is never touched)."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from tests.hardening.servers import PrivatePostgres, app_env, manage
from tests.notifications.receiver import Receiver
from tests.notifications.worker import FAST, Worker

pytestmark = pytest.mark.slow

DB = "notify_restart"

SETUP = """
import json
from crucible import services as core
from crucible.notifications import services as notes
team = core.team_create(name="Restart", slug="restart")
core.membership_set(team=team, user=core.user_create(username="r1", password="pw-restart-123"))
hook, secret = notes.webhook_create(team=team, name="r", url="{url}")
print(json.dumps({{"secret": secret}}))
"""
PUBLISH = """
from crucible.models import Team
from crucible.notifications import notification_publish
from crucible.notifications.models import WebhookDelivery
event = notification_publish(team=Team.objects.get(slug="restart"), kind="alert.firing", title="{key}", dedupe_key="{key}")
print(WebhookDelivery.objects.get(event=event).message_id)
"""


def read_state(pg: PrivatePostgres) -> dict:
    """The inbox and the deliveries' states, read by SQL (a ``manage.py shell`` costs 2.5 s)."""
    with psycopg.connect(host=str(pg.sock), port=pg.port, user="postgres", dbname=DB, autocommit=True) as conn:
        return {
            "inbox": conn.execute("SELECT user_id, event_id FROM crucible_notification").fetchall(),
            "deliveries": [d for (d,) in conn.execute("SELECT status FROM crucible_webhookdelivery").fetchall()],
        }


def shell(code: str, env: dict) -> str:
    """The last line a ``manage.py shell -c`` script printed (Django prints a banner first)."""
    return manage("shell", "--no-imports", "-c", code, env=env).strip().splitlines()[-1]


def wait_until(check, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_postgres_stopped_for_ten_seconds():
    pg = PrivatePostgres()
    worker = None
    try:
        pg.start()
        env = app_env(DATABASE_URL=pg.url(DB), **FAST)
        pg.create_migrated_database(DB, env)
        with Receiver(statuses=[503]) as receiver:
            secret = json.loads(shell(SETUP.format(url=receiver.url), env))["secret"]
            receiver.secret = secret
            worker = Worker(DATABASE_URL=pg.url(DB)).start()
            before = shell(PUBLISH.format(key="before"), env)
            assert wait_until(lambda: receiver.received, 20), "the first attempt never came"
            pg.stop()
            time.sleep(10)
            pg.start()
            after = shell(PUBLISH.format(key="after"), env)
            assert wait_until(
                lambda: {before, after} <= {r.webhook_id for r in receiver.received if r.status == 200}, 60
            )
            assert worker.process.poll() is None, "the worker died with the database"
            # The receiver has its 200 before the worker records it: wait for the record too (read
            # at once, one delivery was still "pending" in a CI run).
            assert wait_until(lambda: sorted(read_state(pg)["deliveries"]) == ["succeeded"] * 2, 30)
            state = read_state(pg)
        assert all(r.valid for r in receiver.received)
        assert {r.webhook_id for r in receiver.received} == {before, after}
        assert sorted(state["deliveries"]) == ["succeeded", "succeeded"]
        assert len(state["inbox"]) == len(set(map(tuple, state["inbox"]))) == 2
    finally:
        if worker is not None:
            worker.stop()
        pg.destroy()
