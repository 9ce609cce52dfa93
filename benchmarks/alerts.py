"""Benchmark: one minute tick of alert evaluation for a team with 1,000 rules, beside a plain SQL
aggregate of the same windows over the raw executions, measured in the same run.

1. Worker seconds per tick: ``alerts.services.alerts_evaluate_team`` (what the periodic job runs for
   each team every minute): one read of the hourly rollups plus the raw edges of every window,
   then 1,000 rules judged and their state written, in one transaction.
2. Reference: for every window the rules use, one ``GROUP BY agent`` over the raw executions of the
   window computing the same figures (count, errors, ``percentile_cont`` p95/p99, cost, tokens,
   unpriced); what evaluating without rollups would cost.

    CRUCIBLE_DB_NAME=bench_alerts .venv/bin/python benchmarks/alerts.py                 # 1,000,000 executions
    CRUCIBLE_DB_NAME=bench_alerts .venv/bin/python benchmarks/alerts.py --full          # 10,000,000 (README)

Executions are spread over the last 30 days (200 agents, 4 models); rollups are built with
``rollups_rebuild``. Drop the database afterwards (``DROP DATABASE bench_alerts``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_alerts")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_alerts.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from alerts import services as alerts  # noqa: E402
from alerts.models import WINDOW_CHOICES, AlertRule, Metric  # noqa: E402
from crucible import services as core  # noqa: E402
from crucible.models import Team  # noqa: E402
from observability import services as observability  # noqa: E402

AGENTS = 200
DAYS = 30
GENERATE_SQL = """
INSERT INTO observability_execution (team_id, client_id, agent_name, version, model, operation, source, trace_id, span_id,
    started_at, duration_ms, status, error_type, error_message, input_tokens, output_tokens, cached_input_tokens,
    reasoning_tokens, cost, cost_source, quality, received_at)
SELECT %(team)s, 'g-' || g, 'agent-' || lpad((g %% 200)::text, 3, '0'), '1.0.0',
       (ARRAY['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash'])[1 + (g %% 200) %% 4], '', 'api', '', '',
       %(end)s - random() * interval '30 days',
       exp(6.5 + (g %% 200) / 100.0 + 0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())),
       CASE WHEN random() < 0.03 THEN 'error' ELSE 'success' END, '', '',
       i, o, 0, 0, CASE WHEN g %% 50 = 0 THEN NULL ELSE round((i * 2.5 + o * 10) / 1000000.0, 8) END,
       'price', CASE WHEN g %% 3 = 0 THEN 50 + random() * 50 END, now()
FROM (SELECT g, (200 + random() * 8000)::bigint AS i, (50 + random() * 2000)::bigint AS o
      FROM generate_series(%(lo)s, %(hi)s) AS g) s
"""
RAW_SQL = """
SELECT agent_name, count(*) AS n, count(*) FILTER (WHERE status = 'error') AS errors,
       percentile_cont(ARRAY[0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms) AS pct,
       sum(cost) AS cost, sum(input_tokens + output_tokens) AS tokens, count(*) FILTER (WHERE cost IS NULL) AS unpriced,
       avg(quality) AS quality
FROM observability_execution WHERE team_id = %(team)s AND started_at >= %(start)s AND started_at < %(end)s
GROUP BY agent_name
"""


def team_named(slug: str) -> Team:
    return Team.objects.filter(slug=slug).first() or core.team_create(name=slug, slug=slug)


def generate(team: Team, n_rows: int) -> None:
    with connection.cursor() as cursor:
        for table in ("observability_execution", "observability_hourlyrollup", "observability_dailyrollup",
                      "observability_errorrollup"):  # fmt: skip
            cursor.execute(f"DELETE FROM {table} WHERE team_id = %s", [team.pk])
    end = timezone.now() - dt.timedelta(minutes=2)
    print(f"  generating {n_rows:,} executions of {AGENTS} agents over {DAYS} days ...", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        for lo in range(1, n_rows + 1, 1_000_000):
            hi = min(n_rows, lo + 999_999)
            cursor.execute(GENERATE_SQL, {"team": team.pk, "end": end, "lo": lo, "hi": hi})
            print(f"    {hi:,}", flush=True)
        cursor.execute("ANALYZE observability_execution")
    print("  rebuilding rollups ...", flush=True)
    observability.rollups_rebuild(start=end - dt.timedelta(days=DAYS + 1), end=end + dt.timedelta(days=1), team=team)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE observability_hourlyrollup")


def make_rules(team: Team, n_rules: int) -> None:
    AlertRule.objects.filter(team=team).delete()
    combos = itertools.cycle(itertools.product(Metric.values, [m for m, _ in WINDOW_CHOICES]))
    rules = []
    for i in range(n_rules):
        metric, window = next(combos)
        agent = "" if i % 10 == 0 else f"agent-{i % AGENTS:03d}"
        rules.append(
            AlertRule(
                team=team,
                name=f"rule {i}",
                metric=metric,
                window_minutes=window,
                agent_name=agent,
                warning_threshold=1e12,
                critical_threshold=1e13,
                pending_minutes=0,
            )  # fmt: skip
        )
    AlertRule.objects.bulk_create(rules)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--full", action="store_true", help="10,000,000 executions")
    parser.add_argument("--executions", type=int, default=None)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    n_rows = args.executions or (10_000_000 if args.full else 1_000_000)
    call_command("migrate", verbosity=0)
    team = team_named("bench-alerts")
    from observability.models import Execution

    if Execution.objects.filter(team=team).count() != n_rows or args.regenerate:
        generate(team, n_rows)
    make_rules(team, args.rules)
    windows = sorted({m for m, _ in WINDOW_CHOICES})
    base = alerts.tick_of(timezone.now())
    worker, plain = [], []
    for k in range(args.repeats):
        tick = base + dt.timedelta(minutes=k)  # a new minute each time, as the periodic job sees
        start = time.perf_counter()
        alerts.alerts_evaluate_team(team=team, tick=tick)
        worker.append(time.perf_counter() - start)
        start = time.perf_counter()
        with connection.cursor() as cursor:
            for minutes in windows:
                cursor.execute(RAW_SQL, {"team": team.pk, "start": tick - dt.timedelta(minutes=minutes), "end": tick})
                cursor.fetchall()
        plain.append(time.perf_counter() - start)
    print(f"\n{n_rows:,} executions, {args.rules:,} rules, {len(windows)} windows (5 min .. 1 day)")
    print(f"  worker seconds per tick (alerts_evaluate_team):  median {statistics.median(worker):.3f} s, "
          f"max {max(worker):.3f} s")  # fmt: skip
    print(f"  plain SQL over raw rows, same windows per agent:  median {statistics.median(plain):.3f} s, "
          f"max {max(plain):.3f} s")  # fmt: skip


if __name__ == "__main__":
    main()
