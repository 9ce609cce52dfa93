"""Health checks only for connections that sat idle (issue 16).

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before each request's first query, so a
connection that died while idle (a database restart, a dropped socket) is replaced instead of
failing the request: one more round trip on every request. A connection that finished a request
less than ``CRUCIBLE_DB_HEALTH_CHECK_IDLE_SECONDS`` ago (default 5) was working a moment ago and
is used without the check; one idle for longer is still checked. If such a busy connection dies
anyway, its request answers 503 (``DatabaseUnavailableMiddleware``) and it is closed, so the next
request reconnects. 0 checks before every request, as Django does.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db import connections


def skip_check_of_busy_connections(**kwargs) -> None:
    """``request_started``, after Django's ``close_old_connections`` asked for a check."""
    idle_limit = settings.DB_HEALTH_CHECK_IDLE_SECONDS
    if idle_limit <= 0:
        return
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        used = getattr(conn, "_crucible_request_done_at", None)
        if conn.connection is not None and used is not None and used[0] is conn.connection:
            if now - used[1] < idle_limit:
                conn.health_check_done = True


def note_request_done(**kwargs) -> None:
    """``request_finished``, after Django closed the connections it will not reuse."""
    now = time.monotonic()
    for conn in connections.all(initialized_only=True):
        if conn.connection is not None and not conn.errors_occurred:
            conn._crucible_request_done_at = (conn.connection, now)
