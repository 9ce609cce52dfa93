"""Benchmark: the trace read side at scale, each p95 beside a reference from the same run.

With N spans stored (traces of 10 spans over 14 days, half of them LLM spans with a chat payload;
sessions of 5 traces), plus one trace of 100 spans and one of 1,000:

1. trace tree API (``GET /api/v1/observability/traces/<id>/``) and trace page
   (``/observability/traces/<id>/``) of the 100-span and the 1,000-span trace, against the plain
   SELECT of the same span rows by the ``execution_trace_hash`` index;
2. the traces list filtered by session (``/traces/?session=``), against the plain SELECT of the
   same trace rows by ``trace_team_session``;
3. a text search over 7 days (``/traces/?q=<word>``, a word in about 1% of payloads), against the
   plain SELECT of the matching payload rows by the GIN index ``spanpayload_text_search``.

Requests go through Django's test client in-process (middleware, auth, throttles, serialisation
included); the floor of a request in the same run is printed first (a minimal template view
served the same way, ``benchmarks/_reference.py``), with the simplest API list for scale.

    CRUCIBLE_DB_NAME=bench_traces .venv/bin/python benchmarks/traces_read.py                  # 1,000,000 spans
    CRUCIBLE_DB_NAME=bench_traces .venv/bin/python benchmarks/traces_read.py --spans 10000000  # the issue's size

Rows are generated with INSERT ... SELECT generate_series (kept between runs; ``--regenerate``
starts over). Drop the database afterwards (``DROP DATABASE bench_traces``).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_traces")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_traces.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")

import django  # noqa: E402

django.setup()

from _reference import minimal_page_url  # noqa: E402  (benchmarks/_reference.py)
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from crucible import services as core  # noqa: E402
from crucible.models import Role, Team  # noqa: E402
from observability.selectors.traces import SEARCH_DOCUMENT  # noqa: E402

TEAM = "bench-traces"
WORDS = [
    "order", "refund", "shipping", "invoice", "kettle", "password", "account", "delivery", "return",
    "discount", "address", "warranty", "payment", "tracking", "cancel", "upgrade", "subscription",
    "receipt", "damaged", "exchange",
]  # fmt: skip
RARE = "zeppelin"  # in 1 payload out of 100

SPANS_SQL = """
INSERT INTO observability_execution (team_id, client_id, agent_name, version, model, operation, source,
    trace_id, span_id, parent_span_id, kind, name, started_at, duration_ms, status, error_type, error_message,
    input_tokens, output_tokens, cached_input_tokens, reasoning_tokens, cost, cost_source, received_at,
    session_id, end_user_id, counts_execution, counts_usage, content_hash)
SELECT %(team)s, %(prefix)s || g, 'agent-' || (t %% 50), '', CASE WHEN s %% 2 = 1 THEN 'gpt-4o' ELSE '' END, '',
    'api', %(prefix)s || lpad(to_hex(t), 24, '0'), lpad(to_hex(s + 1), 16, '0'),
    CASE WHEN s = 0 THEN '' ELSE lpad(to_hex(s / 3 + 1), 16, '0') END,
    CASE WHEN s = 0 THEN 'agent' WHEN s %% 2 = 1 THEN 'llm' ELSE 'tool' END, 'step ' || s,
    now() - (t::float / %(traces)s) * interval '14 days' + s * interval '10 ms',
    CASE WHEN s = 0 THEN 2000 ELSE 100 END, CASE WHEN g %% 97 = 0 THEN 'error' ELSE 'success' END,
    CASE WHEN g %% 97 = 0 THEN 'ToolError' ELSE '' END, '',
    CASE WHEN s %% 2 = 1 THEN 500 ELSE 0 END, CASE WHEN s %% 2 = 1 THEN 80 ELSE 0 END, 0, 0,
    CASE WHEN s %% 2 = 1 THEN 0.001 END, CASE WHEN s %% 2 = 1 THEN 'client' ELSE 'none' END, now(),
    %(prefix)s || 'sess-' || (t / 5), 'user-' || (t / 50 %% 5000), s = 0, s %% 2 = 1, ''
