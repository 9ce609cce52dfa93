"""The server's application threads (crucible/threads.py): the thread that became idle last takes
the next request, so sequential requests keep to one thread and its database connection (its
prepared statements and plans) instead of rotating over every thread a burst started."""

from __future__ import annotations

import threading
import time

import pytest

from crucible.threads import WarmestThreadExecutor


def _burst(pool: WarmestThreadExecutor, n: int) -> set[int]:
    """``n`` jobs at once, each holding its thread until all have started: ``n`` threads exist."""
    barrier = threading.Barrier(n)

    def hold():
        barrier.wait(timeout=5)
        return threading.get_ident()

    return {f.result(timeout=5) for f in [pool.submit(hold) for _ in range(n)]}


def test_sequential_jobs_after_a_burst_keep_to_the_thread_that_finished_last():
    pool = WarmestThreadExecutor(max_workers=4)
    try:
        assert len(_burst(pool, 4)) == 4
        last = pool.submit(threading.get_ident).result(timeout=5)
        seen = {pool.submit(threading.get_ident).result(timeout=5) for _ in range(20)}
        assert seen == {last}
    finally:
        pool.shutdown()


def test_a_job_waits_while_every_thread_is_busy_and_waiting_jobs_run_in_order():
    pool = WarmestThreadExecutor(max_workers=2)
    release = threading.Event()
    running = []
    order = []
    lock = threading.Lock()

    def busy(name):
        with lock:
            running.append(name)
        release.wait(timeout=5)
        with lock:
            running.remove(name)

    def record(name):
        with lock:
            order.append(name)
            return len(running)

    try:
        held = [pool.submit(busy, n) for n in ("a", "b")]
        waiting = [pool.submit(record, n) for n in ("c", "d", "e")]
        time.sleep(0.05)
        assert not any(f.done() for f in waiting)  # two threads, both busy
        release.set()
        for f in held + waiting:
            f.result(timeout=5)
        assert order == ["c", "d", "e"]
    finally:
        pool.shutdown()


def test_an_exception_reaches_the_caller_and_the_thread_serves_on():
    pool = WarmestThreadExecutor(max_workers=1)
    try:
        with pytest.raises(ZeroDivisionError):
            pool.submit(lambda: 1 / 0).result(timeout=5)
        assert pool.submit(lambda: 42).result(timeout=5) == 42
    finally:
        pool.shutdown()


def test_shutdown_runs_the_waiting_jobs_then_refuses_new_ones():
    pool = WarmestThreadExecutor(max_workers=1)
    release = threading.Event()
    first = pool.submit(release.wait, 5)
    queued = pool.submit(lambda: "ran")
    release.set()
    pool.shutdown(wait=True)
    assert first.result(timeout=0) is True and queued.result(timeout=0) == "ran"
    with pytest.raises(RuntimeError):
        pool.submit(lambda: None)


def test_shutdown_with_cancel_futures_cancels_the_waiting_jobs():
    pool = WarmestThreadExecutor(max_workers=1)
    release = threading.Event()
    first = pool.submit(release.wait, 5)
    queued = pool.submit(lambda: "ran")
    pool.shutdown(wait=False, cancel_futures=True)  # while the one thread is busy with ``first``
    release.set()
    pool.shutdown(wait=True)
    assert first.result(timeout=0) is True
    assert queued.cancelled()
