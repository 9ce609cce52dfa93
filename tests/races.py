"""Helpers of the tests where two sessions race (a late write and a merge): each side runs in its
own thread, so in its own database connection."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from django.db import connection, transaction

from crucible import sql


def in_thread(fn):
    """Start ``fn`` in its own thread (its own connection); ``outcome`` gets its value or error."""
    outcome = {}

    def run():
        try:
            outcome["value"] = fn()
        except Exception as exc:  # re-raised by the test through the assertions on outcome
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


WAITING_SQL = """
SELECT 1 AS waiting FROM pg_locks
WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


def wait_for_a_lock_wait(timeout: float = 20.0) -> None:
    """Until some session waits for an advisory lock (the late writer's trigger)."""
    deadline = time.monotonic() + timeout
    while not sql.fetch_one(WAITING_SQL):
        assert time.monotonic() < deadline, "the late write did not wait for the merge's lock"
        time.sleep(0.02)


@contextmanager
def held_open(fn, timeout: float = 20.0):
    """Run ``fn`` in a transaction of its own thread (its own connection) and keep that
    transaction open, with the locks it took, until the ``with`` block ends; it then commits.
    The block starts once ``fn`` has run; what ``fn`` raised fails the test."""
    ran, release = threading.Event(), threading.Event()

    def run():
        try:
            with transaction.atomic():
                fn()
                ran.set()
                release.wait(timeout)
        finally:
            ran.set()

    thread, outcome = in_thread(run)
    assert ran.wait(timeout), "the transaction did not start"
    assert "error" not in outcome, outcome
    try:
        yield
    finally:
        release.set()
        thread.join(timeout)
    assert "error" not in outcome, outcome
