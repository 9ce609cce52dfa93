"""Reads of a period from day and hour blocks (``observability.blocks``) where they exist.

Each daily or hourly segment of a period (``rollup_reads._segments``) is read from the blocks that
cover it: a window block from its first unit if there is one (``observability.windows``), then the
longest aligned blocks after it (a present block that no longer present block there holds;
aligned blocks are nested or disjoint, so these never overlap), chosen in the same statement, so
in the same snapshot, as the rows they replace. The units they cover are left out of the rollup
rows; every other unit, and the raw edges of the period, are read from the rollups as before. So
the histogram sums run over a few blocks per agent and one total row per day or hour for the
series, whatever the number of versions, statuses and executions, and the figures are those of
the rollup rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crucible.sql import fetch_rows
from observability.blocks import GRAINS, SUMS, Grain
from observability.selectors.rollup_reads import HIST_ARRAY, _row, _segments, _time_expr, _where

# As ``rollup_reads.AGGREGATES``: counts as bigint, cost numeric.
AGGREGATES = (
    "sum(executions)::bigint AS executions, sum(successes)::bigint AS successes, "
    "sum(duration_sum_ms) AS duration_sum_ms, max(duration_max_ms) AS duration_max_ms, "
    "sum(input_tokens)::bigint AS input_tokens, sum(output_tokens)::bigint AS output_tokens, "
    "sum(cached_input_tokens)::bigint AS cached_input_tokens, sum(reasoning_tokens)::bigint AS reasoning_tokens, "
    "sum(cost) AS cost, sum(unpriced)::bigint AS unpriced, min(first_seen) AS first_seen, max(last_seen) AS last_seen"
)


# The inserting transaction of a block's total row: with its table and id, the block's instance
# (``block_sums.known_ctes``). A block's rows are inserted together and deleted together, never
# updated (``observability.blocks``), so a block rebuilt after a change is another instance; the
# transaction tells instances apart even where ids start again (a database made anew, a sequence
# reset).
INSTANCE_XMIN = "b.xmin::text::bigint"


def _cover_ctes(g: Grain, i: str) -> str:
    """``cover_<i>``: the blocks read for [lo_<i>, hi_<i>) (start, length, windowed, and the
    instance: ``id``, ``xmin``): the longest window block starting at lo_<i> there (a standard
    period's closed units summed ahead: ``observability.windows``), then, after it, the longest
    aligned blocks present; ``covered_<i>``: the units they hold; ``uncovered_<i>``: the others,
    read from the rollups."""
    after = f"(SELECT coalesce(max(start + {g.interval('length')}), %(lo_{i})s) FROM window_{i})"

    def inside(b):  # (the bound on the start alone keeps the index scan to the segment)
        return (
            f"{b}.{g.start} >= {after} AND {b}.{g.start} < %(hi_{i})s "
            f"AND {b}.{g.start} + {g.interval(f'{b}.{g.length}')} <= %(hi_{i})s AND NOT {b}.windowed"
        )

    return f"""
    window_{i} AS (
        SELECT b.{g.start} AS start, b.{g.length} AS length, b.id, {INSTANCE_XMIN} AS xmin FROM {g.table} b
        WHERE b.team_id = %(team)s AND b.total AND b.windowed AND b.{g.start} = %(lo_{i})s
          AND b.{g.start} + {g.interval(f"b.{g.length}")} <= %(hi_{i})s
        ORDER BY b.{g.length} DESC LIMIT 1
    ),
    cover_{i} AS (
        SELECT start, length, true AS windowed, id, xmin FROM window_{i}
        UNION ALL
        SELECT b.{g.start}, b.{g.length}, false, b.id, {INSTANCE_XMIN} FROM {g.table} b
        WHERE b.team_id = %(team)s AND b.total AND {inside("b")}
          AND NOT EXISTS (SELECT 1 FROM {g.table} c
                          WHERE c.team_id = b.team_id AND c.total AND {inside("c")} AND c.{g.length} > b.{g.length}
                            AND c.{g.start} <= b.{g.start}
                            AND c.{g.start} + {g.interval(f"c.{g.length}")} > b.{g.start})
    ),
    covered_{i} AS (
        SELECT generate_series(start, start + {g.interval("length - 1")}, interval '1 {g.unit}') AS bucket
        FROM cover_{i}
    ),
    uncovered_{i} AS (
        SELECT generate_series(%(lo_{i})s::timestamptz, %(hi_{i})s::timestamptz - interval '1 {g.unit}',
                               interval '1 {g.unit}') AS bucket
        EXCEPT SELECT bucket FROM covered_{i}
    )"""


@dataclass
class _Read:
    """The rows of a period shaped alike (agent_name, model, version, time, first_seen, last_seen
    and the sums of a block): ``rest`` from the rollups, ``blocks(...)`` from the blocks."""

    parts: list[tuple[Grain, str]]
    rest: str
    params: dict
    filters: str = ""
    ctes: list[str] = field(default_factory=list)

    def blocks(self, *, scope: str, time: str, series: bool = False) -> str:
        """The block rows of ``scope`` (SQL over a block row: total or not): the cover blocks, or
        (``series``) the blocks of one unit inside them, a row per day or hour."""
        selects = []
        for g, i in self.parts:
            # ``= ANY(ARRAY(...))``: index conditions on (team, start), whatever the planner thinks of the CTEs.
            if series:
                which = f"{g.length} = 1 AND {g.start} = ANY(ARRAY(SELECT bucket FROM covered_{i}))"
            else:
                which = (
                    f"{g.start} = ANY(ARRAY(SELECT start FROM cover_{i})) "
                    f"AND ({g.start}, {g.length}, windowed) IN (SELECT start, length, windowed FROM cover_{i})"
                )
            selects.append(
                f"SELECT agent_name, model, version, {time} AS time, first_seen, last_seen, {SUMS} "
                f"FROM (SELECT *, {g.start} AS bucket FROM {g.table} "
                f"WHERE team_id = %(team)s AND {scope}{self.filters} AND {which}) b"
            )
        return " UNION ALL ".join(selects)

    def cover(self, tag: str) -> str:
        """The blocks the period reads, a row each: ``tag`` (SQL), the block table, and the ``id``
        and ``xmin`` of its total row (``block_sums.known_ctes`` names an instance by them)."""
        return " UNION ALL ".join(
            f"SELECT {tag} AS tag, '{g.table}' AS tbl, id, xmin FROM cover_{i}" for g, i in self.parts
        )

    def rows(self, *, scope: str, time: str = "bucket") -> str:
        """All the rows of the period: the rollups' and the blocks' of ``scope``."""
        return f"{self.rest} UNION ALL {self.blocks(scope=scope, time=time)}" if self.parts else self.rest


def with_blocks(team, start, end, *, time_bucket=None, agent=None, model=None, name="") -> _Read:
    """How [start, end) is read with blocks (``parts`` is empty when none can serve it: raw
    bounds, minutes). ``name`` prefixes the names of parameters and CTEs (two periods in one
    statement)."""
    parts = [
        (GRAINS[table], f"{name}{n}")
        for n, (table, _, _) in enumerate(_segments(start, end, time_bucket))
        if table in GRAINS
    ]
    union, params = _where(
        team, start, end, agent=agent, model=model, time_bucket=time_bucket, blocks=GRAINS, name=name
    )
    filters = "".join(
        f" AND {column} = %({column})s" for column, value in (("agent_name", agent), ("model", model)) if value
    )
    time = _time_expr(time_bucket) if time_bucket else "bucket"
    rest = f"""
        SELECT agent_name, model, version, {time} AS time, bucket AS first_seen, bucket AS last_seen, executions,
               CASE WHEN status = 'success' THEN executions ELSE 0 END AS successes, duration_sum_ms,
               duration_max_ms, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost,
               unpriced, hist
        FROM ({union}) u
    """
    return _Read(parts, rest, params, filters, [_cover_ctes(g, i) for g, i in parts])


def block_rows(*, team, start, end, group_by=(), agent=None, model=None, with_hist=True) -> list[dict] | None:
    """``rollup_rows`` grouped by any of agent, model and version (no status or time), with the
    closed days and hours of [start, end) read from blocks; None when no block can serve the
    period (the caller reads the rollups)."""
    if not set(group_by) <= {"agent", "model", "version"}:
        return None
    read = with_blocks(team, start, end, agent=agent, model=model)
    if not read.parts:
        return None
    # Totals of an unfiltered period from the team's total rows; anything else from the agent rows.
    scope = "NOT total" if group_by or agent or model else "total"
    keys = [{"agent": "agent_name AS agent", "model": "model", "version": "version"}[name] for name in group_by]
    select_keys = "".join(f"{key}, " for key in keys)
    group_clause = ("GROUP BY " + ", ".join(str(i) for i in range(1, len(keys) + 1))) if keys else ""
    hist = f", {HIST_ARRAY}" if with_hist else ""
    sql = f"""
        WITH {", ".join(read.ctes)}
        SELECT {select_keys}{AGGREGATES}{hist}
        FROM ({read.rows(scope=scope)}) a
        {group_clause}
    """
    rows = fetch_rows(sql, read.params, binary=True)
    return [_row(record, keys=group_by) for record in rows if record["executions"] is not None]


def block_agent_model_and_series(
    *, team, start, end, time_bucket, agent=None, model=None, status=None, hist_agents: int | None = None
):
    """``rollup_agent_model_and_series`` with the closed days and hours of the period read from
    blocks: the same rows, in one statement; None when no block can serve the period (a status
    filter needs the status column). ``hist_agents``: only the rows of the first that many agents,
    busiest first (then by name, in code point order as Python sorts), come with their histogram;
    the others' ``hist`` is None (a page that shows the figures of 50 agents of 200 sums the
    134 buckets of a quarter of the rows)."""
    if status:
        return None
    read = with_blocks(team, start, end, time_bucket=time_bucket, agent=agent, model=model)
    if not read.parts:
        return None
    time = _time_expr(time_bucket)
    # The series of an unfiltered dashboard reads the total rows; a filtered one its agent rows.
    series_scope = "NOT total" if read.filters else "total"
    agent_rows = f"SELECT * FROM rest UNION ALL {read.blocks(scope='NOT total', time=time)}"
    ctes = [*read.ctes, f"rest AS MATERIALIZED ({read.rest})"]
    keys = "agent_name AS agent, model, NULL::timestamptz AS time, 1 AS grouping"
    if hist_agents is None:
        by_agent_model = f"SELECT {keys}, {AGGREGATES}, {HIST_ARRAY} FROM ({agent_rows}) a GROUP BY agent_name, model"
    else:
        # The agents ranked as ``dashboard`` ranks them; the histograms of the others are not summed.
        ctes += [
            f"a AS MATERIALIZED ({agent_rows})",
            'shown AS (SELECT agent_name FROM a GROUP BY 1 ORDER BY sum(executions) DESC, agent_name COLLATE "C" '
            "LIMIT %(hist_agents)s::bigint)",
        ]
        by_agent_model = f"""
            SELECT {keys}, {AGGREGATES}, {HIST_ARRAY} FROM a
            WHERE agent_name IN (SELECT agent_name FROM shown) GROUP BY agent_name, model
            UNION ALL
            SELECT {keys}, {AGGREGATES}, NULL FROM a
            WHERE agent_name NOT IN (SELECT agent_name FROM shown) GROUP BY agent_name, model"""
        read.params["hist_agents"] = hist_agents
    sql = f"""
        WITH {", ".join(ctes)}
        {by_agent_model}
        UNION ALL
        SELECT NULL, NULL, time, 0, {AGGREGATES}, {HIST_ARRAY}
        FROM (SELECT * FROM rest UNION ALL {read.blocks(scope=series_scope, time=time, series=True)}) t
        GROUP BY time
    """
    by_agent_model, series = [], []
    for record in fetch_rows(sql, read.params, binary=True):
        if record["grouping"] == 1:
            by_agent_model.append(_row(record, keys=("agent", "model")))
        else:
            series.append(_row(record, keys=("time",)))
    return by_agent_model, series
