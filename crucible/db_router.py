"""Which database a query goes to when a read replica is configured (``DATABASE_REPLICA_URL``).

- Writes, and every read of a request once it has written or while a transaction is open on the
  primary, go to the primary (``default``).
- Reads go to the replica only in GET/HEAD requests of the views that declare it
  (``replica_reads = True`` on a page, or the viewset actions named in ``replica_reads``, e.g.
  ``("list", "retrieve")``): lists, dashboards, detail reads. Everything else reads the primary.
- Read-your-writes: after a client's write (a POST, PUT, PATCH or DELETE answered below 400) its
  marker holds the primary's WAL insert position (``pg_current_wal_insert_lsn()``, past the
  request's commit records even with ``synchronous_commit = off``). A later read of that client
  goes to the replica only once the replica has replayed that far (``pg_last_wal_replay_lsn()``).
  Browsers carry the marker in a signed cookie; API keys in the unlogged table
  ``crucible_readmarker`` on the primary, keyed by a hash of the key.
- Failure: the replica is used only while ``crucible.replica`` says it is ``ok`` (reachable, a
  standby, lag within ``CRUCIBLE_REPLICA_MAX_LAG_SECONDS``); a replica connection that fails in
  the middle of a GET marks it down and the request runs again on the primary.
- Some tables are always read on the primary: sessions, users, API keys, memberships and rate
  counters (who may do what must not lag), and the job queue.
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, Error, InterfaceError, OperationalError, connections

from crucible import replica
from crucible.api.exceptions import is_query_timeout
from crucible.replica import REPLICA

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
MARKER_COOKIE = "crucible_read_after"
MARKER_SALT = "crucible.read-after"
# A marker older than this is satisfied by any replica within the lag bound: it expires.
MARKER_MIN_SECONDS = 60
ALWAYS_PRIMARY_APPS = frozenset({"sessions", "auth", "admin", "contenttypes", "procrastinate"})
ALWAYS_PRIMARY_MODELS = frozenset({"crucible.apikey", "crucible.membership", "crucible.ratecounter"})

MARKER_READ_SQL = """
SELECT lsn FROM crucible_readmarker
WHERE client = %(client)s AND written_at > now() - %(seconds)s * interval '1 second'
"""
MARKER_WRITE_SQL = """
INSERT INTO crucible_readmarker AS m (client, lsn, written_at)
VALUES (%(client)s, pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint, now())
ON CONFLICT (client) DO UPDATE SET lsn = greatest(m.lsn, EXCLUDED.lsn), written_at = EXCLUDED.written_at
"""
CURRENT_LSN_SQL = "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint AS lsn"


@dataclass
class ReadPlan:
    """One request's routing: whether its view reads from the replica, the client's last write,
    and the choice once made (the first read decides, the rest of the request follows)."""

    eligible: bool = False
    marker_lsn: int = 0
    alias: str | None = None
    wrote: bool = False
    replica_failed: bool = False


_plan: ContextVar[ReadPlan | None] = ContextVar("crucible_read_plan", default=None)


def _always_primary(model) -> bool:
    if model is None:
        return False
    meta = model._meta
    return meta.app_label in ALWAYS_PRIMARY_APPS or meta.label_lower in ALWAYS_PRIMARY_MODELS


def _choose(plan: ReadPlan) -> str:
    if plan.marker_lsn and not replica.replayed_past(plan.marker_lsn):
        return DEFAULT_DB_ALIAS
    if not replica.current().usable:
        return DEFAULT_DB_ALIAS
    conn = connections[REPLICA]
    try:
        conn.health_check_done = False  # once per request: ping a kept connection before using it
        conn.close_if_health_check_failed()
        conn.ensure_connection()
    except (OperationalError, InterfaceError) as exc:
        replica.mark_down(exc)
        return DEFAULT_DB_ALIAS
    return REPLICA


def read_alias(model=None) -> str:
    """The alias a read of ``model`` (or of raw SQL, ``model=None``) uses now."""
    plan = _plan.get()
    if plan is None or not plan.eligible or plan.wrote or plan.replica_failed or _always_primary(model):
        return DEFAULT_DB_ALIAS
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return DEFAULT_DB_ALIAS  # a transaction that may write reads what it wrote
    if plan.alias is None:
        plan.alias = _choose(plan)
    return plan.alias


class ReplicaRouter:
    """Django's router hooks onto ``read_alias``; without a replica every answer is the primary."""

    def db_for_read(self, model, **hints):
        return read_alias(model)

    def db_for_write(self, model, **hints):
        plan = _plan.get()
        if plan is not None and not _always_primary(model):
            plan.wrote = True  # bookkeeping (a session, a key's last use) does not change what is read
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the replica holds the same rows

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


