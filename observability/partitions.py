"""Monthly partitions of the large observability tables: creating them ahead, dropping old ones.

Executions and span payloads are partitioned by month on ``started_at``, the hourly, daily and
error rollups on ``bucket`` (migration 0009). Each table has a default partition that catches a
row no monthly partition takes (the worker stopped for months, a far past bucket); creating that
month's partition later moves those rows into it (``observability_month_partition``, SQL).

``partitions_ensure`` (the worker, daily, and before each retention run) creates the months from
the oldest an event may still have (retention) to ``PARTITION_MONTHS_AHEAD`` ahead. Retention
(``partitions_drop_before``) detaches and drops the partitions wholly older than the cutoff, and
deletes row by row only in the month that straddles it (and in the default partition).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import NamedTuple

from django.db import transaction
from django.utils import timezone

from observability import conf
from observability.sql import execute, fetch_rows

# Partitioned table -> its partition key.
EXECUTIONS = "observability_execution"
PAYLOADS = "observability_spanpayload"
ROLLUPS = ("observability_hourlyrollup", "observability_dailyrollup", "observability_errorrollup")
PARTITION_KEYS = {EXECUTIONS: "started_at", PAYLOADS: "started_at", **dict.fromkeys(ROLLUPS, "bucket")}

_MONTH_SUFFIX = re.compile(r"_p(\d{4})_(\d{2})$")


# A dropped partition's rows are counted below this estimate (a count of 100,000 rows takes
# milliseconds); above it, PostgreSQL's estimate (pg_class.reltuples) is reported, within what
# autovacuum's analyze threshold lets it drift (10 % by default).
EXACT_COUNT_BELOW = 100_000


class Partition(NamedTuple):
    name: str
    rows_estimate: int  # pg_class.reltuples: -1 until the partition was first analyzed


class Purged(NamedTuple):
    dropped: list[str]  # the partitions dropped
    rows: int  # rows in them (PostgreSQL's estimate past EXACT_COUNT_BELOW) plus rows deleted one by one


def month_start(moment: dt.datetime | dt.date) -> dt.date:
    return dt.date(moment.year, moment.month, 1)


def next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_month(name: str) -> dt.date | None:
    """The month a partition holds (from its name, ``<table>_pYYYY_MM``); None for the default."""
    match = _MONTH_SUFFIX.search(name)
    return dt.date(int(match[1]), int(match[2]), 1) if match else None


def partitions_of(table: str) -> list[Partition]:
    """The partitions of ``table``, oldest month first (the default partition last)."""
    rows = fetch_rows(
        "SELECT c.relname AS name, c.reltuples::bigint AS rows_estimate FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %(table)s::regclass",
        {"table": table},
        Partition,
    )
    return sorted(rows, key=lambda p: (partition_month(p.name) or dt.date.max, p.name))


def partitions_ensure(*, now: dt.datetime | None = None, months_ahead: int | None = None) -> list[str]:
    """Create the missing monthly partitions of every partitioned table, from the month of the
    oldest event ingest still accepts (``RETENTION_DAYS`` ago) to ``months_ahead`` months ahead.
    Idempotent. Returns the partitions created."""
    now = now or timezone.now()
    months_ahead = conf.PARTITION_MONTHS_AHEAD if months_ahead is None else months_ahead
    month = month_start(now - dt.timedelta(days=conf.RETENTION_DAYS))
    last = month_start(now)
    for _ in range(months_ahead):
        last = next_month(last)
    created = []
    while month <= last:
        for table in PARTITION_KEYS:
            with transaction.atomic():
                row = fetch_rows(
                    "SELECT observability_month_partition(%(table)s::regclass, %(month)s) AS created",
                    {"table": table, "month": month},
                )[0]
            if row["created"]:
                created.append(f"{table}_p{month:%Y_%m}")
        month = next_month(month)
    return created


def partitions_drop_before(table: str, *, cutoff: dt.datetime, batch_size: int = 50_000) -> Purged:
    """Retention of one partitioned table: the monthly partitions wholly older than ``cutoff``
    are detached and dropped (no row-wise delete, no bloat); rows older than ``cutoff`` in the
    month that straddles it and in the default partition are deleted in batches."""
    key = PARTITION_KEYS[table]
    dropped = []
    deleted = 0
    for partition in partitions_of(table):
        month = partition_month(partition.name)
        if month is None or dt.datetime.combine(next_month(month), dt.time(), dt.UTC) > cutoff:
            continue
        rows = partition.rows_estimate
        if rows < EXACT_COUNT_BELOW:
            # Never analyzed (-1), or small: counted. A partition made ahead and analyzed while
            # empty says 0 until autovacuum analyzes it again, which a few rows never trigger.
            rows = fetch_rows(f'SELECT count(*) AS n FROM "{partition.name}"', {})[0]["n"]
        deleted += rows
        with transaction.atomic():
            # Deferred foreign-key checks still pending in an outer transaction run now (a table
            # with pending trigger events cannot be dropped).
            execute("SET CONSTRAINTS ALL IMMEDIATE", {})
            execute(f'ALTER TABLE {table} DETACH PARTITION "{partition.name}"', {})
            execute(f'DROP TABLE "{partition.name}"', {})
        dropped.append(partition.name)
    # What is left older than the cutoff sits in one month's partition and the default one.
    pk = "execution_id" if table == PAYLOADS else "id"
    while True:
        with transaction.atomic():
            count = execute(
                # The outer condition on the key prunes the DELETE to the straddling partitions too.
                f"DELETE FROM {table} WHERE {key} < %(cutoff)s AND ({pk}, {key}) IN ("
                f" SELECT {pk}, {key} FROM {table} WHERE {key} < %(cutoff)s LIMIT %(batch_size)s)",
                {"cutoff": cutoff, "batch_size": batch_size},
            )
        deleted += count
        if count < batch_size:
            return Purged(dropped, deleted)
