"""Benchmark: marketplace search latency with 100,000 agents, beside a plain Python scan of the
same agents (how the earlier implementation searched: a linear pass over every agent) measured
in the same run.

    CRUCIBLE_DB_NAME=bench_marketplace .venv/bin/python benchmarks/marketplace.py --agents 5000   # quick
    CRUCIBLE_DB_NAME=bench_marketplace .venv/bin/python benchmarks/marketplace.py                 # 100,000

It migrates its own database, fills it with agents (COPY; realistic names, summaries, Markdown-ish
descriptions, tags, categories, rating counters, install counters; PostgreSQL computes the stored
search vector) unless that many are already there, runs ANALYZE, then for each query times:

- "postgres": what ``GET /api/v1/marketplace/agents/?q=...`` runs: ``selectors.agent_search`` for
  one team (visibility rules included), first page of 20 plus the total count;
- "python scan": the same agents already loaded into a list of dicts (loading not timed: the
  reference gets that for free), scanned for the query words as substrings of name, summary,
  description and tags, filtered, sorted by rating and cut to 20, as the earlier code did.

It prints median and p95 per query and overall. The scan finds no typos (it has no notion of
them); the database search does, and ranks by relevance.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_marketplace")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_marketplace.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from crucible import services as core  # noqa: E402
from crucible.models import Team  # noqa: E402
from marketplace import selectors  # noqa: E402
from marketplace.models import Agent, Category  # noqa: E402

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
QUERIES = [
    "summarizer",
    "sumarizer",
    "kubernetes debugger",
    "sql optimizer",
    "code review",
    "meeting notes",
    "python test writer",
    "terraform",
    "security audit secrets",
    "nonexistentword",
]


def seed(n_agents: int, rng: random.Random) -> None:
    teams = []
    for i in range(200):
        slug = f"bench-{i:03d}"
        team = Team.objects.filter(slug=slug).first() or core.team_create(
            name=f"Bench team {i}", slug=slug, is_verified=i % 10 == 0
        )
        teams.append(team)
    categories = Category.values
    buffer = io.StringIO()
    existing = Agent.objects.count()
    for i in range(existing, n_agents):
        topic = rng.choice(TOPICS)
        name = f"{rng.choice(ADJECTIVES)} {topic} {rng.choice(NOUNS)} {i}"
        summary = f"{rng.choice(NOUNS)} for {topic.lower()} " + " ".join(rng.choices(WORDS, k=8))
        description = (
            f"## {name}\n\n" + " ".join(rng.choices(WORDS, k=rng.randint(30, 80))) + f"\n\n- works with {topic}\n"
        )
        tags = sorted(set(rng.choices([t.lower() for t in TOPICS] + WORDS[:20], k=rng.randint(1, 4))))
        ratings = [int(rng.expovariate(0.3)) for _ in range(5)]
        count = sum(ratings)
        rating_sum = sum((stars + 1) * n for stars, n in enumerate(ratings))
        installs = int(rng.expovariate(0.02))
        team = teams[i % len(teams)]
        visibility = "private" if i % 17 == 0 else "public"
        row = [
            team.pk,
            name,
            f"agent-{i}",
            summary,
            description.replace("\\", "\\\\").replace("\n", "\\n"),
            "",
            rng.choice(categories),
            "{" + ",".join(tags) + "}",
            " ".join(tags),
            visibility,
            "t",
            "",
            installs,
            installs,
            installs * 3,
            count,
            rating_sum,
            *ratings,
            "2026-01-01 00:00:00+00",
            "2026-01-01 00:00:00+00",
        ]
        buffer.write("\t".join(str(v) for v in row) + "\n")
    columns = (
        "team_id, name, slug, summary, description, description_html, category, tags, tags_text, visibility, is_listed, "
        "unlisted_reason, install_count, active_install_count, download_count, rating_count, rating_sum, rating_1, "
        "rating_2, rating_3, rating_4, rating_5, created_at, updated_at"
    )
    buffer.seek(0)
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY marketplace_agent ({columns}) FROM STDIN") as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)
    # What autovacuum does soon after a bulk load in production: visibility map, hint bits, statistics.
    connection.ensure_connection()
    autocommit = connection.connection.autocommit
    connection.connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE marketplace_agent")
    connection.connection.autocommit = autocommit


def load_for_scan(team_id: int) -> list[dict]:
    rows = Agent.objects.values(
        "id",
        "name",
        "summary",
        "description",
        "tags",
        "category",
        "rating_sum",
        "rating_count",
        "visibility",
        "team_id",
        "install_count",
    )
    return list(rows)


def python_scan(agents: list[dict], query: str, team_id: int, category=None, min_rating=None) -> tuple[list[dict], int]:
    words = query.lower().split()
    hits = []
    for agent in agents:
        if agent["visibility"] != "public" and agent["team_id"] != team_id:
            continue
        if category and agent["category"] != category:
            continue
        average = agent["rating_sum"] / agent["rating_count"] if agent["rating_count"] else 0
        if min_rating is not None and average < min_rating:
            continue
        text = " ".join([agent["name"], agent["summary"], agent["description"], " ".join(agent["tags"])]).lower()
        if all(word in text for word in words):
            hits.append((average, agent["install_count"], agent))
    hits.sort(key=lambda hit: (hit[0], hit[1]), reverse=True)
    return [hit[2] for hit in hits[:20]], len(hits)


def db_search(query: str, team_id: int, category=None, min_rating=None) -> tuple[list, int]:
    queryset = selectors.agent_search(team_ids=[team_id], q=query, category=category, min_rating=min_rating)
    return list(queryset[:20]), queryset.count()


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    call_command("migrate", "marketplace", verbosity=0)
    rng = random.Random(7)
    have = Agent.objects.count()
    if have < args.agents:
        print(f"Seeding {args.agents - have:,} agents into {DB_NAME} ...", flush=True)
        start = time.perf_counter()
        seed(args.agents, rng)
        print(f"  seeded in {time.perf_counter() - start:.1f}s", flush=True)
    total = Agent.objects.count()
    team_id = Team.objects.get(slug="bench-001").pk
    agents = load_for_scan(team_id)
    print(f"\n{total:,} agents in the catalogue; {args.repeat} runs per query; times in ms (median / p95)\n")
    print(f"{'query':<28} {'postgres':>18} {'python scan':>18} {'pg hits':>8} {'scan hits':>9}")
    all_db, all_scan = [], []
    cases = [(q, None, None) for q in QUERIES] + [("reviewer", "code-review", 3.0), ("", "devops", 4.0)]
    for query, category, min_rating in cases:
        db_search(query, team_id, category, min_rating)  # warm the plan and the caches
        db_times = timed(partial(db_search, query, team_id, category, min_rating), args.repeat)
        scan_times = timed(partial(python_scan, agents, query, team_id, category, min_rating), max(3, args.repeat // 3))
        all_db += db_times
        all_scan += scan_times
        label = (query or "(browse)") + (f" [{category}, >={min_rating}]" if category else "")
        db_hits = db_search(query, team_id, category, min_rating)[1]
        scan_hits = python_scan(agents, query, team_id, category, min_rating)[1]
        print(
            f"{label:<28} {statistics.median(db_times):>8.1f} / {p95(db_times):>7.1f} "
            f"{statistics.median(scan_times):>8.1f} / {p95(scan_times):>7.1f} {db_hits:>8} {scan_hits:>9}"
        )
    print(
        f"\n{'all queries':<28} {statistics.median(all_db):>8.1f} / {p95(all_db):>7.1f} "
        f"{statistics.median(all_scan):>8.1f} / {p95(all_scan):>7.1f}"
    )
    print(f"\nMedian speed-up over the scan: {statistics.median(all_scan) / statistics.median(all_db):.1f}x")


if __name__ == "__main__":
    main()
