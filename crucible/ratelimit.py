"""Rate limits whose counters every process and host share: one row per name and window in the
``crucible_ratecounter`` table, moved by one atomic upsert (``INSERT ... ON CONFLICT DO UPDATE``).
The API throttles (``crucible.api.throttling``) and the failed-login limits (``crucible.auth``) use
it; a per-process cache let each worker count on its own (issue 15, item 4).

A count is a sliding-window estimate: this window's count plus the previous window's, weighted by
how much of the previous window still lies within the last ``seconds`` (rounded up), so a burst
across a window boundary is not counted afresh."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

from django.db import connection

from crucible.models import RateCounter

# About one hit in this many also deletes expired windows (no separate cleaning job needed).
_SWEEP_ONE_IN = 500
_MAX_KEY = 300
# Outside a transaction the upsert commits on its own, and a counter need not wait for the disk:
# the statement itself sets ``synchronous_commit`` off for its own transaction (``set_config``
# with ``is_local``: the implicit transaction of this one statement), so that commit is
# asynchronous. A crash of the database may forget the last fraction of a second of hits;
# nothing else is affected (inside a caller's transaction nothing is changed). One statement, so
# it also runs with server-side parameter binding (which refuses two statements in one query).
_ASYNC_COMMIT = ", set_config('synchronous_commit', 'off', true) AS async_commit"


# Each hit's row upserted (rows locked in key order, so concurrent requests that share limits never
# deadlock), with the previous window's count beside it; ``swept`` deletes expired windows.
_HIT_MANY = """
    WITH wanted AS (
        SELECT * FROM unnest(%(keys)s::text[], %(previous)s::text[], %(ttls)s::int[]) AS w(key, previous, ttl)
    ), hit AS (
        INSERT INTO {table} (key, count, expires_at)
        SELECT key, %(amount)s, now() + make_interval(secs => ttl) FROM wanted ORDER BY key
        ON CONFLICT (key) DO UPDATE SET count = {table}.count + EXCLUDED.count
        RETURNING key, count
    ), swept AS (
        DELETE FROM {table} WHERE %(sweep)s AND expires_at < now()
    )
    SELECT hit.count, COALESCE(old.count, 0){async_commit}
    FROM wanted JOIN hit ON hit.key = wanted.key
    LEFT JOIN {table} old ON old.key = wanted.previous
    ORDER BY array_position(%(keys)s::text[], wanted.key)
"""
_HIT_ONE = """
    WITH hit AS (
        INSERT INTO {table} (key, count, expires_at)
        VALUES (%(key)s, %(amount)s, now() + make_interval(secs => %(ttl)s::int))
        ON CONFLICT (key) DO UPDATE SET count = {table}.count + EXCLUDED.count
        RETURNING count
    ), swept AS (
        DELETE FROM {table} WHERE %(sweep)s AND expires_at < now()
    )
    SELECT hit.count, COALESCE((SELECT old.count FROM {table} old WHERE old.key = %(previous)s), 0){async_commit}
    FROM hit
"""
# {outside a transaction: {one hit: statement}}
_STATEMENTS = {
    autocommit: {
        one: (_HIT_ONE if one else _HIT_MANY).format(
            table=RateCounter._meta.db_table, async_commit=_ASYNC_COMMIT if autocommit else ""
        )
        for one in (True, False)
    }
    for autocommit in (True, False)
}


@dataclass(frozen=True)
class Window:
    key: str
    previous_key: str
    previous_weight: float  # share of the previous window still inside the sliding window
    seconds_left: float  # until this window ends


def window_for(*, name: str, seconds: int, now: float | None = None) -> Window:
    now = time.time() if now is None else now
    index = int(now // seconds)
    elapsed = now - index * seconds
    suffix = f":{index}"
    base = name[: _MAX_KEY - len(suffix) - 1]
    return Window(
        key=f"{base}{suffix}",
        previous_key=f"{base}:{index - 1}",
        previous_weight=1 - elapsed / seconds,
        seconds_left=seconds - elapsed,
    )


def _estimate(current: int, previous: int, window: Window) -> int:
    return current + math.ceil(previous * window.previous_weight - 1e-9)


def rate_hit(*, name: str, seconds: int, amount: int = 1) -> tuple[int, float]:
    """Count ``amount`` more for ``name``; return the count over the last ``seconds`` (this hit
    included) and the seconds until the current window ends."""
    return rate_hit_many(hits=[(name, seconds)], amount=amount)[0]


def rate_hit_many(*, hits: list[tuple[str, int]], amount: int = 1) -> list[tuple[int, float]]:
    """``rate_hit`` for several (name, seconds) limits in one statement (a request checks its key's
    budget and its expensive-read budget with one round trip). Rows are locked in key order, so
    concurrent requests that share limits never deadlock. Returns one (count, seconds left) per hit,
    in the order given; the names must differ."""
    windows = [window_for(name=name, seconds=seconds) for name, seconds in hits]
    statements = _STATEMENTS[connection.get_autocommit()]
    # One statement whatever happens (a request's query count stays fixed); about one hit in
    # _SWEEP_ONE_IN also deletes the expired windows of every name.
    sweep = random.randrange(_SWEEP_ONE_IN) == 0
    with connection.cursor() as cursor:
        if len(windows) == 1:
            # The common case (an API request under its key's limit): the same upsert with plain
            # parameters, about a third cheaper for PostgreSQL and psycopg than the arrays below.
            (window,) = windows
            cursor.execute(
                statements[True],
                {
                    "key": window.key,
                    "previous": window.previous_key,
                    "ttl": hits[0][1] * 2 + 1,
                    "amount": amount,
                    "sweep": sweep,
                },
            )
        else:
            cursor.execute(
                statements[False],
                {
                    "keys": [w.key for w in windows],
                    "previous": [w.previous_key for w in windows],
                    "ttls": [seconds * 2 + 1 for _, seconds in hits],
                    "amount": amount,
                    "sweep": sweep,
                },
            )
        rows = cursor.fetchall()
    return [
        (_estimate(current, previous, window), window.seconds_left)
        for (current, previous, *_), window in zip(rows, windows, strict=True)
    ]


def rate_count(*, name: str, seconds: int) -> tuple[int, float]:
    """The count of ``name`` over the last ``seconds`` (0 when nothing was counted) and the seconds
    until the current window ends; counts nothing."""
    window = window_for(name=name, seconds=seconds)
    rows = dict(RateCounter.objects.filter(key__in=[window.key, window.previous_key]).values_list("key", "count"))
    return _estimate(rows.get(window.key, 0), rows.get(window.previous_key, 0), window), window.seconds_left