# --- Per-request plan and markers ----------------------------------------------------------------


def _view_reads_replica(view_func, method: str) -> bool:
    if method not in ("GET", "HEAD"):
        return False
    declared = getattr(view_func, "replica_reads", None)
    cls = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
    if declared is None and cls is not None:
        declared = getattr(cls, "replica_reads", None)
    if isinstance(declared, (tuple, list, set, frozenset)):
        actions = getattr(view_func, "actions", None) or {}
        return actions.get(method.lower(), actions.get("get")) in declared
    return bool(declared)


def replica_reads(view_func):
    """Mark a function view as a read that may be served from the replica."""
    view_func.replica_reads = True
    return view_func


def _api_client(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    return hashlib.sha256(header.encode("utf-8", "surrogateescape")).hexdigest()


def _marker_seconds() -> int:
    from django.conf import settings

    return max(MARKER_MIN_SECONDS, int(settings.REPLICA_MAX_LAG_SECONDS * 10))


def _read_marker(request) -> int:
    client = _api_client(request)
    if client is None:
        value = request.get_signed_cookie(MARKER_COOKIE, default=None, salt=MARKER_SALT, max_age=_marker_seconds())
        try:
            return int(value) if value is not None else 0
        except ValueError:
            return 0
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute(MARKER_READ_SQL, {"client": client, "seconds": _marker_seconds()})
        row = cursor.fetchone()
    return row[0] if row else 0


def _write_marker(request, response) -> None:
    client = _api_client(request)
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        if client is not None:
            cursor.execute(MARKER_WRITE_SQL, {"client": client})
            return
        cursor.execute(CURRENT_LSN_SQL)
        lsn = cursor.fetchone()[0]
    response.set_signed_cookie(
        MARKER_COOKIE,
        str(lsn),
        salt=MARKER_SALT,
        max_age=_marker_seconds(),
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )


class ReplicaReadsMiddleware:
    """Sets each request's ``ReadPlan``, records the client's marker after a write, and runs a GET
    again on the primary when the replica failed under it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not replica.configured():
            return self.get_response(request)
        plan = ReadPlan()
        token = _plan.set(plan)
        try:
            with connections[REPLICA].execute_wrapper(_watch_replica):
                response = self.get_response(request)
            if plan.replica_failed and request.method in SAFE_METHODS:
                _plan.set(ReadPlan())  # the same request again, every read on the primary
                response = self.get_response(request)
        finally:
            _plan.reset(token)
        if request.method not in SAFE_METHODS and response.status_code < 400:
            try:
                _write_marker(request, response)
            except Error:
                pass  # the write itself succeeded; without a marker the lag bound still holds
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        plan = _plan.get()
        if plan is None or not _view_reads_replica(view_func, request.method):
            return None
        try:
            plan.marker_lsn = _read_marker(request)
        except Error:
            return None  # the primary is in trouble: the view will say so
        plan.eligible = True
        return None


def _watch_replica(execute, sql, params, many, context):
    """A statement the replica could not run (its server went away, or recovery cancelled it)
    makes the request run again on the primary; a lost server is also marked down."""
    try:
        return execute(sql, params, many, context)
    except (OperationalError, InterfaceError) as exc:
        plan = _plan.get()
        if plan is not None and not is_query_timeout(exc):
            plan.replica_failed = True
            raw = context["connection"].connection
            if isinstance(exc, InterfaceError) or raw is None or raw.closed:
                replica.mark_down(exc)
        raise
