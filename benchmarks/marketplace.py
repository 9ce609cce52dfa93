"""Benchmark: marketplace search and browse at 100,000 or 1,000,000 agents, each query beside a
plain Python scan of the same agents measured in the same run (interleaved rounds; medians, p95).

    CRUCIBLE_DB_NAME=bench_marketplace .venv/bin/python benchmarks/marketplace.py --quick          # 5,000 agents
    CRUCIBLE_DB_NAME=bench_marketplace .venv/bin/python benchmarks/marketplace.py                  # 100,000
    CRUCIBLE_DB_NAME=bench_marketplace_1m .venv/bin/python benchmarks/marketplace.py --agents 1000000

It migrates its own database and fills it once (one ``INSERT ... SELECT generate_series`` in
PostgreSQL, indexes dropped and rebuilt around it: 1,000,000 agents in a few minutes; later runs
reuse them): realistic names, summaries, descriptions, tags, categories, rating and install
counters, measured-evidence figures on a third of the agents, 200 publisher teams, 1 in 17 agents
private. Then, round after round, for every case:

- "postgres": what ``GET /api/v1/marketplace/agents/?...`` runs: ``selectors.agent_search`` for one
  team (visibility included), the first page of 20 and the count the list shows
  (``selectors.agent_search_count``);
- "python scan": the same agents already in a list of dicts (loading not timed), scanned for the
  query words as substrings of name, summary, description and tags, filtered, sorted, cut to 20:
  how the earlier implementation searched. It finds no typos and no stems.

and the ``/marketplace/`` page in-process (Django test client, logged in), browse and a search.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import time
from functools import cache, partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_marketplace")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_marketplace.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Max  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from crucible import services as core  # noqa: E402
from crucible.models import Role, Team  # noqa: E402
from marketplace import selectors  # noqa: E402
from marketplace.models import Agent, Category  # noqa: E402
from marketplace.search_words import name_words_fill  # noqa: E402

ADJECTIVES = [
    "Smart",
    "Fast",
    "Careful",
    "Friendly",
    "Strict",
    "Tiny",
    "Deep",
    "Lazy",
    "Rapid",
    "Quiet",
    "Bold",
    "Clever",
    "Patient",
    "Precise",
    "Robust",
    "Secure",
    "Simple",
    "Swift",
    "Thorough",
    "Witty",
]
NOUNS = [
    "Reviewer",
    "Summarizer",
    "Tester",
    "Writer",
    "Planner",
    "Debugger",
    "Optimizer",
    "Translator",
    "Auditor",
    "Analyzer",
    "Generator",
    "Assistant",
    "Helper",
    "Coach",
    "Linter",
    "Checker",
    "Explainer",
    "Scribe",
    "Triage",
    "Refactorer",
]
TOPICS = [
    "Python",
    "SQL",
    "Kubernetes",
    "Terraform",
    "React",
    "Django",
    "Go",
    "Rust",
    "Docker",
    "Meeting",
    "Release",
    "Security",
    "Accessibility",
    "Incident",
    "API",
    "Pipeline",
    "Regex",
    "Commit",
    "Migration",
    "Support",
    "Invoice",
    "Contract",
    "Onboarding",
    "Log",
    "Cost",
    "Schema",
    "Changelog",
    "Dependency",
    "License",
    "Playwright",
]
WORDS = (
    "code review test deploy database query index latency error bug fix refactor module function class type "
    "schema migration container cluster node pod service endpoint request response cache queue worker job "
    "report summary decision action owner deadline customer ticket reply tone style guide document page table "
    "chart metric alert budget invoice contract clause risk threat secret token password audit compliance"
).split()
SEED_SQL = """
INSERT INTO marketplace_agent (
    team_id, name, slug, summary, description, description_html, category, tags, tags_text, visibility,
    is_listed, unlisted_reason, install_count, active_install_count, download_count, rating_count, rating_sum,
    rating_1, rating_2, rating_3, rating_4, rating_5, created_at, updated_at, candidate_share, fork_count,
    evidence_success_rate, evidence_cost_per_run, evidence_teams, evidence_failure_warning)
SELECT team_id, name, slug, summary, description, '', category, tags, array_to_string(tags, ' '), visibility,
    true, '', installs, installs, installs * 3, r1 + r2 + r3 + r4 + r5, r1 + 2 * r2 + 3 * r3 + 4 * r4 + 5 * r5,
    r1, r2, r3, r4, r5, created, created, 0, 0,
    CASE WHEN measured THEN 0.5 + random() / 2 END, CASE WHEN measured THEN random() / 10 END,
    CASE WHEN measured THEN 3 + mod(g, 8) ELSE 0 END, false
