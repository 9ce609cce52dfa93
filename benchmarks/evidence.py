"""Benchmark: measured evidence of marketplace versions, each figure beside a reference from the
same run.

    CRUCIBLE_DB_NAME=bench_evidence .venv/bin/python benchmarks/evidence.py --agents 5000 --executions 1000000  # quick
    CRUCIBLE_DB_NAME=bench_evidence .venv/bin/python benchmarks/evidence.py          # 100,000 agents, 10 M executions

It migrates its own database and fills it (COPY) unless already filled:

- one public agent with ``--versions`` (1,000) versions whose daily evidence rollups hold
  ``--executions`` (10 million) executions: older versions were measured by 10 teams on 10 days
  each, the latest by 50 teams (half of them sharing) on every one of the last 90 days;
- ``--agents`` (100,000) agents whose denormalised search figures are set as the refresh job
  leaves them (60 % measured by 3-40 sharing teams, the others NULL).

Then it times (median / p95 in ms):

- "evidence (90 days)": ``marketplace.evidence.version_evidence`` for the latest version, what the
  agent and version pages and the API read, after the worker merged the period histograms
  (``evidence_histograms_refresh``), and again as if every merge were stale; reference: a plain
  indexed SELECT of the same rollup rows (fetched, not aggregated);
- "agent page": the whole server-rendered agent page (Django test client, logged in); reference: a
  minimal template view served the same way (``benchmarks/_reference.py``); for scale, not as a
  floor, the same page of an agent with one version and no evidence;
- "search by measured success": ``selectors.agent_search(sort="success")``, first page of 20 plus
  the count, as ``GET /api/v1/marketplace/agents/?sort=success`` runs it; reference: a plain
  indexed ``SELECT ... ORDER BY evidence_success_rate DESC NULLS LAST LIMIT 20``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_evidence")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_evidence.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")

import django  # noqa: E402

django.setup()

from _reference import minimal_page_url  # noqa: E402  (benchmarks/_reference.py)
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client, override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from crucible import services as core  # noqa: E402
from crucible.models import Role, Team  # noqa: E402
from marketplace import selectors, services  # noqa: E402
from marketplace.evidence import version_evidence  # noqa: E402
from marketplace.evidence_stats import DURATION_HISTOGRAM  # noqa: E402
from marketplace.models import Agent, AgentVersion, EvidenceSharing, VersionEvidenceHistogram  # noqa: E402
from marketplace.services.evidence import hist_trim  # noqa: E402
from marketplace.services.evidence_histograms import evidence_histograms_refresh  # noqa: E402

AGENT_SLUG = "evidence-bench"
COLUMNS = (
    "team_id, version_id, agent_id, day, executions, successes, duration_sum_ms, hist_offset, hist, tokens, tokens_sq, cost, "
    "cost_sq, priced, quality_sum, quality_sq, quality_count, builds, build_successes, build_quality_sum, "
    "build_quality_sq, build_quality_count"
)


def copy_rows(table: str, columns: str, lines) -> None:
    buffer = io.StringIO()
    for line in lines:
        buffer.write("\t".join(str(v) for v in line) + "\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)


def vacuum(table: str) -> None:
    connection.ensure_connection()
    autocommit = connection.connection.autocommit
    connection.connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {table}")
    connection.connection.autocommit = autocommit


def teams(n: int) -> list[Team]:
    out = []
    for i in range(n):
        slug = f"ev-{i:03d}"
        out.append(Team.objects.filter(slug=slug).first() or core.team_create(name=f"Evidence team {i}", slug=slug))
    return out


def evidence_row(rng, team_id, version_id, agent_id, day, runs) -> list:
    hist = [0] * DURATION_HISTOGRAM.buckets
    for _ in range(12):  # durations spread over a few buckets around 1-3 s
        hist[DURATION_HISTOGRAM.bucket_of(rng.lognormvariate(7.3, 0.5))] += runs // 12
    hist[DURATION_HISTOGRAM.bucket_of(1500.0)] += runs - sum(hist)
    offset, hist = hist_trim(hist)
    successes = int(runs * rng.uniform(0.8, 0.98))
    tokens = runs * 1500
    cost = runs * 0.004
    return [
        team_id, version_id, agent_id, day, runs, successes, runs * 1500.0, offset, "{" + ",".join(map(str, hist)) + "}",
        tokens, tokens * 1500.0, f"{cost:.8f}", cost * 0.004, runs, runs * 80.0, runs * 6500.0, runs,
        runs // 50, runs // 60, (runs // 50) * 75.0, (runs // 50) * 5700.0, runs // 50,
    ]  # fmt: skip


def seed_agent_page(n_versions: int, n_executions: int, rng) -> Agent:
    agent = Agent.objects.filter(slug=AGENT_SLUG).first()
    if agent is not None:
        return agent
    everyone = teams(60)
    publisher = everyone[0]
    for team in everyone[1:26]:
        EvidenceSharing.objects.update_or_create(team=team, defaults={"share_evidence": True})
    agent = services.agent_create(team=publisher, name="Evidence bench", slug=AGENT_SLUG, system_prompt="v1")
    version_rows = [
        [agent.pk, f"1.{i}.0", 1, i, 0, "", "t", "", f"Prompt {i}", "{}", "", "f", "", 0, timezone.now().isoformat()]
        for i in range(1, n_versions)
    ]
    copy_rows(
        "marketplace_agentversion",
        "agent_id, version, major, minor, patch, prerelease, is_release, prerelease_key, system_prompt, model_hints, "
        "changelog, is_yanked, yanked_reason, download_count, created_at",
        version_rows,
    )
    services.refresh_latest_version(agent)
    agent.refresh_from_db()
    versions = list(AgentVersion.objects.filter(agent=agent).values_list("pk", flat=True).order_by("major", "minor"))
    latest = agent.latest_version_id
    today = timezone.now().date()
    latest_rows = [(t.pk, today - dt.timedelta(days=d)) for t in everyone[1:51] for d in range(90)]
    old_rows = [
        (everyone[1 + (i + k) % 50].pk, today - dt.timedelta(days=(i % 80) + d), v)
        for i, v in enumerate(v for v in versions if v != latest)
        for k in range(10)
        for d in range(10)
    ]
    per_row = max(1, n_executions // (len(latest_rows) + len(old_rows)))
    lines = [evidence_row(rng, t, latest, agent.pk, day, per_row) for t, day in latest_rows]
    lines += [evidence_row(rng, t, v, agent.pk, day, per_row) for t, day, v in old_rows]
    copy_rows("marketplace_versionevidencedaily", COLUMNS, lines)
    vacuum("marketplace_versionevidencedaily")
    print(f"  {len(lines):,} rollup rows holding {per_row * len(lines):,} executions over {len(versions):,} versions")
    return agent


def seed_search(n_agents: int, rng) -> None:
    have = Agent.objects.count()
    if have >= n_agents:
        return
    owners = teams(60)
    lines = []
    for i in range(have, n_agents):
        measured = rng.random() < 0.6
        n_teams = rng.randint(3, 40) if measured else 0
        lines.append(
            [
                owners[i % 60].pk, f"Agent {i}", f"agent-{i}", "A benchmark agent", "", "", "other", "{}", "", "public",
                "t", "", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                f"{rng.uniform(0.5, 1.0):.4f}" if measured else "\\N",
                f"{rng.uniform(0.0005, 0.05):.6f}" if measured else "\\N",
                n_teams, "t" if measured and rng.random() < 0.02 else "f",
                "2026-01-01 00:00:00+00", "2026-01-01 00:00:00+00", 0,
            ]
        )  # fmt: skip
    copy_rows(
        "marketplace_agent",
        "team_id, name, slug, summary, description, description_html, category, tags, tags_text, visibility, "
        "is_listed, unlisted_reason, install_count, active_install_count, download_count, rating_count, rating_sum, "
        "rating_1, rating_2, rating_3, rating_4, rating_5, evidence_success_rate, evidence_cost_per_run, "
        "evidence_teams, evidence_failure_warning, created_at, updated_at, fork_count",
        lines,
    )
    vacuum("marketplace_agent")


def timed(fn, repeat: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def show(label, values, reference=None):
    line = f"{label:<34} {statistics.median(values):>8.1f} / {p95(values):>7.1f}"
    if reference is not None:
        line += f"   reference {statistics.median(reference):>7.1f} / {p95(reference):>7.1f}"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=100_000)
    parser.add_argument("--versions", type=int, default=1_000)
    parser.add_argument("--executions", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    rng = random.Random(13)
    start = time.perf_counter()
    agent = seed_agent_page(args.versions, args.executions, rng)
    seed_search(args.agents, rng)
    print(f"Seeded in {time.perf_counter() - start:.1f}s; {Agent.objects.count():,} agents.")
    start = time.perf_counter()
    merged = evidence_histograms_refresh()  # what the worker does every ten minutes
    print(f"Merged the period histograms of {merged:,} versions in {time.perf_counter() - start:.1f}s.\n")

    viewer = Team.objects.get(slug="ev-001")
    version = AgentVersion.objects.get(pk=agent.latest_version_id)
    since = timezone.now().date() - dt.timedelta(days=89)

    def plain_rows():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT * FROM marketplace_versionevidencedaily WHERE version_id = %s AND day >= %s",
                [version.pk, since],
            )
            return cursor.fetchall()

    print(f"{'times in ms':<34} {'median / p95':>18}")
    show("evidence (90 days)", timed(lambda: version_evidence(version=version, team=viewer, days=90), args.repeat),
         timed(plain_rows, args.repeat))  # fmt: skip
    with transaction.atomic():  # as if every merge were stale: the daily rows merged at each read
        VersionEvidenceHistogram.objects.all().delete()
        show("  without the merged histograms", timed(lambda: version_evidence(version=version, team=viewer, days=90), args.repeat))  # fmt: skip
        transaction.set_rollback(True)

    user = core.user_create(username=f"bench{time.time_ns()}", password="pw-for-bench-1")
    core.membership_set(team=viewer, user=user, role=Role.MEMBER)
    # Pages render with plain static URLs here (no collectstatic manifest in a benchmark database).
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    override_settings(STORAGES=storages, ALLOWED_HOSTS=["*"]).enable()
    client = Client()
    client.force_login(user)
    url = f"/marketplace/agents/{agent.pk}/?days=90"
    assert client.get(url).status_code == 200
    services.agent_create(team=viewer, name="Plain", slug=f"plain-{time.time_ns()}", system_prompt="v1")
    plain = Agent.objects.filter(team=viewer, name="Plain").order_by("-pk").first()
    # The floor: a minimal template view through the same middleware and client; beside it, for
    # scale only (one of our own pages), the page of an agent without evidence.
    minimal = minimal_page_url()
    show(
        "agent page (whole, with evidence)",
        timed(lambda: client.get(url), args.repeat),
        timed(lambda: client.get(minimal), args.repeat),
    )
    show(
        "  an agent without evidence (scale)",
        timed(lambda: client.get(f"/marketplace/agents/{plain.pk}/"), args.repeat),
    )

    def first_page(team=viewer):
        # As the lists page it: from the window when the search gives one (a measuring viewer).
        found = selectors.agent_search(team_ids=[team.pk], sort="success")
        first = found.window(found.queryset, 20) if found.window is not None else found.queryset
        return found, list(first[:20])

    def search(team=viewer):
        found, rows = first_page(team)
        return rows, selectors.agent_search_count(found)

    def plain_search():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, name, evidence_success_rate FROM marketplace_agent "
                "ORDER BY evidence_success_rate DESC NULLS LAST, id LIMIT 20"
            )
            return cursor.fetchall()

    # ev-001 shares and measured the benchmark agent: its sort reads that agent's figures without its
    # own (a bounded read); ev-055 measured nothing: the indexed walk.
    show("search by measured success", timed(search, args.repeat), timed(plain_search, args.repeat))
    unmeasured = Team.objects.get(slug="ev-055")
    show("  viewer that measured nothing", timed(lambda: search(unmeasured), args.repeat))
    show("  first page only (no count)", timed(first_page, args.repeat))
    start = time.perf_counter()
    services.evidence_agents_refresh(agent_ids=[agent.pk])
    print(f"\nrefresh of the benchmark agent's search figures: {(time.perf_counter() - start) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
