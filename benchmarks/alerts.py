"""Benchmark: one minute tick of alert evaluation for a team with 1,000 rules, beside its floor, a
plain SQL aggregate of the same windows over the raw executions, measured in the same run.

1. Worker seconds per tick: ``alerts.services.alerts_evaluate_team`` (what the periodic job runs for
   each team every minute): one statement reading the hourly rollups for the windows' whole hours
   and the minute rollups for their edges (quality included), then 1,000 rules judged and their
   state written, in one transaction.
   Printed with its part spent reading the figures (``rule_readings``) and per rule.
2. Reference (the floor, from outside our code): the same figures from the raw executions of each
   window, one plain ``GROUP BY agent`` with ``percentile_cont`` per window: what evaluating costs
   with nothing but the table the events are in.
3. For scale, not a floor (it reads our own rollups): for every window the rules use, one plain
   ``GROUP BY agent`` over the hourly rollups that cover it (whole hours, rounded outward), summing
   the same columns and the duration histogram: what reading rollups costs at all.

All three are interleaved in each repeat (ticks at minutes spread over the hour, just after the
data ends), with the machine's load average printed.

    CRUCIBLE_DB_NAME=bench_alerts .venv/bin/python benchmarks/alerts.py --quick         # 100,000 executions, 100 rules
    CRUCIBLE_DB_NAME=bench_alerts .venv/bin/python benchmarks/alerts.py                 # 1,000,000 executions
    CRUCIBLE_DB_NAME=bench_alerts .venv/bin/python benchmarks/alerts.py --full          # 10,000,000 (README)

Executions are spread over the last 30 days (200 agents, 4 models), generated in SQL
(``INSERT ... SELECT generate_series``, 1,000,000 rows a statement); rollups are built from them
in SQL with ``rollups_rebuild`` (10,000,000 rows: 48 minutes on the shared machine at load 20). Drop the database afterwards (``DROP DATABASE bench_alerts``).
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
from alerts.services.evaluation import rule_readings  # noqa: E402
from crucible import periods  # noqa: E402
from crucible import services as core  # noqa: E402
from crucible.models import Team  # noqa: E402
from observability import histogram  # noqa: E402
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
      FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g) s
"""
RAW_SQL = """
SELECT agent_name, count(*) AS n, count(*) FILTER (WHERE status = 'error') AS errors,
       percentile_cont(ARRAY[0.95, 0.99]) WITHIN GROUP (ORDER BY duration_ms) AS pct,
       sum(cost) AS cost, sum(input_tokens + output_tokens) AS tokens, count(*) FILTER (WHERE cost IS NULL) AS unpriced,
       avg(quality) AS quality
FROM observability_execution WHERE team_id = %(team)s AND started_at >= %(start)s AND started_at < %(end)s
GROUP BY agent_name
"""


# For scale (our own rollups, so not a floor): the hourly rollups covering a window, summed per
# agent with their histograms.
ROLLUP_SQL = f"""
SELECT agent_name, sum(executions) AS n, sum(executions) FILTER (WHERE status = 'error') AS errors,
       sum(cost) AS cost, sum(input_tokens + output_tokens) AS tokens, sum(unpriced) AS unpriced,
       {histogram.SUMS_SQL} AS hist
FROM observability_hourlyrollup WHERE team_id = %(team)s AND bucket >= %(start)s AND bucket < %(end)s
GROUP BY agent_name
"""


def team_named(slug: str) -> Team:
    return Team.objects.filter(slug=slug).first() or core.team_create(name=slug, slug=slug)


TABLES = ("observability_execution", "observability_hourlyrollup", "observability_dailyrollup",
          "observability_errorrollup", "observability_minuterollup")  # fmt: skip


def generate(team: Team, n_rows: int) -> None:
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM observability_execution WHERE team_id <> %s)", [team.pk])
        alone = not cursor.fetchone()[0]
        for table in TABLES:  # the benchmark's database holds this team alone: truncating is instant
            if alone:
                cursor.execute(f"TRUNCATE {table}")
            else:
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
    print(f"  rebuilding rollups (from the raw rows, in SQL) ... [{time.perf_counter() - began:.0f} s]", flush=True)
    observability.rollups_rebuild(start=end - dt.timedelta(days=DAYS + 1), end=end + dt.timedelta(days=1), team=team)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE observability_hourlyrollup")
        cursor.execute("ANALYZE observability_minuterollup")
    print(f"  generated in {time.perf_counter() - began:.0f} s", flush=True)


