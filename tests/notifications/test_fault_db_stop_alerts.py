"""PostgreSQL stopped for 10 s in the middle of an alert evaluation run by a real worker: the
transition it was recording is neither lost nor doubled, and notified once (a private cluster;
the shared embedded server is never touched). Sibling of test_fault_db_stop.py (deliveries)."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from tests.hardening.servers import PrivatePostgres, app_env
from tests.notifications.receiver import Receiver
from tests.notifications.test_fault_db_stop import shell, wait_until
from tests.notifications.worker import FAST, Worker

pytestmark = pytest.mark.slow

DB = "alerts_restart"

SETUP = """
import json
from alerts import services as alerts
from crucible import services as core
from crucible.notifications import services as notes
team = core.team_create(name="Outage", slug="outage")
for name in ("o1", "o2"):
    core.membership_set(team=team, user=core.user_create(username=name, password="pw-outage-123"))
hook, secret = notes.webhook_create(team=team, name="o", url="{url}")
rule = alerts.alert_rule_create(team=team, data={{"name": "no traffic", "metric": "executions",
    "window_minutes": 5, "critical_threshold": 1, "direction": "below", "no_data": "alerting",
    "pending_minutes": 0}})
print(json.dumps({{"secret": secret, "team": team.pk}}))
"""
# The evaluation of one tick, as the periodic schedule defers it.
DEFER = """
import datetime as dt
from alerts.services import tick_of
from alerts.tasks import alerts_evaluate
tick = tick_of(dt.datetime.now(dt.UTC) - dt.timedelta(minutes={minutes}))
print(alerts_evaluate.defer(timestamp=int(tick.timestamp())), int(tick.timestamp()))
"""
EVALUATE_AGAIN = """
from alerts.tasks import alerts_evaluate
print(alerts_evaluate({timestamp}))
"""


def read_state(pg: PrivatePostgres, job: int) -> dict:
    """The job's status (a job that succeeded leaves the queue table,
    PROCRASTINATE_WORKER_DEFAULTS["delete_jobs"]) and what the evaluation wrote, read by SQL: a
    ``manage.py shell`` per poll costs 2.5 s."""
    with psycopg.connect(host=str(pg.sock), port=pg.port, user="postgres", dbname=DB, autocommit=True) as conn:
        q = lambda sql, *args: conn.execute(sql, args).fetchall()  # noqa: E731
        status = q("SELECT status FROM procrastinate_jobs WHERE id = %s", job)
        return {
            "job": status[0][0] if status else "succeeded",
            "transitions": [list(t) for t in q("SELECT from_state, to_state, notified FROM alerts_alerttransition")],
            "events": [e for (e,) in q("SELECT dedupe_key FROM crucible_event WHERE kind = 'alert.firing'")],
            "inbox": [list(n) for n in q("SELECT user_id, event_id FROM crucible_notification")],
            "deliveries": [[d, f"msg_{u.hex}"] for d, u in q("SELECT status, uid FROM crucible_webhookdelivery")],
        }


def test_postgres_stopped_for_ten_seconds_during_an_alert_evaluation():
    pg = PrivatePostgres()
    worker = holder = None
    try:
        pg.start()
        env = app_env(DATABASE_URL=pg.url(DB), **FAST)
        pg.create_migrated_database(DB, env)
        with Receiver() as receiver:
            setup = json.loads(shell(SETUP.format(url=receiver.url), env))
            receiver.secret = setup["secret"]
            # Another session holds the team's rules: the evaluation starts, then waits inside its
            # transaction, where the outage finds it.
            holder = psycopg.connect(host=str(pg.sock), port=pg.port, user="postgres", dbname=DB)
            holder.execute("SELECT id FROM alerts_alertrule WHERE team_id = %s FOR UPDATE", [setup["team"]])
            job, timestamp = map(int, shell(DEFER.format(minutes=1), env).split())
            state = lambda: read_state(pg, job)  # noqa: E731
            worker = Worker(DATABASE_URL=pg.url(DB), queues="alerts,notifications,maintenance").start()
            assert wait_until(lambda: state()["job"] == "doing", 30), "the evaluation never started"
            pg.stop()  # ends every session: the holder's and the evaluation's transaction
            holder.close()
            holder = None
            time.sleep(10)
            pg.start()
            # The failed tick is retried, not left failed (its minute would go unjudged).
            assert wait_until(lambda: state()["job"] == "succeeded", 90), state()
            assert wait_until(lambda: [r for r in receiver.received if r.status == 200], 30), "no webhook came"
            assert worker.process.poll() is None, "the worker died with the database"
            # The same tick evaluated once more (a retry after the outage) and the next tick add nothing.
            shell(EVALUATE_AGAIN.format(timestamp=timestamp), env)
            later = int(shell(DEFER.format(minutes=0), env).split()[0])
            assert wait_until(lambda: read_state(pg, later)["job"] == "succeeded", 60)
            time.sleep(2)  # time for a second webhook, if one were (wrongly) sent
            after = state()
        assert after["transitions"] == [["ok", "firing", True]]
        assert len(after["events"]) == 1 and after["events"][0].startswith("alert-transition:")
        assert [status for status, _ in after["deliveries"]] == ["succeeded"]
        assert {r.webhook_id for r in receiver.received} == {after["deliveries"][0][1]}
        assert all(r.valid for r in receiver.received)
        assert len(after["inbox"]) == len(set(map(tuple, after["inbox"]))) == 2
    finally:
        if worker is not None:
            worker.stop()
        if holder is not None:
            holder.close()
        pg.destroy()
