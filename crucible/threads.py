"""The server's pool of application threads (``crucible.asgi``): a ``concurrent.futures.Executor``
that gives each job to the thread that became idle last.

Each application thread keeps its own database connection, and a connection keeps what makes its
next statements cheap: its prepared statements and their plans (PostgreSQL plans a prepared
statement for its first five runs before it may keep one plan), and its catalog caches.
``ThreadPoolExecutor`` hands a job to whichever idle thread its queue wakes, so once a burst has
started every thread, sequential requests rotate over all of them and each connection sees a
fraction of the traffic: with 3 workers of 4 threads a page's statement ran about thirty times
over HTTP before its requests stopped paying for planning (docs/observability.md, "Pages, round
ten"). Here the most recently used thread, whose connection is the warmest, takes the next job;
the others stay idle until the load needs them. Jobs beyond the pool's size wait in submission
order, as in ``ThreadPoolExecutor``.
"""

from __future__ import annotations

import collections
import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future


class _Job:
    __slots__ = ("future", "fn", "args", "kwargs")

    def __init__(self, future: Future, fn, args, kwargs):
        self.future, self.fn, self.args, self.kwargs = future, fn, args, kwargs

    def run(self) -> Callable[[], object]:
        """Run the job (unless it was cancelled); returns what hands its outcome to the caller, so
        the pool can first make the thread idle again."""
        if not self.future.set_running_or_notify_cancel():
            return _nothing
        try:
            result = self.fn(*self.args, **self.kwargs)
        except BaseException as exc:  # handed to the caller through the future, as ThreadPoolExecutor does
            return functools.partial(self.future.set_exception, exc)
        return functools.partial(self.future.set_result, result)


def _nothing() -> None:
    return None


class WarmestThreadExecutor(Executor):
    """At most ``max_workers`` threads, started as the load needs them; each job goes to the
    thread that became idle last, or waits (first in, first out) while every thread is busy."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "pool"):
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self._prefix = thread_name_prefix
        self._lock = threading.Lock()
        self._idle: list[queue.SimpleQueue] = []  # a stack: the last thread to become idle is on top
        self._waiting: collections.deque[_Job] = collections.deque()
        self._threads: list[threading.Thread] = []
        self._shutdown = False

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        job = _Job(future, fn, args, kwargs)
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if self._idle:
                inbox = self._idle.pop()
            elif len(self._threads) < self.max_workers:
                inbox = queue.SimpleQueue()
                thread = threading.Thread(
                    target=self._serve, args=(inbox,), name=f"{self._prefix}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            else:
                self._waiting.append(job)
                return future
        inbox.put(job)
        return future

    def _serve(self, inbox: queue.SimpleQueue) -> None:
        job = inbox.get()
        while job is not None:
            settle = job.run()
            with self._lock:
                following = self._waiting.popleft() if self._waiting else None
                stop = following is None and self._shutdown
                if following is None and not stop:
                    # idle again before the caller hears, so the caller's next job finds this thread
                    self._idle.append(inbox)
            settle()
            settle = job = None  # nothing of the finished job is kept while the thread idles
            if stop:
                return
            job = following if following is not None else inbox.get()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new jobs; the waiting ones still run unless ``cancel_futures``; ``wait``: until every
        thread has finished."""
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                while self._waiting:
                    self._waiting.popleft().future.cancel()
            idle, self._idle = self._idle, []
            threads = list(self._threads)
        for inbox in idle:
            inbox.put(None)
        if wait:
            for thread in threads:
                thread.join()
