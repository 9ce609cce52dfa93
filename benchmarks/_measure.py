"""Interleaved, repeated measurement for the ingest benchmarks, with CPU accounting.

``interleaved(runs, repeats)`` runs each named function once per round, in a rotating order, and
keeps every round's seconds: a load spike on the shared machine hits one round of every figure,
not all the rounds of one. ``median_rate`` turns them into items per second.

``CpuMeter`` reads the CPU seconds of this process and of its PostgreSQL backend (from
``/proc/<pid>/stat``; the server runs on this machine): CPU per item does not depend on how many
other programs share the cores, so it gives items per second per core for the capacity model.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _backend_pid() -> int:
    from django.db import connection

    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _proc_cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


class CpuMeter:
    """``with meter: ...`` then ``meter.python``, ``meter.database`` (seconds; ``database`` is
    None when the server's /proc entry cannot be read) and ``meter.wall``."""

    def __enter__(self):
        self.pid = _backend_pid()
        self._db0 = _proc_cpu(self.pid)
        self._py0 = time.process_time()
        self._wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self._wall0
        self.python = time.process_time() - self._py0
        db1 = _proc_cpu(self.pid)
        self.database = None if db1 is None or self._db0 is None else db1 - self._db0
        return False


def interleaved(runs: dict[str, Callable[[], CpuMeter]], repeats: int) -> dict[str, list[CpuMeter]]:
    """Each run returns the meter of its timed part (set-up and clean-up stay outside it)."""
    names = list(runs)
    results: dict[str, list[CpuMeter]] = {name: [] for name in names}
    for round_ in range(repeats):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            results[name].append(runs[name]())
    return results


def median_rate(meters: list[CpuMeter], items: int) -> float:
    return items / statistics.median(m.wall for m in meters)


def cpu_per_item(meters: list[CpuMeter], items: int) -> tuple[float, float | None]:
    """Median CPU seconds per item: (this process, the database backend or None)."""
    python = statistics.median(m.python for m in meters) / items
    if any(m.database is None for m in meters):
        return python, None
    return python, statistics.median(m.database for m in meters) / items


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} (1/5/15 min) on {os.cpu_count()} cores"
