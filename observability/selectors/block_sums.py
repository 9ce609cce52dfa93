"""The sums of a closed period's blocks, kept per process by the blocks' instances.

A page that compares a period with the one before it reads the same blocks of the previous period
on every request until the period moves or a late write deletes one (``observability.blocks``,
``observability.windows``), and its statement summed the 134 buckets of those blocks' rows again
each time. Here the statement also names those blocks by their instances (the id and inserting
transaction of each block's total row: ``block_reads.INSTANCE_XMIN``) and compares them with the
instances whose sums this process keeps for that period (``CACHE``): the same ones, and it skips
their rows while the caller takes their sums from the cache; others (or none kept), and it sums
them apart, and the caller keeps their sums for the next read. The comparison is made inside the
statement, in the snapshot of the rows it sums (``version_reads._groups_with_kept_blocks``).

A block's rows are inserted together and deleted together, never updated, so the sums of a set of
instances never change: a hit is exact, and a block built again after a change is another
instance (another id and transaction, even where ids start again), a miss. As in a segment cache
over immutable segments (Apache Druid's, say), nothing is ever invalidated; the least recently
used entries make room. docs/observability.md, "Kept block sums".
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

from observability.sql import pg_array

ENTRIES = 32  # per process: an entry holds the sums of one period's blocks (a group per agent and version)
# ...and at most this many groups in all (2.9 kB each with its histogram, measured with
# tracemalloc on bench-big: some 23 MB), so a team with thousands of agents and versions cannot
# grow a server process by hundreds of MB.
GROUPS = 8_000


class InstanceCache:
    """A bounded map, least recently used out first, safe across a server's threads: at most
    ``size`` entries and ``weight`` in all (each entry weighs what ``put`` says; one heavier
    than the whole bound is not kept)."""

    def __init__(self, size: int, weight: int):
        self.size = size
        self.weight = weight
        self._entries: OrderedDict[Hashable, tuple[object, int]] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable):
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value, weight: int = 1) -> None:
        with self._lock:
            if key in self._entries:
                self._weight -= self._entries.pop(key)[1]
            if weight > self.weight:
                return
            self._entries[key] = (value, weight)
            self._weight += weight
            while len(self._entries) > self.size or self._weight > self.weight:
                self._weight -= self._entries.popitem(last=False)[1][1]

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._weight = 0


CACHE = InstanceCache(ENTRIES, GROUPS)


@dataclass(frozen=True)
class Kept:
    """The sums of a set of block instances: the instances (``instance`` of each, sorted) and the
    caller's groups, each ending with its aggregate row, whose histogram is kept as a tuple (read
    by every later request, never changed in place)."""

    instances: list[str]
    groups: tuple
    # What a caller computes from these sums alone, kept with them (read-only once set).
    memo: dict = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, instances: list[str], groups) -> Kept:
        """``instances``: the ``instance`` of each block read (``known_ctes``'s ``cover``)."""
        return cls(instances=sorted(instances), groups=tuple((*group[:-1], _frozen(group[-1])) for group in groups))


def _frozen(row: dict) -> dict:
    hist = row.get("hist")
    return row if hist is None else {**row, "hist": tuple(hist)}


def known_ctes(cover: str) -> str:
    """CTEs ``cover`` (the blocks read: ``_Read.cover``, with each one's ``instance`` added,
    ``table:id:xmin``: the two block tables number their rows apart) and ``known`` (one row:
    ``hit``, true when they are exactly the instances of the parameter ``known_params`` gives)."""
    return f"""
    cover AS (SELECT *, tbl || ':' || id || ':' || xmin AS instance FROM ({cover}) c),
    known AS (
        SELECT coalesce((SELECT array_agg(instance ORDER BY instance COLLATE "C") FROM cover) = %(known)s::text[], false)
               AS hit
    )"""


def known_params(kept: Kept | None) -> dict:
    """The parameter of ``known_ctes`` for what this process keeps (None: nothing, no hit), as an
    array literal (``observability.sql.pg_array``): the same parameter type whatever is kept, so a
    hit and a miss run one prepared statement (a list of ints would bind as smallint[], integer[]
    or bigint[] by its values, and None as unknown: a statement and its plans apiece)."""
    return {"known": pg_array(kept.instances if kept else [])}
