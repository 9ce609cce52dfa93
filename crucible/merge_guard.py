"""Precomputed merges of closed days (or hours), kept exact: the project's one way to do it.

A merge sums the rows of closed UTC days of a source table ahead of the reads, or of closed UTC
hours for a guard whose ``unit`` is "hour": observability's day and hour blocks
(``observability.blocks``), marketplace's period histograms
(``marketplace.services.evidence_histograms``). One rule keeps each merged row equal to the
source rows it covers, or absent:

- a statement trigger on the source table (``trigger_sql``, installed by a migration) deletes the
  merged rows that hold any closed day whose source rows change (insert, update, delete: late
  events, rebuilds, deletions), after taking a shared transaction advisory lock on each key it
  touches;
- the job that merges takes the same keys exclusively (``locks_take``) in the transaction that
  reads the source rows and writes the merged ones. It only tries: a key a writer holds is left
  for the next run, so a merge never waits for a writer and the two never deadlock.

So a writer of a closed day either committed before the merge read (the merge counted it), or
waits for the merge to commit and then deletes what it merged, in the writer's own transaction.
Readers use a merged row when there is one, else the source rows, in one statement: no
bookkeeping per row. A day is merged only once it has been closed for ``SETTLE`` (a guard's
``settle``; ``closed_until``): a writer whose transaction began before midnight (or before the
hour ended) does not count the unit as closed and takes no lock.

A change to a guard changes the trigger function: add a migration that runs ``trigger_sql``
again (``tests/crucible/test_merge_guard.py`` compares the installed functions with the guards).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from crucible import periods, sql

# How long a day stays open to writers that began before its end (see the module docstring).
SETTLE = dt.timedelta(hours=1)
EVENTS = ("INSERT", "UPDATE", "DELETE")


@dataclass(frozen=True)
class MergeGuard:
    """Where a merge reads, where it writes, and which locks and merged rows a change touches."""

    name: str  # lock namespace, e.g. "observability-dayblock" (SQL names use "_" for "-")
    source: str  # table whose rows of closed days are merged
    merged: str  # table of the merged rows
    day: str  # the source's UTC unit: a date, or a timestamptz at the unit's start (``day_type``)
    day_type: str  # "date" or "timestamptz" (an "hour" unit is a timestamptz)
    lock: tuple[tuple[str, str], ...]  # (source column, SQL type) naming one lock
    lock_parts: str  # SQL over ``k.<lock column>``: the parts of the lock key, in order
    keys: tuple[str, ...]  # source columns that ``covers`` reads from ``k``
    covers: str  # SQL: merged row ``m`` holds the day (or hour) of changed source row ``k``
    unit: str = "day"  # what is closed: a UTC "day" or "hour"
    settle: dt.timedelta = SETTLE  # how long a unit stays open to writers that began before its end

    @property
    def ident(self) -> str:
        return self.name.replace("-", "_")

    @property
    def function(self) -> str:
        return f"{self.ident}_invalidate"

    def trigger(self, event: str) -> str:
        return f"{self.ident}_{event.lower()}"

    @property
    def current_sql(self) -> str:
        """SQL: the start of the open UTC unit (today, or this hour), of the type of ``day``."""
        if self.day_type == "date":
            return "(now() AT TIME ZONE 'UTC')::date"
        return f"date_trunc('{self.unit}', now(), 'UTC')"

    def closed_until(self, now: dt.datetime) -> dt.datetime:
        """The UTC start of the unit ending the last one a merge may read: the units before it
        have been closed for at least ``settle``."""
        return closed_until(now, unit=self.unit, settle=self.settle)


def lock_key_sql(guard: MergeGuard) -> str:
    """The bigint advisory-lock key of one ``k`` row, the same in the trigger and in the job."""
    return f"hashtextextended(concat_ws(':', '{guard.name}', {guard.lock_parts}), 0)"


def function_body(guard: MergeGuard) -> str:
    """The PL/pgSQL body of the guard's trigger function (``changed``: the transition table)."""
    closed = f"{guard.day} < {guard.current_sql}"
    lock_columns = ", ".join(column for column, _ in guard.lock)
    return f"""
BEGIN
    -- A merge of these keys in progress holds them: wait until it commits, so that the DELETE
    -- below (a new snapshot: READ COMMITTED) sees and removes what it merged.
    PERFORM pg_advisory_xact_lock_shared({lock_key_sql(guard)})
    FROM (SELECT DISTINCT {lock_columns} FROM changed WHERE {closed} ORDER BY {lock_columns}) k;
    IF FOUND THEN
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION '{guard.source}: closed days are changed in READ COMMITTED only (merges stay exact)';
        END IF;
        DELETE FROM {guard.merged} m
        USING (SELECT DISTINCT {", ".join(guard.keys)} FROM changed WHERE {closed}) k
        WHERE {guard.covers};
    END IF;
    RETURN NULL;
END
"""


def trigger_sql(guard: MergeGuard) -> tuple[str, str]:
    """(forward, reverse) SQL of a migration: the trigger function and one statement trigger per
    event on the source table."""
    forward = f"CREATE OR REPLACE FUNCTION {guard.function}() RETURNS trigger LANGUAGE plpgsql AS $${function_body(guard)}$$;\n"
    for event in EVENTS:
        forward += (
            f"DROP TRIGGER IF EXISTS {guard.trigger(event)} ON {guard.source};\n"
            f"CREATE TRIGGER {guard.trigger(event)} AFTER {event} ON {guard.source} "
            f"REFERENCING {'OLD' if event == 'DELETE' else 'NEW'} TABLE AS changed "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {guard.function}();\n"
        )
    reverse = "".join(f"DROP TRIGGER IF EXISTS {guard.trigger(e)} ON {guard.source};\n" for e in EVENTS)
    reverse += f"DROP FUNCTION IF EXISTS {guard.function}();\n"
    return forward, reverse


def locks_take(guard: MergeGuard, keys) -> list[tuple]:
    """Take the guard's lock exclusively on each key it can have now (``keys``: tuples of the
    ``lock`` columns), until the current transaction ends; return the keys taken. Merge those
    only: a key a writer holds is left for the next run. Call inside ``transaction.atomic``."""
    keys = list(keys)
    if not keys:
        return []
    columns = [column for column, _ in guard.lock]
    arrays = ", ".join(f"%(c{i})s::{kind}[]" for i, (_, kind) in enumerate(guard.lock))
    params = {f"c{i}": [key[i] for key in keys] for i in range(len(columns))}
    rows = sql.fetch_rows(
        f"SELECT {', '.join(columns)} FROM unnest({arrays}) AS k({', '.join(columns)}) "
        f"WHERE pg_try_advisory_xact_lock({lock_key_sql(guard)})",
        params,
    )
    return [tuple(row[column] for column in columns) for row in rows]


def closed_until(now: dt.datetime, *, unit: str = "day", settle: dt.timedelta = SETTLE) -> dt.datetime:
    """UTC midnight (or the hour's start, for ``unit`` "hour") ending the last day a merge may
    read: the units before it have been closed for at least ``settle``."""
    return periods.floor((now - settle).astimezone(dt.UTC), unit)
