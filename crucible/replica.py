"""The read replica's state, as this process last saw it: reachable or not, how far behind the
primary, and how much WAL it has replayed (``DATABASE_REPLICA_URL``; the router is
``crucible.db_router``, the design in docs/architecture.md "Read replica").

One check costs two short statements, one on each server, and runs at most every
``CRUCIBLE_REPLICA_CHECK_SECONDS`` per process (after a connection failure, not before
``CRUCIBLE_REPLICA_RETRY_SECONDS``, so a replica that hangs does not slow every request).
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, Error, connections

REPLICA = "replica"

# Statuses shown by /healthz. Only "ok" lets reads go to the replica.
OK, LAGGING, DOWN, NOT_STANDBY, OFF = "ok", "lagging", "down", "not_standby", "off"

# An LSN as a number (bytes since 0/0), so Python compares them. Lag is measured against what the
# primary has written (what a standby can have received), not its insert position: with
# synchronous_commit = off the insert position runs ahead until the WAL writer catches up.
PRIMARY_LSN_SQL = "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint AS lsn"
REPLICA_SQL = """
SELECT pg_is_in_recovery() AS standby,
       pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint AS replay_lsn,
       extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 AS last_replay_age
"""
REPLAY_LSN_SQL = "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::bigint AS replay_lsn"


def configured() -> bool:
    return REPLICA in connections.settings


@dataclass(frozen=True)
class ReplicaState:
    status: str
    replay_lsn: int = 0
    lag_seconds: float | None = None
    checked_at: float = 0.0  # time.monotonic() of the check
    error: str = ""

    @property
    def usable(self) -> bool:
        return self.status == OK

    def shown(self) -> dict:
        """What /healthz says about the replica."""
        age = None if not self.checked_at else round(time.monotonic() - self.checked_at, 3)
        lag = None if self.lag_seconds is None or math.isinf(self.lag_seconds) else round(self.lag_seconds, 3)
        body = {"status": self.status, "lag_seconds": lag, "checked_seconds_ago": age}
        if self.error:
            body["error"] = self.error
        return body


_lock = threading.Lock()
_state = ReplicaState(status=OFF)
_last_primary: tuple[int, float] | None = None  # the primary's WAL position at the last check, and when


def _fetch(alias: str, sql: str, params: dict | None = None) -> dict:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params or {})
        names = [col.name for col in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def _stale(state: ReplicaState, now: float) -> bool:
    if state.status == OFF:
        return True
    wait = settings.REPLICA_RETRY_SECONDS if state.status == DOWN else settings.REPLICA_CHECK_SECONDS
    return now - state.checked_at >= wait


def _lag(replay_lsn: int, primary_lsn: int, last_replay_age: float | None, now: float) -> float:
    """0 when the replica has replayed all the primary had written a moment ago; at most the time
    since the last check when it has replayed all the primary had then (WAL that carries no
    transaction, written while the primary idles, does not count as lag); else the age of the
    last transaction it replayed (unknown: infinitely behind)."""
    if replay_lsn >= primary_lsn:
        return 0.0
    if _last_primary is not None and replay_lsn >= _last_primary[0]:
        return now - _last_primary[1]
    return math.inf if last_replay_age is None else max(last_replay_age, 0.0)


def check() -> ReplicaState:
    """Ask both servers now: the primary's WAL position, then the replica's replay position."""
    global _state, _last_primary
    if not configured():
        _state = ReplicaState(status=OFF)
        return _state
    now = time.monotonic()
    try:
        primary_lsn = _fetch(DEFAULT_DB_ALIAS, PRIMARY_LSN_SQL)["lsn"]
    except Error:
        # the primary's own trouble is not the replica's: keep the last answer, ask again soon
        return _state
    try:
        row = _fetch(REPLICA, REPLICA_SQL)
    except Error as exc:
        return mark_down(exc)
    if not row["standby"]:
        state = ReplicaState(status=NOT_STANDBY, checked_at=now, error="the replica is not in recovery")
    else:
        replay_lsn = row["replay_lsn"] or 0
        lag = _lag(replay_lsn, primary_lsn, row["last_replay_age"], now)
        status = LAGGING if lag > settings.REPLICA_MAX_LAG_SECONDS else OK
        state = ReplicaState(status=status, replay_lsn=replay_lsn, lag_seconds=lag, checked_at=now)
    _state, _last_primary = state, (primary_lsn, now)
    return state


def current() -> ReplicaState:
    """The state as last checked, checked again when older than the check interval (by one
    thread; the others go on with the last answer rather than wait for a slow replica)."""
    state = _state
    if not _stale(state, time.monotonic()) or not _lock.acquire(blocking=False):
        return state  # fresh, or another thread is checking: its answer comes soon
    try:
        return check() if _stale(_state, time.monotonic()) else _state
    finally:
        _lock.release()


def replayed_past(lsn: int) -> bool:
    """Whether the replica has replayed WAL up to ``lsn`` (a client's last write): from the last
    check when that already says so, else with one statement on the replica."""
    global _state
    state = current()
    if not state.usable:
        return False
    if state.replay_lsn >= lsn:
        return True
    try:
        replay_lsn = _fetch(REPLICA, REPLAY_LSN_SQL)["replay_lsn"] or 0
    except Error as exc:
        mark_down(exc)
        return False
    if replay_lsn > _state.replay_lsn:
        _state = dataclasses.replace(_state, replay_lsn=replay_lsn)
    return replay_lsn >= lsn


def mark_down(exc: BaseException | None = None) -> ReplicaState:
    """The replica failed a connection or a statement: reads go to the primary until the retry
    interval has passed."""
    global _state
    connections[REPLICA].close()
    message = str(exc).strip().splitlines()[0][:200] if exc is not None and str(exc).strip() else "unreachable"
    _state = ReplicaState(status=DOWN, checked_at=time.monotonic(), error=message)
    return _state


def reset() -> None:
    """Forget the last check (tests, and a process that changed its settings)."""
    global _state, _last_primary
    _state, _last_primary = ReplicaState(status=OFF), None


def shown() -> dict:
    """The replica's part of /healthz (never makes the web unhealthy: reads fall back)."""
    if not configured():
        return {"status": OFF}
    return current().shown()