FROM (SELECT g, g / %(per)s AS t, g %% %(per)s AS s FROM generate_series(0, %(n)s - 1) AS g) AS x
"""

PAYLOADS_SQL = """
INSERT INTO observability_spanpayload (execution_id, team_id, started_at, input, output, input_truncated,
    output_truncated, redacted)
SELECT e.id, e.team_id, e.started_at,
    jsonb_build_array(jsonb_build_object('role', 'user', 'content',
        'Please help with my ' || (%(words)s::text[])[1 + e.id %% 20] || ' and ' || (%(words)s::text[])[1 + (e.id / 20) %% 20]
        || CASE WHEN e.id %% 100 = 7 THEN ' ' || %(rare)s ELSE '' END || ' ' || repeat('context ', 40))),
    jsonb_build_object('role', 'assistant', 'content', 'Here is what I found about your '
        || (%(words)s::text[])[1 + (e.id / 7) %% 20] || '.'),
    false, false, false
FROM observability_execution e WHERE e.team_id = %(team)s AND e.kind = 'llm' AND e.client_id LIKE %(like)s
"""

TRACES_SQL = """
INSERT INTO observability_trace (team_id, trace_id, root_span_id, name, agent_name, agent_id, started_at, ended_at,
    duration_ms, status, span_count, error_count, input_tokens, output_tokens, cost, session_id, end_user_id, tags)
SELECT team_id, trace_id, max(span_id) FILTER (WHERE parent_span_id = ''), max(name) FILTER (WHERE parent_span_id = ''),
    max(agent_name), NULL, min(started_at), max(started_at + duration_ms * interval '1 ms'),
    extract(epoch FROM max(started_at + duration_ms * interval '1 ms') - min(started_at)) * 1000,
    CASE WHEN bool_or(status = 'error') THEN 'error' ELSE 'success' END, count(*),
    count(*) FILTER (WHERE status = 'error'), sum(input_tokens), sum(output_tokens), coalesce(sum(cost), 0),
    max(session_id), max(end_user_id), '{}'
