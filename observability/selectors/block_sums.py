"""The sums of a period's blocks, kept per process by the blocks' instances.

A page over a closed period reads the same blocks on every request until the job builds a longer
window or a late write deletes one (``observability.blocks``, ``observability.windows``): its
statement summed the 134 buckets of those blocks' rows again each time (the bottlenecks page: 1,600
rows, most of its statement). Here a read names the blocks it covers with their instances (the
id and inserting transaction of each block's total row: ``block_reads.INSTANCE_XMIN``), sums
only the rollup rows outside them, and takes the blocks' sums from ``CACHE`` when the same
instances were summed before in this process. A block's rows are inserted together and deleted
together, never updated, so the sums of a set of instances never change: a hit is exact, and a
block changed since is another instance, a miss. As a segment cache over immutable segments
(Apache Druid's, say), nothing is ever invalidated; the oldest entries make room.

On a miss, ``block_sums`` sums the named instances in one statement that also checks they are
all still there (a block deleted or rebuilt between the two statements: None, and the caller
reads as before, in one statement).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from crucible.sql import fetch_rows
from observability.blocks import GRAINS, SUMS

ENTRIES = 32  # per process: a page's entry holds ~400 groups' sums (~0.5 MB with their histograms)


class InstanceCache:
    """A bounded map, least recently used out first, safe across a server's threads."""

    def __init__(self, size: int):
        self.size = size
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable):
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


CACHE = InstanceCache(ENTRIES)

# The named block instances (tag, table, start, length, windowed, id, xmin), their rows summed
# per group; ``intact``: how many of them are still the instances named.
SUMS_SQL = """
WITH named AS (
    SELECT * FROM unnest(%(tags)s::boolean[], %(tables)s::text[], %(starts)s::timestamptz[], %(lengths)s::int[],
                         %(windowed)s::boolean[], %(ids)s::bigint[], %(xmins)s::bigint[])
             AS n(tag, tbl, start, length, windowed, id, xmin)
),
blocks AS ({blocks})
SELECT {select}, (SELECT count(*) FROM blocks b JOIN named n ON b.id = n.id AND b.bxmin = n.xmin WHERE b.total) AS intact
FROM blocks WHERE NOT total GROUP BY {group}
"""
BLOCKS_SQL = """
SELECT n.tag, b.id, b.xmin::text::bigint AS bxmin, b.total, b.agent_name, b.model, b.version, b.first_seen,
       b.last_seen, {sums} FROM named n
JOIN {g.table} b ON n.tbl = '{g.table}' AND b.team_id = %(team)s AND b.{g.start} = n.start
                AND b.{g.length} = n.length AND b.windowed = n.windowed
"""


def signature(team, cover: list[dict]) -> tuple:
    """The key of a set of block instances (``block_reads._Read.cover`` rows) of ``team``."""
    return (
        team.pk,
        *sorted((c["tag"], c["tbl"], c["start"], c["length"], c["windowed"], c["id"], c["xmin"]) for c in cover),
    )


def block_sums(team, cover: list[dict], *, shape: str, select: str, group: str, load: Callable[[list[dict]], object]):
    """``load`` of the rows of the block instances ``cover`` (``_Read.cover`` rows), summed by
    ``select`` (SQL over block rows and ``tag``) grouped by ``group``: from ``CACHE`` when this
    process summed them before for the same ``shape`` (a name for ``select``/``group``/``load``),
    else read and kept. None when a named instance is gone (deleted or rebuilt since ``cover``
    was read)."""
    key = (shape, signature(team, cover))
    found = CACHE.get(key)
    if found is not None:
        return found
    tables = {c["tbl"] for c in cover}
    blocks = " UNION ALL ".join(BLOCKS_SQL.format(g=g, sums=SUMS) for g in GRAINS.values() if g.table in tables)
    rows = fetch_rows(
        SUMS_SQL.format(blocks=blocks, select=select, group=group),
        {
            "team": team.pk,
            "tags": [c["tag"] for c in cover],
            "tables": [c["tbl"] for c in cover],
            "starts": [c["start"] for c in cover],
            "lengths": [c["length"] for c in cover],
            "windowed": [c["windowed"] for c in cover],
            "ids": [c["id"] for c in cover],
            "xmins": [c["xmin"] for c in cover],
        },
        binary=True,
    )
    if not rows or any(row["intact"] != len(cover) for row in rows):
        return None
    value = load(rows)
    CACHE.put(key, value)
    return value
