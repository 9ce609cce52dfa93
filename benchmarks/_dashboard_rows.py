"""The dashboard benchmark's data (``benchmarks/observability.py``): ``n_rows`` executions of one
team generated in SQL over 30 days, their rollups and blocks, and the plain SQL aggregates over the
raw rows that the dashboard is compared with. Import after ``django.setup()``."""

from __future__ import annotations

import datetime as dt
import time

from django.db import connection
from django.utils import timezone

from crucible.models import Team
from observability import selectors, services
from observability.models import Execution
from observability.windows import blocks_refresh

AGENTS = 200

# Rows are written in the order live ingest writes them: a run arrives when it ends, so the table
# holds them by end time, and ``id`` follows it. Each ``g`` has its own slot of the 29 days (a
# random start within it), so a chunk of ``g`` is a stretch of time. Runs written in a random order
# of time (as this generator did before session 35) make every read that walks an index by start
# time visit pages all over the table.
GENERATE_SQL = """
INSERT INTO observability_execution (team_id, client_id, agent_name, version, model, operation, source, trace_id, span_id,
    started_at, duration_ms, status, error_type, error_message, input_tokens, output_tokens, cached_input_tokens,
    reasoning_tokens, cost, cost_source, received_at)
SELECT %(team)s, 'g-' || g, 'agent-' || lpad((g %% 200)::text, 3, '0'),
       CASE WHEN g %% 5 = 0 AND t > %(end)s - interval '10 days' THEN '1.1.0' ELSE '1.0.0' END,
       (ARRAY['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash'])[1 + (g %% 200) %% 4], '', 'api', '', '',
       t, d,
       CASE WHEN random() < 0.03 THEN 'error' ELSE 'success' END, '', '',
       i, o, i / 4, 0, round((i * 2.5 + o * 10) / 1000000.0, 8), 'price', now()
FROM (SELECT g, (200 + random() * 8000)::bigint AS i, (50 + random() * 2000)::bigint AS o,
             %(end)s - interval '29 days' + (g - 1 + random()) / %(n)s * interval '29 days' AS t,
             exp(6.5 + (g %% 200) / 100.0 + 0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS d
      FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g) s
ORDER BY t + d * interval '1 millisecond'
"""

RAW_AGENTS_SQL = """
SELECT agent_name, count(*), count(*) FILTER (WHERE status = 'success'),
       percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms),
       sum(input_tokens), sum(output_tokens), sum(cost), count(*) FILTER (WHERE cost IS NULL)
FROM observability_execution WHERE team_id = %s AND started_at >= %s AND started_at < %s
GROUP BY agent_name
"""
RAW_SERIES_SQL = """
SELECT date_trunc('day', started_at, 'UTC'), count(*), count(*) FILTER (WHERE status = 'error'),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms), sum(cost)
FROM observability_execution WHERE team_id = %s AND started_at >= %s AND started_at < %s
GROUP BY 1
"""


def ensure_rows(team: Team, n_rows: int, regenerate: bool = False) -> dict:
    """``n_rows`` executions of ``team`` in the last 29 days, their rollups and day blocks (kept
    for the next run: generated only when the count differs or ``regenerate``)."""
    period = selectors.time_range("30d")  # rows are generated in its last 29 days, so an hour later they still fit
    # up to now, never after: the 30-day period ends at the end of today, and executions started
    # later in the day would fill hours that have not begun (a real team has none there).
    end = min(period.end, timezone.now())
    timings = {}
    if Execution.objects.filter(team=team).count() != n_rows or regenerate:
        with connection.cursor() as cursor:
            for table in (
                "observability_execution",
                "observability_hourlyrollup",
                "observability_dailyrollup",
                "observability_errorrollup",
            ):
                cursor.execute(f"DELETE FROM {table} WHERE team_id = %s", [team.pk])
        print(f"  generating {n_rows:,} executions of {AGENTS} agents over 30 days for {team.slug} ...", flush=True)
        start = time.perf_counter()
        chunk = 1_000_000
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
            for lo in range(1, n_rows + 1, chunk):
                hi = min(n_rows, lo + chunk - 1)
                cursor.execute(
                    GENERATE_SQL,
                    {"team": team.pk, "end": end - dt.timedelta(seconds=1), "lo": lo, "hi": hi, "n": n_rows},
                )
                print(f"    {hi:,}", flush=True)
            # As autovacuum leaves a table that has stood a while: every page all-visible, so an
            # index-only scan reads no row (a just-written table would fetch each one).
            cursor.execute("VACUUM (ANALYZE) observability_execution")
        timings["generate_s"] = time.perf_counter() - start
        print("  rebuilding rollups (and day blocks) from the raw rows ...", flush=True)
        start = time.perf_counter()
        services.rollups_rebuild(start=period.start - dt.timedelta(days=1), end=period.end, team=team)
        timings["rebuild_s"] = time.perf_counter() - start
    # Days and hours closed since the last run, and the standard periods' windows (the periodic
    # job's work: observability.tasks); nothing when all are done.
    blocks_refresh(team=team)
    with connection.cursor() as cursor:
        for table in (
            "observability_hourlyrollup",
            "observability_dailyrollup",
            "observability_dayblockrollup",
            "observability_hourblockrollup",
        ):
            cursor.execute(f"ANALYZE {table}")
    return timings