FROM (
    SELECT g, t.topic,
        %(teams)s[1 + mod(g, cardinality(%(teams)s))] AS team_id,
        %(adjectives)s[1 + floor(random() * cardinality(%(adjectives)s))::int] || ' ' || t.topic || ' '
            || %(nouns)s[1 + floor(random() * cardinality(%(nouns)s))::int] || ' ' || g AS name,
        'agent-' || g AS slug,
        %(nouns)s[1 + floor(random() * cardinality(%(nouns)s))::int] || ' for ' || lower(t.topic) || ' '
            || (SELECT string_agg(%(words)s[1 + floor(random() * cardinality(%(words)s))::int], ' ')
                FROM generate_series(1, 8 + 0 * g)) AS summary,
        (SELECT string_agg(%(words)s[1 + floor(random() * cardinality(%(words)s))::int], ' ')
         FROM generate_series(1, 30 + mod(g::bigint * 7919, 51))) || E'\\n\\n- works with ' || t.topic || E'\\n' AS description,
        %(categories)s[1 + floor(random() * cardinality(%(categories)s))::int] AS category,
        (SELECT array_agg(DISTINCT tag ORDER BY tag) FROM (
            SELECT %(tags)s[1 + floor(random() * cardinality(%(tags)s))::int] AS tag
            FROM generate_series(1, 1 + mod(g, 4))) picked) AS tags,
        CASE WHEN mod(g, 17) = 0 THEN 'private' ELSE 'public' END AS visibility,
        floor(-ln(1 - random()) / 0.02)::int AS installs,
        floor(-ln(1 - random()) / 0.3)::int AS r1, floor(-ln(1 - random()) / 0.3)::int AS r2,
        floor(-ln(1 - random()) / 0.3)::int AS r3, floor(-ln(1 - random()) / 0.3)::int AS r4,
        floor(-ln(1 - random()) / 0.3)::int AS r5,
        timestamptz '2025-01-01' + g * interval '17 seconds' AS created,
        mod(g, 3) = 0 AS measured
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS g
    CROSS JOIN LATERAL (SELECT %(topics)s[1 + floor(random() * cardinality(%(topics)s) + 0 * g)::int] AS topic) t
) generated
"""


# (label, query type, search parameters); the scan gets the same parameters.
CASES = [
    ("summarizer", "word", {"q": "summarizer"}),
    ("kubernetes debugger", "words", {"q": "kubernetes debugger"}),
    ("sql optimizer", "words", {"q": "sql optimizer"}),
    ("code review", "words, 44% match", {"q": "code review"}),
    ("python test writer", "words", {"q": "python test writer"}),
    ("security audit secrets", "words, stems", {"q": "security audit secrets"}),
    ('"code review"', "phrase", {"q": '"code review"'}),
    ('"release helper"', "phrase", {"q": '"release helper"'}),
    ("sum", "prefix/short", {"q": "sum"}),
    ("kube", "prefix/short", {"q": "kube"}),
    ("py", "prefix/short", {"q": "py"}),
    ("sumarizer", "typo", {"q": "sumarizer"}),
    ("kubernets debuger", "typo", {"q": "kubernets debuger"}),
    ("nonexistentword", "no match", {"q": "nonexistentword"}),
    ("reviewer [code-review, >=3]", "words+filters", {"q": "reviewer", "category": "code-review", "min_rating": 3.0}),
    ("test sort=installs", "words+sort", {"q": "test", "sort": "installs"}),
    ("(browse)", "browse", {}),
    ("(browse) [devops, >=4]", "browse+filters", {"category": "devops", "min_rating": 4.0}),
    ("(browse) tag=python", "browse+filters", {"tags": ["python"]}),
    ("(browse) sort=installs", "sort", {"sort": "installs"}),
    ("(browse) sort=newest", "sort", {"sort": "newest"}),
    ("(browse) sort=success", "evidence sort", {"sort": "success"}),
    ("(browse) sort=cost_per_run", "evidence sort", {"sort": "cost_per_run"}),
    ("(browse) success>=90%", "evidence filter", {"min_success_rate": 90.0}),
    # A viewer whose team shares evidence and measured 200 agents: its evidence sorts and filters
    # read those agents' figures without its own (marketplace.search_evidence: a bounded read).
    ("(browse) sort=success [measured]", "viewer evidence", {"sort": "success", "viewer": "measured"}),
    ("(browse) sort=cost [measured]", "viewer evidence", {"sort": "cost_per_run", "viewer": "measured"}),
    ("(browse) success>=90% [measured]", "viewer evidence", {"min_success_rate": 90.0, "viewer": "measured"}),
    ("code review sort=success [m.]", "viewer evidence", {"q": "code review", "sort": "success", "viewer": "measured"}),
]
MEASURED_VIEWER = "bench-199"
MEASURED_AGENTS_SQL = """
INSERT INTO marketplace_agentevidencewithoutteam (agent_id, team_id, success_rate, cost_per_run, teams, failure_warning)
SELECT id, %s, evidence_success_rate * 0.9, evidence_cost_per_run * 1.1, evidence_teams - 1, false
FROM marketplace_agent WHERE evidence_teams >= 4 AND visibility = 'public' ORDER BY id LIMIT 200
ON CONFLICT DO NOTHING
"""


def seed(n_agents: int) -> None:
    teams = []
    for i in range(200):
        slug = f"bench-{i:03d}"
        team = Team.objects.filter(slug=slug).first() or core.team_create(
            name=f"Bench team {i}", slug=slug, is_verified=i % 10 == 0
        )
        teams.append(team.pk)
    first = (Agent.objects.aggregate(top=Max("pk"))["top"] or 0) + 1
    last = first + n_agents - Agent.objects.count() - 1
    pools = {
        "teams": teams,
        "adjectives": ADJECTIVES,
        "nouns": NOUNS,
        "topics": TOPICS,
        "words": WORDS,
        "categories": list(Category.values),
        "tags": [t.lower() for t in TOPICS] + WORDS[:20],
    }
    arrays = {name: f"(ARRAY[{','.join(['%s'] * len(values))}]::{'bigint' if name == 'teams' else 'text'}[])"
              for name, values in pools.items()}  # fmt: skip
    sql = SEED_SQL % {**arrays, "first": "%s", "last": "%s"}
    # Positional parameters in the order the placeholders appear in the statement.
    order = [name for name in _placeholder_order(SEED_SQL)]
    params = []
    for name in order:
        params += pools[name] if name in pools else [first if name == "first" else last]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef, indexname FROM pg_indexes WHERE tablename = 'marketplace_agent' AND indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE conrelid = 'marketplace_agent'::regclass)"
        )
        indexes = cursor.fetchall()
        for _, name in indexes:  # rebuilt after the load: much faster than maintaining them row by row
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cursor.execute("SELECT setseed(0.7)")
        cursor.execute(sql, params)
        for definition, _ in indexes:
            cursor.execute(definition)
    name_words_fill()  # the vocabulary typo-tolerant search corrects queries against
    # What autovacuum does soon after a bulk load in production: visibility map, hint bits, statistics.
    connection.ensure_connection()
    autocommit = connection.connection.autocommit
    connection.connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE marketplace_agent")
    connection.connection.autocommit = autocommit


def _placeholder_order(template: str) -> list[str]:
    return re.findall(r"%\((\w+)\)s", template)


def load_for_scan() -> list[dict]:
    fields = ("id", "name", "summary", "description", "tags", "category", "rating_sum", "rating_count")
    fields += ("visibility", "team_id", "install_count", "created_at", "evidence_success_rate")
    fields += ("evidence_cost_per_run", "evidence_teams")
    return list(Agent.objects.values(*fields).iterator(chunk_size=10_000))


SCAN_SORTS = {
    "rating": lambda a: (-a["_avg"], -a["install_count"]),
    "installs": lambda a: -a["install_count"],
    "newest": lambda a: -a["id"],
    "success": lambda a: -(a["evidence_success_rate"] or -1),
    "cost_per_run": lambda a: a["evidence_cost_per_run"] if a["evidence_cost_per_run"] is not None else 1e9,
}


def python_scan(agents: list[dict], team_id: int, q="", category=None, min_rating=None, tags=None, sort=None,
                min_success_rate=None, viewer=None):  # fmt: skip
    text_query = q.lower().strip()
    phrase = text_query.startswith('"')
    words = [text_query.strip('"')] if phrase else text_query.split()
    hits = []
    for agent in agents:
        if agent["visibility"] != "public" and agent["team_id"] != team_id:
            continue
        if category and agent["category"] != category:
            continue
        if tags and not set(tags) <= set(agent["tags"]):
            continue
        average = agent["rating_sum"] / agent["rating_count"] if agent["rating_count"] else 0
        if min_rating is not None and average < min_rating:
            continue
        if min_success_rate is not None and (agent["evidence_success_rate"] or 0) * 100 < min_success_rate:
            continue
        if words:
            text = " ".join([agent["name"], agent["summary"], agent["description"], " ".join(agent["tags"])]).lower()
            if not all(word in text for word in words):
                continue
        agent["_avg"] = average
        hits.append(agent)
    hits.sort(key=SCAN_SORTS.get(sort or "rating", SCAN_SORTS["rating"]))
    return hits[:20], len(hits)


@cache
def _measured_viewer_id() -> int:
    return Team.objects.get(slug=MEASURED_VIEWER).pk


def db_search(team_id: int, viewer=None, **params):
    if viewer == "measured":
        team_id = _measured_viewer_id()
    found = selectors.agent_search(team_ids=[team_id], **params)
    # As the lists page it: from the window when the search gives one (a measuring viewer's evidence sort).
    first = found.window(found.queryset, 20) if found.window is not None else found.queryset
    return list(first[:20]), selectors.agent_search_count(found)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def ms(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def page_client(team: Team) -> Client:
    user = core.user_create(username=f"bench{time.time_ns()}", password="pw-for-bench-1")
    core.membership_set(team=team, user=user, role=Role.MEMBER)
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(STORAGES=storages, ALLOWED_HOSTS=["*"]).enable()
    client = Client()
    client.force_login(user)
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15, help="rounds of the database side")
    parser.add_argument("--scan-repeat", type=int, default=5, help="rounds of the scan (slow at 1,000,000)")
    parser.add_argument("--quick", action="store_true", help="5,000 agents, 5 rounds (CI-sized)")
    parser.add_argument("--seed-only", action="store_true", help="fill the database and stop")
    args = parser.parse_args()
    if args.quick:
        args.agents, args.repeat, args.scan_repeat = 5_000, 5, 2
    call_command("migrate", verbosity=0)
    have = Agent.objects.count()
    if have < args.agents:
        print(f"Seeding {args.agents - have:,} agents into {DB_NAME} ...", flush=True)
        start = time.perf_counter()
        seed(args.agents)
        print(f"  seeded in {time.perf_counter() - start:.1f}s", flush=True)
    total = Agent.objects.count()
    if args.seed_only:
        return
    team = Team.objects.get(slug="bench-001")
    with connection.cursor() as cursor:  # the measured viewer's figures (as the refresh job leaves them)
        cursor.execute(MEASURED_AGENTS_SQL, [Team.objects.get(slug=MEASURED_VIEWER).pk])
        cursor.execute("ANALYZE marketplace_agentevidencewithoutteam")  # as autovacuum soon would
    agents = load_for_scan()
    client = page_client(team)
    pages = {"/marketplace/ (browse)": "/marketplace/", "/marketplace/?q=code+review": "/marketplace/?q=code+review"}
    db_times = {label: [] for label, _, _ in CASES}
    scan_times = {label: [] for label, _, _ in CASES}
    page_times = {label: [] for label in pages}
    for _label, _, params in CASES:  # warm the plans and the caches
        db_search(team.pk, **params)
    for url in pages.values():
        assert client.get(url).status_code == 200
    for round_ in range(args.repeat):  # interleaved: every case once per round, the scan beside it
        for label, _, params in CASES:
            db_times[label].append(ms(partial(db_search, team.pk, **params)))
            if round_ < args.scan_repeat:
                scan_times[label].append(ms(partial(python_scan, agents, team.pk, **params)))
        for label, url in pages.items():
            page_times[label].append(ms(partial(client.get, url)))
    print(f"\n{total:,} agents; {args.repeat} rounds (scan: {args.scan_repeat}); ms, median / p95; load {_load()}\n")
    print(
        f"{'query':<30} {'type':<17} {'postgres':>17} {'python scan':>17} {'ratio p95':>9} {'pg count':>9} {'scan hits':>9}"
    )
    for label, kind, params in CASES:
        _, db_count = db_search(team.pk, **params)
        _, scan_hits = python_scan(agents, team.pk, **params)
        db, scan = db_times[label], scan_times[label]
        print(
            f"{label:<30} {kind:<17} {statistics.median(db):>7.1f} / {p95(db):>6.1f} "
            f"{statistics.median(scan):>7.1f} / {p95(scan):>6.1f} {p95(db) / p95(scan):>8.2f}x "
            f"{db_count:>9,} {scan_hits:>9,}"
        )
    all_db = [t for times in db_times.values() for t in times]
    all_scan = [t for times in scan_times.values() for t in times]
    print(
        f"\n{'all queries':<48} {statistics.median(all_db):>7.1f} / {p95(all_db):>6.1f} "
        f"{statistics.median(all_scan):>7.1f} / {p95(all_scan):>6.1f} {p95(all_db) / p95(all_scan):>8.2f}x"
    )
    worst = max(CASES, key=lambda case: p95(db_times[case[0]]))[0]
    print(f"slowest query type at p95: {worst} ({p95(db_times[worst]):.1f} ms)")
    print("\npage, in-process (test client)     median / p95")
    for label, times in page_times.items():
        print(f"{label:<34} {statistics.median(times):>6.1f} / {p95(times):>6.1f}")


def _load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
