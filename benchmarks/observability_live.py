"""Benchmark: the minute-bucket live view of a busy team, beside a plain SQL aggregate measured in
the same run on the same rows.

A busy team: N executions in the last hour (default 100,000, about 28 a second) of 200 agents, on
top of older rows of the same team (default 1,000,000 over the week before), so the index has to
find the hour among them. Timed, median and p95 of ``--repeats`` runs after a warm-up:

1. the live page and its fragment (what live.js fetches) over the last hour and 15 minutes, read
   from the minute rollups (rebuilt from the generated rows first, as ingest would have written
   them), and with an agent filter (raw rows); the dashboard API over the same windows
   (``GET /api/v1/observability/dashboard/?range=1h``: per-agent figures, so raw rows);
2. the references: one plain SQL aggregate over the raw rows of the hour, per minute (count,
   errors, ``percentile_cont(0.95)``, cost), i.e. the least any minute chart must read; and the
   floor of a page in the same run (the sessions page matching nothing: session, login, team and
   one indexed query through the same middleware and base template).

    CRUCIBLE_DB_NAME=bench_observability .venv/bin/python benchmarks/observability_live.py
    CRUCIBLE_DB_NAME=bench_observability .venv/bin/python benchmarks/observability_live.py --hour-rows 300000

Goal: the live view of the busy team within 50 ms. Drop the database afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_observability")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_observability.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from crucible import services as core  # noqa: E402
from crucible.models import Team  # noqa: E402
from observability.minutes import minute_rollups_rebuild  # noqa: E402

TEAM = "bench-live"
GENERATE_SQL = """
INSERT INTO observability_execution (team_id, client_id, agent_name, version, model, operation, source, trace_id,
    span_id, started_at, duration_ms, status, error_type, error_message, input_tokens, output_tokens,
    cached_input_tokens, reasoning_tokens, cost, cost_source, received_at)
SELECT %(team)s, %(prefix)s || g, 'agent-' || lpad((g %% 200)::text, 3, '0'), '1.0.0',
       (ARRAY['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4-5', 'gemini-2.5-flash'])[1 + (g %% 200) %% 4], '', 'api',
       '', '', %(end)s - random() * %(span)s::interval,
       exp(6.5 + 0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())),
       CASE WHEN random() < 0.03 THEN 'error' ELSE 'success' END, '', '', 1000, 200, 250, 0, 0.004, 'price', now()
FROM generate_series(1, %(n)s) AS g
"""
REFERENCE_SQL = """
SELECT date_bin('1 minute', started_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS minute, count(*) AS executions,
       count(*) FILTER (WHERE status = 'error') AS errors,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95, sum(cost) AS cost
FROM observability_execution
WHERE team_id = %(team)s AND started_at >= now() - interval '1 hour'
GROUP BY 1
"""


def generate(team: Team, hour_rows: int, old_rows: int, regenerate: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM observability_execution WHERE team_id = %s AND started_at >= now() - interval '1 hour'",
            [team.pk],
        )
        if cursor.fetchone()[0] >= hour_rows * 0.9 and not regenerate:
            return
        cursor.execute("DELETE FROM observability_execution WHERE team_id = %s", [team.pk])
        cursor.execute("SET synchronous_commit = off")
        now = timezone.now()
        print(f"  generating {hour_rows:,} executions in the last hour, {old_rows:,} in the week before ...")
        cursor.execute(GENERATE_SQL, {"team": team.pk, "prefix": "h-", "end": now, "span": "1 hour", "n": hour_rows})
        cursor.execute(
            GENERATE_SQL,
            {
                "team": team.pk,
                "prefix": "w-",
                "end": now - timezone.timedelta(hours=1),
                "span": "7 days",
                "n": old_rows,
            },
        )
        cursor.execute("VACUUM ANALYZE observability_execution")  # the DELETE above left dead rows


def timed(call, repeats: int) -> tuple[float, float]:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hour-rows", type=int, default=100_000, help="executions in the last hour")
    parser.add_argument("--old-rows", type=int, default=1_000_000, help="executions in the week before it")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    team = Team.objects.filter(slug=TEAM).first() or core.team_create(name=TEAM, slug=TEAM)
    # Pages link static files by name without a collectstatic run (as benchmarks/traces_read.py).
    override_settings(
        STORAGES={**settings.STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}}
    ).enable()
    generate(team, args.hour_rows, args.old_rows, args.regenerate)
    # The rows were generated straight into the table: write their minute rollups as ingest would.
    now = timezone.now()
    minute_rollups_rebuild(start=now - timezone.timedelta(hours=2), end=now + timezone.timedelta(minutes=1), team=team)
    _, raw_key = core.api_key_create(team=team, name="bench")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    user = get_user_model().objects.filter(username="bench-live").first()
    if user is None:
        user = get_user_model().objects.create_user("bench-live", password="x")
        core.membership_set(team=team, user=user, role="owner")
    page = Client()
    page.force_login(user)

    def get(client, url):
        def call():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return call

    def reference():
        with connection.cursor() as cursor:
            cursor.execute(REFERENCE_SQL, {"team": team.pk})
            cursor.fetchall()

    print(f"database {DB_NAME}; a team with {args.hour_rows:,} executions in the last hour; median / p95 ms")
    rows = [
        ("plain SQL per-minute aggregate, 1 hour", reference),
        ("floor: a page without data (sessions, no match)", get(page, "/observability/sessions/?user=nobody")),
        ("dashboard API, range=1h (minutes)", get(api, "/api/v1/observability/dashboard/?range=1h")),
        ("live fragment, last hour", get(page, "/observability/live/?range=1h&fragment=1")),
        ("dashboard API, range=15m", get(api, "/api/v1/observability/dashboard/?range=15m")),
        ("live fragment, last 15 minutes", get(page, "/observability/live/?range=15m&fragment=1")),
        ("live page, last hour (whole page)", get(page, "/observability/live/?range=1h")),
        (
            "live fragment, last hour, one agent (raw)",
            get(page, "/observability/live/?range=1h&fragment=1&agent=agent-007"),
        ),
    ]
    reference_median = None
    for label, call in rows:
        median, p95 = timed(call, args.repeats)
        reference_median = reference_median or median
        print(
            f"  {label:<42} {median:>8.1f} / {p95:>8.1f}   = {median / reference_median:.2f} x the SQL (goal <= 50 ms)"
        )


if __name__ == "__main__":
    main()