def make_rules(team: Team, n_rules: int) -> None:
    AlertRule.objects.filter(team=team).delete()
    # Guardrail breaches are read from the improvement app (two small queries per team, whatever
    # the executions): left out here, this measures the execution metrics.
    metrics = [m for m in Metric.values if m != Metric.GUARDRAIL_BREACHES]
    combos = itertools.cycle(itertools.product(metrics, [m for m, _ in WINDOW_CHOICES]))
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
    parser.add_argument("--quick", action="store_true", help="100,000 executions and 100 rules (CI-sized)")
    parser.add_argument("--executions", type=int, default=None)
    parser.add_argument("--rules", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    n_rows = args.executions or (10_000_000 if args.full else 100_000 if args.quick else 1_000_000)
    args.rules = args.rules or (100 if args.quick else 1000)
    call_command("migrate", verbosity=0)
    team = team_named("bench-alerts")
    from observability.models import Execution

    if Execution.objects.filter(team=team).count() != n_rows or args.regenerate:
        generate(team, n_rows)
    make_rules(team, args.rules)
    windows = sorted({m for m, _ in WINDOW_CHOICES})
    rules = list(AlertRule.objects.filter(team=team).order_by("pk"))
    # Ticks just after the generated data ends, at minutes spread over the hour (the edges' length
    # depends on the tick's minute), walking back 13 minutes each repeat.
    last = Execution.objects.filter(team=team).order_by("-started_at").values_list("started_at", flat=True).first()
    base = alerts.tick_of(last) + dt.timedelta(minutes=1)
    worker, reading, floor, raw = [], [], [], []
    for k in range(args.repeats):
        tick = base - dt.timedelta(minutes=13 * k)
        AlertRule.objects.filter(team=team).update(last_tick=None)  # judged afresh at this tick
        start = time.perf_counter()
        alerts.alerts_evaluate_team(team=team, tick=tick)
        worker.append(time.perf_counter() - start)
        start = time.perf_counter()
        rule_readings(team, rules, tick)
        reading.append(time.perf_counter() - start)
        start = time.perf_counter()
        with connection.cursor() as cursor:
            for minutes in windows:
                lo = periods.floor(tick - dt.timedelta(minutes=minutes), "hour")
                cursor.execute(ROLLUP_SQL, {"team": team.pk, "start": lo, "end": periods.ceil(tick, "hour")})
                cursor.fetchall()
        floor.append(time.perf_counter() - start)
        start = time.perf_counter()
        with connection.cursor() as cursor:
            for minutes in windows:
                cursor.execute(RAW_SQL, {"team": team.pk, "start": tick - dt.timedelta(minutes=minutes), "end": tick})
                cursor.fetchall()
        raw.append(time.perf_counter() - start)
    median = statistics.median
    print(
        f"\n{n_rows:,} executions, {args.rules:,} rules, {len(windows)} windows (5 min .. 1 day), {args.repeats} repeats"
    )
    print(f"  worker seconds per tick (alerts_evaluate_team):  median {median(worker):.3f} s, max {max(worker):.3f} s, "
          f"{median(worker) / args.rules * 1000:.2f} ms per rule")  # fmt: skip
    print(f"    of which reading the figures (rule_readings):   median {median(reading):.3f} s")
    print(f"  floor: plain SQL over the raw rows, same windows per agent:  median {median(raw):.3f} s, "
          f"max {max(raw):.3f} s (the tick is {median(worker) / median(raw):.2f}x it)")  # fmt: skip
    print(f"  for scale, plain SQL over our hourly rollups, same windows per agent:  median {median(floor):.3f} s "
          f"(the tick is {median(worker) / median(floor):.1f}x it)")  # fmt: skip
    print(f"  machine load (1, 5, 15 min): {os.getloadavg()}")


if __name__ == "__main__":
    main()
