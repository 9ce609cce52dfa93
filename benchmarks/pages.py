"""Benchmark: every main page, in-process (Django's test client: the whole middleware stack, the
view, the template), beside a minimal Django view rendering a small template through the same
stack, measured interleaved in the same run.

It reads whatever a benchmark database holds for one team (``--team``, default the 10,000,000
executions of ``bench-big`` from ``benchmarks/observability.py``), as a user who is the team's
owner (created once), after bringing every hour since the generated data up to ``--live``
executions through the ingest service and running the worker's block job (``live_until_now``:
the open hour's rollup rows, which no block holds, are part of every page's read on a team with
traffic, and a running worker keeps the closed hours in blocks; a database generated hours ago
has neither). Pages that need an object (an agent, a version, a trace, an experiment, a
build) use the team's newest one and are skipped when there is none. Prints median and p95 of
``--repeats`` runs per page after a warm-up, the queries each page ran, and the ratio of its
median to the reference's median.

    CRUCIBLE_DB_NAME=bench_observability .venv/bin/python benchmarks/pages.py --team bench-big
    CRUCIBLE_DB_NAME=bench_observability .venv/bin/python benchmarks/pages.py --quick   # CI-sized: 5 runs

Goal (issue 16): every page <= 30 ms, with a query count that does not grow with the data (pinned
by tests/hardening/test_page_query_budgets.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_observability")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_observability.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")

import django  # noqa: E402

django.setup()

from _live import live_until_now  # noqa: E402
from _reference import minimal_page_url  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from crucible import services as core  # noqa: E402
from crucible.heap import freeze_loaded_heap  # noqa: E402
from crucible.models import Role, Team  # noqa: E402
from observability.selectors import block_sums  # noqa: E402


def pages(team: Team) -> dict[str, str]:
    from improvement.models import Experiment
    from marketplace.models import Agent
    from observability.models import DailyRollup, ErrorRollup, Trace
    from teammemory.models import Build

    found = {
        "home": "/",
        "marketplace browse": "/marketplace/",
        "observability dashboard 24h": "/observability/",
        "observability dashboard 30d": "/observability/?range=30d",
        "observability bottlenecks 7d": "/observability/bottlenecks/?range=7d",
        "observability recommendations": "/observability/recommendations/",
        "observability executions": "/observability/executions/",
        "observability executions slowest": "/observability/executions/?ordering=-duration",
        "observability executions costliest": "/observability/executions/?ordering=-cost",
        "observability traces": "/observability/traces/",
        "observability sessions": "/observability/sessions/",
        "observability live 15m": "/observability/live/?range=15m",
        "observability live fragment 1h": "/observability/live/?range=1h&fragment=1",
        "alerts": "/alerts/",
        "improvement": "/improvement/",
        "teammemory": "/teammemory/",
        "teammemory builds": "/teammemory/builds/",
        "notifications": "/notifications/",
    }
    agent = Agent.objects.filter(team=team).order_by("-pk").first()
    if agent:
        found["marketplace agent"] = f"/marketplace/agents/{agent.pk}/"
        version = agent.versions.order_by("-pk").first()
        if version:
            found["marketplace version"] = f"/marketplace/agents/{agent.pk}/versions/{version.pk}/"
    rollup = DailyRollup.objects.filter(team=team).order_by("-bucket").first()
    if rollup:
        found["observability agent"] = f"/observability/agents/{rollup.agent_name}/"
        found["observability agent slowest"] = (
            f"/observability/executions/?agent={rollup.agent_name}&ordering=-duration"
        )
    error_type = (
        ErrorRollup.objects.filter(team=team)
        .exclude(error_type="")
        .order_by("-bucket")
        .values_list("error_type", flat=True)
        .first()
    )
    if error_type:
        found["observability executions by error type"] = (
            f"/observability/executions/?{urlencode({'error_type': error_type})}"
        )
    trace = Trace.objects.filter(team=team).order_by("-started_at").first()
    if trace:
        found["observability trace"] = f"/observability/traces/{trace.trace_id}/"
        found["observability traces slowest"] = "/observability/traces/?ordering=-duration"
        found["observability traces most errors"] = "/observability/traces/?ordering=-errors"
    experiment = Experiment.objects.filter(team=team).order_by("-pk").first()
    if experiment:
        found["improvement report"] = f"/improvement/experiments/{experiment.pk}/"
    build = Build.objects.filter(team=team).order_by("-pk").first()
    if build:
        found["teammemory build"] = f"/teammemory/builds/{build.pk}/"
    return found


def timed(client: Client, url: str, cold: bool = False) -> float:
    if cold:  # as the first request after the blocks it covers changed (observability.selectors.block_sums)
        block_sums.CACHE.clear()
    start = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


def count_queries(client: Client, url: str) -> int:
    seen = []

    def counting(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counting):
        timed(client, url)
    return len(seen)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--team", default="bench-big", help="slug of the team whose pages are read")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="5 runs per page")
    parser.add_argument("--only", default="", help="comma-separated page names")
    parser.add_argument(
        "--live",
        type=int,
        default=14_000,
        help="executions per hour from the last generated one to the current one, ingested first if missing, then "
        "the worker's block job run (default 14,000: bench-big's hourly rate; 0: neither)",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help="requests of each page before its measured ones (default 1). A connection prepares a statement on its "
        "run after CRUCIBLE_DB_PREPARE_THRESHOLD (1: the 2nd) and PostgreSQL may settle on a generic plan after 5 "
        "more: 12 measures what a connection reaches after a dozen requests of the page (connections live "
        "CRUCIBLE_DB_CONN_MAX_AGE, 600 s)",
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="empty the process's kept block sums before each request of a page (its first request after its "
        "blocks changed; observability.selectors.block_sums)",
    )
    parser.add_argument(
        "--no-freeze", action="store_true", help="leave the heap unfrozen (the server freezes it: crucible/heap.py)"
    )
    args = parser.parse_args()
    repeats = 5 if args.quick else args.repeats
    call_command("migrate", verbosity=0)
    team = Team.objects.filter(slug=args.team).first()
    if team is None:
        sys.exit(f"No team '{args.team}' in {DB_NAME}: run the benchmark that builds it first.")
    user = get_user_model().objects.filter(username="bench-pages").first() or core.user_create(
        username="bench-pages", password="bench-pages-pw-1"
    )
    core.membership_set(team=team, user=user, role=Role.OWNER)
    # Pages link static files by name without a collectstatic run (as benchmarks/traces_read.py).
    override_settings(
        STORAGES={**settings.STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}}
    ).enable()
    if args.live:
        added, hours = live_until_now(team, args.live)
        print(
            f"live stream: {added:,} executions ingested into {hours} hour(s) up to now; blocks compacted, windows built"
        )
    minimal_url = minimal_page_url()  # the minimal template view (benchmarks/_reference.py)
    if not args.no_freeze:
        freeze_loaded_heap()  # as the server does when a process starts (crucible.asgi)
    client = Client()
    client.force_login(user)
    client.post("/teams/switch/", {"team": team.pk})  # the bench user may belong to other bench teams
    chosen = pages(team)
    if args.only:
        chosen = {name: url for name, url in chosen.items() if name in args.only.split(",")}
    frozen = "unfrozen heap" if args.no_freeze else "heap frozen at start-up as the server does"
    if args.cold:
        frozen += "; kept block sums emptied before each request"
    print(
        f"database {DB_NAME}, team {team.slug}; {repeats} runs per page after {args.warmup} warm-up request(s), "
        f"interleaved; {frozen}"
    )
    print(f"{'page':34} {'median ms':>10} {'p95 ms':>8} {'queries':>8} {'x reference':>12}")
    for name, url in chosen.items():
        for _ in range(args.warmup):
            timed(client, url)
        timed(client, minimal_url)
        queries = count_queries(client, url)
        figure, reference = [], []
        for _ in range(repeats):
            reference.append(timed(client, minimal_url))
            figure.append(timed(client, url, cold=args.cold))
        median, ref_median = statistics.median(figure) * 1000, statistics.median(reference) * 1000
        print(
            f"{name:34} {median:>10.1f} {p95(figure) * 1000:>8.1f} {queries:>8} {median / ref_median:>11.1f}x"
            f"   (reference {ref_median:.1f} ms)",
            flush=True,
        )


if __name__ == "__main__":
    main()