FROM observability_execution WHERE team_id = %(team)s AND client_id LIKE %(like)s GROUP BY team_id, trace_id
"""


def generate(team: Team, n: int) -> float:
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for prefix, per, count in (("b", 10, n), ("c", 100, 100), ("d", 1000, 1000)):
            traces = max(1, count // per)
            params = {"team": team.pk, "prefix": prefix, "per": per, "n": count, "traces": traces}
            cursor.execute(SPANS_SQL, params)
            like = {"team": team.pk, "like": f"{prefix}%", "words": WORDS, "rare": RARE}
            cursor.execute(PAYLOADS_SQL, like)
            cursor.execute(TRACES_SQL, like)
            print(f"  {count:,} spans of {per}-span traces stored", flush=True)
        cursor.execute(
            "ANALYZE observability_execution; ANALYZE observability_spanpayload; ANALYZE observability_trace"
        )
    return time.perf_counter() - started


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(1, math.ceil(0.95 * len(ordered))) - 1]


class Timing(NamedTuple):
    p95: float
    median: float

    def __str__(self) -> str:
        return f"{self.p95:.1f} ({self.median:.1f})"


def timed(run, repeats: int) -> Timing:
    """p95 and median (ms) of ``repeats`` runs after a warm-up."""
    run()  # warm caches
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return Timing(p95(samples), statistics.median(samples))


def sql_run(sql: str, params: dict):
    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            cursor.fetchall()

    return run


def http_run(client: Client, url: str, **headers):
    def run():
        response = client.get(url, **headers)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
        b"".join(response) if response.streaming else response.content

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=1_000_000, help="spans in 10-span traces (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--regenerate", action="store_true")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    # Pages link static files by name without a collectstatic run (a manifest lookup is a dict get).
    override_settings(
        STORAGES={**settings.STORAGES, "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"}}
    ).enable()
    team = Team.objects.filter(slug=TEAM).first() or core.team_create(name=TEAM, slug=TEAM)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM observability_execution WHERE team_id = %s", [team.pk])
        stored = cursor.fetchone()[0]
    if args.regenerate or stored < args.spans:
        with connection.cursor() as cursor:
            for table in ("observability_spanpayload", "observability_trace", "observability_execution"):
                cursor.execute(f"DELETE FROM {table} WHERE team_id = %s", [team.pk])  # noqa: S608 (fixed names)
        print(f"Generating {args.spans:,} spans ...", flush=True)
        print(f"  generated in {generate(team, args.spans):.0f} s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM observability_execution WHERE team_id = %s", [team.pk])
        stored = cursor.fetchone()[0]
    user = core.user_create(username=f"bench{time.time_ns()}", password="pw-for-bench-1")
    core.membership_set(team=team, user=user, role=Role.MEMBER)
    _, raw_key = core.api_key_create(team=team, name="bench traces")
    api, page = Client(), Client()
    page.force_login(user)
    key = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}
    print(
        f"database {DB_NAME}; {stored:,} spans stored; p95 and (median) of {args.repeats} requests (ms); PostgreSQL, 2 cores shared"
    )

    # Each figure's reference is the plain SELECT of its rows. For scale, the request floor in this
    # run: a minimal template view through the same middleware and client (benchmarks/_reference.py)
    # and, one of our own, the simplest API list.
    page_floor = timed(http_run(page, minimal_page_url()), args.repeats)
    api_scale = timed(http_run(api, "/api/v1/teams/", **key), args.repeats)
    print(
        f"  floor: a minimal template page p95 (median) {page_floor} ms; for scale, GET /api/v1/teams/ {api_scale} ms"
    )
    span_rows = "SELECT * FROM observability_execution WHERE team_id = %(team)s AND trace_id = %(trace)s"
    rows = []
    for label, trace in (("100-span trace", "c" + "0" * 24), ("1,000-span trace", "d" + "0" * 24)):
        reference = timed(sql_run(span_rows, {"team": team.pk, "trace": trace}), args.repeats)
        tree = timed(http_run(api, f"/api/v1/observability/traces/{trace}/", **key), args.repeats)
        with_payloads = timed(http_run(api, f"/api/v1/observability/traces/{trace}/?payloads=1", **key), args.repeats)
        shown = timed(http_run(page, f"/observability/traces/{trace}/"), args.repeats)
        rows += [
            (f"tree API, {label}", tree, reference),
            (f"tree API with payloads, {label}", with_payloads, reference),
            (f"trace page, {label}", shown, reference),
        ]
    session = "bsess-1000"
    reference = timed(
        sql_run(
            "SELECT * FROM observability_trace WHERE team_id = %(team)s AND session_id = %(session)s"
            " ORDER BY started_at DESC LIMIT 50",
            {"team": team.pk, "session": session},
        ),
        args.repeats,
    )
    listed = timed(http_run(api, f"/api/v1/observability/traces/?session={session}", **key), args.repeats)
    rows.append(("traces list by session (API)", listed, reference))
    listed_page = timed(http_run(page, f"/observability/traces/?session={session}"), args.repeats)
    rows.append(("traces list by session (page)", listed_page, reference))
    reference = timed(
        sql_run(
            f"SELECT execution_id FROM observability_spanpayload WHERE team_id = %(team)s"
            f" AND started_at >= now() - interval '7 days' AND {SEARCH_DOCUMENT} @@"
            " websearch_to_tsquery('simple'::regconfig, %(q)s)",
            {"team": team.pk, "q": RARE},
        ),
        args.repeats,
    )
    searched = timed(http_run(api, f"/api/v1/observability/traces/?q={RARE}", **key), args.repeats)
    rows.append((f"text search, 7 days, '{RARE}' (1% of payloads)", searched, reference))
    print(f"  {'':50} {'p95 (median)':>15} {'plain SELECT':>15}")
    for label, value, ref in rows:
        print(f"  {label:50} {value!s:>15} {ref!s:>15}")


if __name__ == "__main__":
    main()
