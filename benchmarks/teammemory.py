"""Benchmark: team insights, stack suggestions and recommendations for a team with 1 million builds,
each beside a reference measured in the same run on the same rows.

    CRUCIBLE_DB_NAME=bench_teammemory .venv/bin/python benchmarks/teammemory.py --builds 50000   # quick
    CRUCIBLE_DB_NAME=bench_teammemory .venv/bin/python benchmarks/teammemory.py                  # 1 million

It migrates its own database, fills one team with builds spread over two years (generated inside
PostgreSQL with generate_series: realistic stacks, requirements texts, statuses, quality with a
trend, durations, errors on failed builds and an agent version on every build) unless the team
already has that many, rebuilds the daily rollups from them, runs VACUUM ANALYZE, then times each
read several times and prints the median. Insights and recommendations read the daily rollups (and
the raw builds of the partial days at the range's edges); flaky-stack detection and the suggestion
read bounded windows of raw builds.

References (same rows, same run):
- "plain scan": SELECT count(*), sum(duration_ms), sum(tokens), avg(quality) over exactly the
  builds the insights read: the floor of any query that has to look at every one of them.
- "full-text count": counting the builds whose requirements match the suggestion's text query,
  the floor of any full-text similarity search over them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_teammemory")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_teammemory.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from crucible import services as core  # noqa: E402
from crucible.models import Team  # noqa: E402
from teammemory import conf, rollups, selectors, services  # noqa: E402
from teammemory.models import Build  # noqa: E402

TEAM_SLUG = "bench-teammemory"
SPAN_DAYS = 730

STACKS = [
    # stack json, success odds, duration factor
    ('{"language": "Python", "framework": "Django", "database": "PostgreSQL"}', 0.90, 1.0),
    ('{"language": "Python", "framework": "FastAPI", "database": "Postgres", "hosting": "Fly.io"}', 0.88, 0.8),
    ('{"language": "TypeScript", "framework": "Next.js", "database": "PostgreSQL", "hosting": "Vercel"}', 0.85, 0.9),
    ('{"language": "TypeScript", "framework": "Express", "database": "MongoDB", "frontend": "React"}', 0.80, 0.9),
    ('{"language": "Go", "framework": "Gin", "database": "PostgreSQL", "hosting": "Kubernetes"}', 0.83, 0.7),
    ('{"language": "Ruby", "framework": "Rails", "database": "MySQL", "hosting": "Heroku"}', 0.60, 2.4),
    ('{"language": "Java", "framework": "Spring", "database": "Oracle"}', 0.78, 1.8),
    ('{"language": "C#", "framework": ".NET", "database": "SQL Server", "hosting": "Azure"}', 0.80, 1.5),
]
SUBJECTS = [
    "invoices",
    "payments",
    "inventory",
    "chat messages",
    "user profiles",
    "orders",
    "analytics events",
    "support tickets",
    "product catalogue",
    "shipping labels",
    "blog posts",
    "audit logs",
]
FEATURES = [
    "a REST API",
    "a GraphQL API",
    "background jobs",
    "a React dashboard",
    "PDF export",
    "email reminders",
    "websockets",
    "OAuth login",
    "CSV import",
    "full-text search",
    "webhooks",
    "two-factor codes",
]

QUERY = "An API for invoices and payments with PDF export and email reminders"


def fill(team, builds: int, agent_version_ids: list[int]) -> None:
    import json

    from teammemory.stacks import normalize_stack, stack_components, stack_key

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_stacks (i int, stack jsonb, components varchar[], stack_key text, odds float, factor float)"
        )
        for i, (stack, odds, factor) in enumerate(STACKS):
            normalized = normalize_stack(json.loads(stack))
            cursor.execute(
                "INSERT INTO bench_stacks VALUES (%s, %s, %s, %s, %s, %s)",
                [i, stack, stack_components(normalized), stack_key(normalized), odds, factor],
            )
        cursor.execute("CREATE TEMP TABLE bench_reqs (i int, project text, requirements text)")
        n = 0
        for subject in SUBJECTS:
            for a in range(len(FEATURES)):
                feature_a, feature_b = FEATURES[a], FEATURES[(a * 5 + 3) % len(FEATURES)]
                cursor.execute(
                    "INSERT INTO bench_reqs VALUES (%s, %s, %s)",
                    [
                        n,
                        subject.replace(" ", "-"),
                        f"Build {feature_a} for {subject} with {feature_b}, role-based access and an admin screen",
                    ],
                )
                n += 1
        cursor.execute("SELECT setseed(0.20261125)")
        chunk = 100_000
        start = timezone.now() - dt.timedelta(days=SPAN_DAYS)
        for offset in range(0, builds, chunk):
            size = min(chunk, builds - offset)
            t0 = time.perf_counter()
            cursor.execute(
                """
                INSERT INTO teammemory_build (team_id, client_build_id, project_name, requirements, stack, components,
                    stack_key, status, quality, started_at, finished_at, duration_ms, tokens, cost, created_at)
                SELECT %(team)s, 'bench-' || g, r.project, r.requirements, s.stack, s.components, s.stack_key,
                       x.status,
                       CASE WHEN x.status = 'cancelled' THEN NULL
                            ELSE least(100, greatest(0, round(60 + 20 * g::float / %(n)s + 12 * (x.q - 0.5)
                                 - CASE WHEN x.status = 'failed' THEN 20 ELSE 0 END)))::int END,
                       x.started, x.started + x.duration * interval '1 millisecond', x.duration,
                       x.tokens, round(x.tokens * 0.000004, 6), x.started
                FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g
                -- g is referenced so that PostgreSQL draws new random numbers for every row
                CROSS JOIN LATERAL (SELECT g AS gg, floor(random() * %(stacks)s)::int AS si, floor(random() * %(reqs)s)::int AS ri,
                                           random() AS roll, random() AS q, random() AS d, random() AS t) rnd
                JOIN bench_stacks s ON s.i = rnd.si
                JOIN bench_reqs r ON r.i = rnd.ri
                CROSS JOIN LATERAL (SELECT
                    CASE WHEN rnd.roll < 0.03 THEN 'cancelled' WHEN rnd.roll < 0.03 + 0.97 * s.odds THEN 'succeeded' ELSE 'failed' END AS status,
                    %(start)s::timestamptz + (g::float / %(n)s) * interval '%(span)s days' AS started,
                    (exp(ln(600000) + 0.5 * (rnd.d - 0.5) * 4) * s.factor)::bigint AS duration,
                    (20000 + rnd.t * 80000)::bigint AS tokens, rnd.q) x
                """,
                {
                    "team": team.pk,
                    "n": builds,
                    "lo": offset + 1,
                    "hi": offset + size,
                    "stacks": len(STACKS),
                    "reqs": n,
                    "start": start,
                    "span": SPAN_DAYS,
                },
            )
            print(
                f"  inserted {offset + size:>9,} builds ({time.perf_counter() - t0:.1f} s for this chunk)", flush=True
            )
        cursor.execute(
            """INSERT INTO teammemory_builderror (build_id, error_type, message)
               SELECT id, (ARRAY['TestFailure','DependencyConflict','Timeout','TypeError','MigrationError'])[1 + (id %% 5)],
                      'step failed' FROM teammemory_build WHERE team_id = %s AND status = 'failed'""",
            [team.pk],
        )
        if agent_version_ids:
            cursor.execute(
                """INSERT INTO teammemory_buildagent (build_id, agent_id, agent_version_id)
                   SELECT b.id, v.agent_id, v.id FROM teammemory_build b
                   JOIN marketplace_agentversion v ON v.id = (%s::bigint[])[1 + (b.id %% cardinality(%s::bigint[]))]
                   WHERE b.team_id = %s""",
                [agent_version_ids, agent_version_ids, team.pk],
            )
        cursor.execute("DROP TABLE bench_stacks; DROP TABLE bench_reqs")


def prepare(builds: int, rebuild: bool, slug: str = TEAM_SLUG):
    call_command("migrate", verbosity=0)
    team = Team.objects.filter(slug=slug).first() or core.team_create(name=f"Bench {slug}", slug=slug)
    have = Build.objects.filter(team=team).count()
    if have != builds or rebuild:
        print(f"Filling {builds:,} builds (had {have:,})…", flush=True)
        Build.objects.filter(team=team).delete()
        from marketplace import services as marketplace_services
        from marketplace.models import Agent, AgentVersion

        agent = Agent.objects.filter(team=team, slug="bench-coder").first() or marketplace_services.agent_create(
            team=team, name="Bench coder", slug="bench-coder", system_prompt="v1", version="1.0.0"
        )
        if not AgentVersion.objects.filter(agent=agent).exclude(pk=agent.versions.order_by("pk").first().pk).exists():
            marketplace_services.version_publish(agent=agent, system_prompt="v2", version="1.1.0")
        with transaction.atomic():
            fill(team, builds, list(AgentVersion.objects.filter(agent=agent).values_list("pk", flat=True)))
        # The bulk insert bypasses build_record: recompute the daily rollups (as the demo seed does).
        t0 = time.perf_counter()
        services.rollups_rebuild_all(teams=[team])
        print(f"  rolled up in {time.perf_counter() - t0:.1f} s", flush=True)
        # What autovacuum does for an insert-heavy table soon after: statistics and the visibility
        # map (which lets the covering index answer range scans without visiting the rows).
        with connection.cursor() as cursor:
            for table in (
                "teammemory_build",
                "teammemory_builderror",
                "teammemory_buildagent",
                "teammemory_builddailyrollup",
                "teammemory_buildagentdailyrollup",
                "teammemory_builderrordailyrollup",
            ):
                cursor.execute(f"VACUUM ANALYZE {table}")
    return team


def timed(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    fn()  # warm the cache: every figure is a warm-cache figure
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def scan(team, since, until):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), sum(duration_ms), sum(tokens), avg(quality) FROM teammemory_build "
            "WHERE team_id = %s AND started_at >= %s AND started_at < %s",
            [team.pk, since, until],
        )
        return cursor.fetchone()


def fulltext_count(team, text, since):
    with connection.cursor() as cursor:
        cursor.execute(
            # any of the text's words, as the suggestion matches them: plain full-text SQL
            "SELECT count(*) FROM teammemory_build b WHERE b.team_id = %s AND b.started_at >= %s AND b.search @@ "
            "regexp_replace(plainto_tsquery('english', %s)::text, ' (&|<[0-9-]+>) ', ' | ', 'g')::tsquery",
            [team.pk, since, text],
        )
        return cursor.fetchone()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builds", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true", help="Refill the builds even if the count matches.")
    parser.add_argument(
        "--small-builds",
        type=int,
        default=100_000,
        help="Builds of a second team over the same two years (0: skip); shows that insights cost "
        "does not grow with the number of builds.",
    )
    args = parser.parse_args()
    small = prepare(args.small_builds, args.rebuild, slug=TEAM_SLUG + "-small") if args.small_builds else None
    team = prepare(args.builds, args.rebuild)
    now = timezone.now()
    ranges = [
        ("last 90 days", now - dt.timedelta(days=90), now),
        ("all time (2 years)", now - dt.timedelta(days=SPAN_DAYS + 1), now),
    ]
    rows = []
    for label, since, until in ranges:
        n = scan(team, since, until)[0]
        ref, _ = timed(partial(scan, team, since, until), args.repeat)
        t_ins, _ = timed(partial(selectors.team_insights, team=team, since=since, until=until), args.repeat)
        t_rec, _ = timed(partial(selectors.team_recommendations, team=team, since=since, until=until), args.repeat)
        rows.append((f"insights, {label}", n, t_ins, "plain scan of the same rows", ref))
        rows.append((f"recommendations, {label}", n, t_rec, "plain scan of the same rows", ref))
    if small is not None:
        for label, since, until in ranges:
            n = scan(small, since, until)[0]
            ref, _ = timed(partial(scan, small, since, until), args.repeat)
            t_ins, _ = timed(partial(selectors.team_insights, team=small, since=since, until=until), args.repeat)
            t_rec, _ = timed(partial(selectors.team_recommendations, team=small, since=since, until=until), args.repeat)
            rows.append((f"small team: insights, {label}", n, t_ins, "plain scan of the same rows", ref))
            rows.append((f"small team: recommendations, {label}", n, t_rec, "plain scan of the same rows", ref))
    lookback = now - dt.timedelta(days=conf.SUGGEST_LOOKBACK_DAYS)
    n_lookback = scan(team, lookback, now)[0]
    matches = fulltext_count(team, QUERY, lookback)
    ref_ft, _ = timed(lambda: fulltext_count(team, QUERY, lookback), args.repeat)
    ref_scan, _ = timed(lambda: scan(team, lookback, now), args.repeat)
    t_sug, result = timed(lambda: selectors.stack_suggest(team=team, requirements=QUERY), args.repeat)
    rows.append(
        (f"suggestion ({matches:,} text matches)", n_lookback, t_sug, "full-text count of the same rows", ref_ft)
    )
    rows.append(("", n_lookback, None, "plain scan of the same rows", ref_scan))

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {rollups.STACK_TABLE} WHERE team_id = %s", [team.pk])
        rollup_rows = cursor.fetchone()[0]
    print()
    print(f"Daily stack rollup rows of the team: {rollup_rows:,}")
    print(
        f"Team memory benchmark: {Build.objects.filter(team=team).count():,} builds in one team; "
        f"median of {args.repeat} warm runs; PostgreSQL {connection.pg_version // 10000}"
    )
    print(f"{'operation':<48} {'rows':>10} {'time':>9}   {'reference':<34} {'ref time':>9} {'ratio':>6}")
    for label, n, t, ref_label, ref in rows:
        t_text = f"{t * 1000:8.0f}ms" if t is not None else " " * 10
        ratio = f"{t / ref:5.1f}x" if t is not None and ref else ""
        print(f"{label:<48} {n:>10,} {t_text:>9}   {ref_label:<34} {ref * 1000:8.0f}ms {ratio:>6}")
    top = result["suggestions"][0] if result["suggestions"] else None
    print(
        f"\nSuggestion basis: {result['basis']}, {result['similar_builds']} similar builds; "
        f"top: {top['stack_key'] if top else '-'} (score {top['score']:.3f})"
        if top
        else ""
    )


if __name__ == "__main__":
    main()
