"""Benchmark: trace ingest, spans per second, beside a raw COPY of the same rows in the same run.

Traces of 10 spans (invoke_agent -> 4 chat calls with about 2 KB of messages each, 3 tool calls,
a retrieval and an embedding), sent
1. through the batch API (``POST /api/v1/observability/spans/``, Django's test client, 1,000 spans
   per request: JSON parsing, auth, validation, redaction, caps, pricing, trace locks, counting
   once, insert, payloads, rollups and trace summaries);
2. through OTLP/HTTP protobuf (``POST /api/v1/observability/otlp/v1/traces``, the same spans as an
   ``ExportTraceServiceRequest`` with GenAI attributes and messages);
3. reference: a raw ``COPY`` of the same span rows, payload rows and trace rows into the same
   tables (with their indexes): no validation, no redaction, no rollups.

    CRUCIBLE_DB_NAME=bench_traces .venv/bin/python benchmarks/traces.py --quick       # CI-sized
    CRUCIBLE_DB_NAME=bench_traces .venv/bin/python benchmarks/traces.py               # 5,000 spans x 5 rounds
    CRUCIBLE_DB_NAME=bench_traces .venv/bin/python benchmarks/traces.py --spans 100000 --repeats 1 --disk
    CRUCIBLE_DB_NAME=bench_traces .venv/bin/python benchmarks/traces.py --quick --batch 200 --split
    CRUCIBLE_DB_NAME=bench_traces .venv/bin/python benchmarks/traces.py --quick --batch 200 --split --tags

``--split`` spreads each trace over the round's requests (each request carries the same position of
every trace: the root spans first, then the first child of each, ...), so each trace summary is
upserted once per request, as from an exporter that flushes every few seconds while its traces run.
``--tags`` tags every trace (its root span carries two tags, ``production`` and one of ten
cohorts), so the traces' tag index is written; without it no trace has a tag.

The three run in interleaved rounds (``benchmarks/_measure.py``) and the medians are compared; CPU
per span (this process and its PostgreSQL backend) gives spans per second per core. ``--disk``
ingests once more and measures the tables' size per million spans (the capacity model's figure).

Drop the database afterwards (``DROP DATABASE bench_traces``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.setdefault("CRUCIBLE_DB_NAME", "bench_traces")
if not DB_NAME.startswith("bench_"):
    sys.exit(f"Refusing to run against database '{DB_NAME}': set CRUCIBLE_DB_NAME=bench_traces.")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crucible.settings")

import django  # noqa: E402

django.setup()

from _measure import CpuMeter, cpu_per_item, interleaved, load_average, median_rate  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span  # noqa: E402

from crucible import services as core  # noqa: E402
from crucible.models import Team  # noqa: E402
from observability.ingest.insert import COPY_COLUMNS, execution_copy_row  # noqa: E402
from observability.models import Execution  # noqa: E402
from observability.sql import pg_array  # noqa: E402

TABLES = (
    "observability_spanpayload",
    "observability_execution",
    "observability_trace",
    "observability_hourlyrollup",
    "observability_dailyrollup",
    "observability_errorrollup",
)
WORDS = "the order shipped from our warehouse in Rotterdam and should arrive on Thursday with DHL".split()
SHAPE = [("agent", None)] + [("llm", 0), ("tool", 1), ("llm", 2), ("tool", 3), ("retrieval", 4)]
SHAPE += [("llm", 5), ("tool", 6), ("embedding", 7), ("llm", 8)]  # 10 spans


def team_named(slug: str) -> Team:
    return Team.objects.filter(slug=slug).first() or core.team_create(name=slug, slug=slug)


def _text(rng, size: int) -> str:
    words = []
    while sum(len(w) + 1 for w in words) < size:
        words.append(rng.choice(WORDS))
    return " ".join(words)


def make_spans(n_traces: int, rng: random.Random, now: dt.datetime, tags: bool = False) -> list[dict]:
    spans = []
    for t in range(n_traces):
        trace_id = f"{rng.getrandbits(128):032x}"
        ids = [f"{rng.getrandbits(64):016x}" for _ in SHAPE]
        start = now - dt.timedelta(seconds=rng.randint(0, 600))
        for i, (kind, parent) in enumerate(SHAPE):
            span = {
                "trace_id": trace_id,
                "span_id": ids[i],
                "kind": kind,
                "name": f"{kind} {i}",
                "started_at": (start + dt.timedelta(milliseconds=50 * i)).isoformat(),
                "duration_ms": 40.0 if i else 600.0,
            }
            if parent is None:
                span.update(agent=f"agent-{t % 50:02d}", session_id=f"s-{t // 4}", user_id=f"u-{t % 97}")
                if tags:
                    span["tags"] = ["production", f"cohort-{t % 10}"]
            else:
                span["parent_span_id"] = ids[0]
            if kind == "llm":
                span.update(
                    model="gpt-4o-mini",
                    input_tokens=rng.randint(300, 900),
                    output_tokens=rng.randint(30, 200),
                    input=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": _text(rng, 1500)}],
                    output=[{"role": "assistant", "content": _text(rng, 450)}],
                )
            elif kind == "tool":
                span.update(input={"order": t}, output={"status": "shipped"})
            spans.append(span)
    return spans


def _kv(key, value) -> KeyValue:
    if isinstance(value, list):
        return KeyValue(
            key=key, value=AnyValue(array_value=ArrayValue(values=[AnyValue(string_value=v) for v in value]))
        )
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


OPERATIONS = {"agent": "invoke_agent", "llm": "chat", "tool": "execute_tool", "embedding": "embeddings"}


def otlp_bodies(spans: list[dict], per_request: int) -> list[bytes]:
    bodies = []
    for start in range(0, len(spans), per_request):
        request = ExportTraceServiceRequest()
        resource = ResourceSpans()
        resource.resource.attributes.append(_kv("service.name", "bench-agents"))
        scope = ScopeSpans()
        for s in spans[start : start + per_request]:
            begin = int(dt.datetime.fromisoformat(s["started_at"]).timestamp() * 1e9)
            span = Span(
                trace_id=bytes.fromhex(s["trace_id"]),
                span_id=bytes.fromhex(s["span_id"]),
                parent_span_id=bytes.fromhex(s.get("parent_span_id", "")),
                name=s["name"],
                start_time_unix_nano=begin,
                end_time_unix_nano=begin + int(s["duration_ms"] * 1e6),
            )
            attrs = [_kv("gen_ai.operation.name", OPERATIONS.get(s["kind"], "retrieve"))]
            if s["kind"] == "retrieval":
                attrs = [_kv("openinference.span.kind", "RETRIEVER")]
            if "agent" in s:
                attrs += [_kv("gen_ai.agent.name", s["agent"]), _kv("session.id", s["session_id"])]
                if "tags" in s:
                    attrs.append(_kv("tag.tags", s["tags"]))
            if s["kind"] == "llm":
                attrs += [
                    _kv("gen_ai.request.model", s["model"]),
                    _kv("gen_ai.usage.input_tokens", s["input_tokens"]),
                    _kv("gen_ai.usage.output_tokens", s["output_tokens"]),
                    _kv("gen_ai.input.messages", json.dumps(s["input"])),
                    _kv("gen_ai.output.messages", json.dumps(s["output"])),
                ]
            elif s["kind"] == "tool":
                attrs += [
                    _kv("gen_ai.tool.name", "lookup_order"),
                    _kv("gen_ai.tool.call.arguments", json.dumps(s["input"])),
                    _kv("gen_ai.tool.call.result", json.dumps(s["output"])),
                ]
            span.attributes.extend(attrs)
            scope.spans.append(span)
        resource.scope_spans.append(scope)
        request.resource_spans.append(resource)
        bodies.append(request.SerializeToString())
    return bodies


def clear(team: Team) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
        for table in TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE team_id = %s", [team.pk])
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")


def copy_reference(team: Team, spans: list[dict], now) -> float:
    """Seconds to COPY the spans, their payloads and their traces' rows, as they are stored."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('observability_execution', 'id')) FROM generate_series(1, %s)",
            [len(spans)],
        )
        ids = [row[0] for row in cursor.fetchall()]
    rows = [
        (
            pk,
            *execution_copy_row(
                {
                    "team_id": team.pk,
                    "client_id": f"span:{s['trace_id']}:{s['span_id']}",
                    "agent_name": s.get("agent", "agent"),
                    "model": s.get("model", ""),
                    "trace_id": s["trace_id"],
                    "span_id": s["span_id"],
                    "parent_span_id": s.get("parent_span_id", ""),
                    "kind": s["kind"],
                    "name": s["name"],
                    "session_id": s.get("session_id", ""),
                    "end_user_id": s.get("user_id", ""),
                    "tags": s.get("tags", []),
                    "started_at": s["started_at"],
                    "duration_ms": s["duration_ms"],
                    "status": "success",
                    "input_tokens": s.get("input_tokens", 0),
                    "output_tokens": s.get("output_tokens", 0),
                    "cost_source": "none",
                    "content_hash": "0" * 32,
                    "received_at": now,
                }
            ),
        )
        for pk, s in zip(ids, spans, strict=True)
    ]
    connection.ensure_connection()
    start = time.perf_counter()
    with connection.cursor() as cursor, cursor.connection.cursor() as pg:
        with pg.copy(f"COPY observability_execution (id, {', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        with pg.copy(
            "COPY observability_spanpayload (execution_id, team_id, started_at, input, output, input_truncated,"
            " output_truncated, redacted) FROM STDIN"
        ) as copy:
            for pk, s in zip(ids, spans, strict=True):
                if "input" in s:
                    copy.write_row(
                        (
                            pk,
                            team.pk,
                            s["started_at"],
                            json.dumps(s["input"]),
                            json.dumps(s["output"]),
                            False,
                            False,
                            False,
                        )
                    )
        with pg.copy(
            "COPY observability_trace (team_id, trace_id, root_span_id, name, agent_name, started_at, ended_at,"
            " duration_ms, status, span_count, error_count, input_tokens, output_tokens, cost, session_id,"
            " end_user_id, tags) FROM STDIN"
        ) as copy:
            for s in spans:
                if "agent" in s:
                    copy.write_row(
                        (
                            team.pk,
                            s["trace_id"],
                            s["span_id"],
                            s["name"],
                            s["agent"],
                            s["started_at"],
                            s["started_at"],
                            600.0,
                            "success",
                            10,
                            0,
                            0,
                            0,
                            0,
                            s["session_id"],
                            s["user_id"],
                            pg_array(s["tags"]) if s.get("tags") else "{}",
                        )
                    )
    return time.perf_counter() - start


DISK_TABLES = ("observability_execution", "observability_spanpayload", "observability_trace")
ROLLUP_TABLES = ("observability_hourlyrollup", "observability_dailyrollup")


def disk_per_million(spans: int) -> dict:
    """Bytes per million stored spans, per table (heap, TOAST and indexes, after VACUUM), from the
    rows just ingested into emptied tables; the rollups' rows and bytes as they are (they grow with
    agents, models, versions and hours, not with spans)."""
    sizes = {}
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")  # the API's request timeout is not for VACUUM
        for table in (*DISK_TABLES, *ROLLUP_TABLES):
            cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute("SELECT pg_total_relation_size(%s::regclass)", [table])
            size = cursor.fetchone()[0]
            cursor.execute(f"SELECT count(*) FROM {table}")
            sizes[table] = (cursor.fetchone()[0], size * 1_000_000 / spans if table in DISK_TABLES else size)
    return sizes


def empty_tables() -> None:
    """TRUNCATE (not DELETE) before measuring sizes: no free space left over from earlier rounds."""
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join((*DISK_TABLES, *ROLLUP_TABLES, 'observability_errorrollup'))} CASCADE")


def split(spans: list[dict]) -> list[dict]:
    """The spans by their position in their trace: every trace's root, then every trace's first
    child, and so on (a trace in every request of a round)."""
    return [span for position in range(len(SHAPE)) for span in spans[position :: len(SHAPE)]]


def bench(n_spans: int, batch: int, repeats: int, disk: bool = False, spread: bool = False, tags: bool = False) -> dict:
    """Interleaved rounds of the raw COPY, the batch API and OTLP; medians of the rounds."""
    team = team_named("bench-traces")
    _, raw_key = core.api_key_create(team=team, name="bench")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw_key}"}
    now = timezone.now()
    n_traces = n_spans // len(SHAPE)
    spans = n_traces * len(SHAPE)
    client = Client()
    copy_spans = make_spans(n_traces, random.Random(1), now, tags)
    order = split if spread else list
    api_bodies = [
        json.dumps({"events": chunk})
        for chunk in _chunks(order(make_spans(n_traces, random.Random(2), now, tags)), batch)
    ]
    otlp = otlp_bodies(order(make_spans(n_traces, random.Random(3), now, tags)), batch)

    def copy_run():
        clear(team)
        with CpuMeter() as meter:
            copy_reference(team, copy_spans, now)
        assert Execution.objects.filter(team=team).count() == spans
        return meter

    def api_run():
        clear(team)
        with CpuMeter() as meter:
            for body in api_bodies:
                response = client.post("/api/v1/observability/spans/", body, content_type="application/json", **headers)
                assert response.status_code == 200, response.content[:500]
        assert Execution.objects.filter(team=team).count() == spans
        return meter

    def otlp_run():
        clear(team)
        with CpuMeter() as meter:
            for body in otlp:
                response = client.post(
                    "/api/v1/observability/otlp/v1/traces", body, content_type="application/x-protobuf", **headers
                )
                assert response.status_code == 200, response.content[:500]
        stored = Execution.objects.filter(team=team).count()
        assert stored == spans, stored
        return meter

    runs = interleaved({"copy": copy_run, "api": api_run, "otlp": otlp_run}, repeats)
    sizes = None
    if disk:
        empty_tables()
        api_run()
        sizes = disk_per_million(spans)
    clear(team)
    return {
        "spans": spans,
        "copy": median_rate(runs["copy"], spans),
        "api": median_rate(runs["api"], spans),
        "otlp": median_rate(runs["otlp"], spans),
        "cpu": {name: cpu_per_item(meters, spans) for name, meters in runs.items()},
        "disk": sizes,
    }


def _chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=None, help="Spans per round (default 5,000).")
    parser.add_argument("--batch", type=int, default=1000, help="Spans per request (default 1000).")
    parser.add_argument("--repeats", type=int, default=None, help="Interleaved rounds (default 5).")
    parser.add_argument("--quick", action="store_true", help="CI-sized: 2,000 spans, 3 rounds.")
    parser.add_argument("--disk", action="store_true", help="Also measure the disk per million spans.")
    parser.add_argument("--split", action="store_true", help="Each trace's spans spread over the round's requests.")
    parser.add_argument("--tags", action="store_true", help="Every trace tagged (two tags on its root span).")
    args = parser.parse_args()
    spans = args.spans or (2_000 if args.quick else 5_000)
    repeats = args.repeats or (3 if args.quick else 5)
    call_command("migrate", verbosity=0)
    print(f"database {DB_NAME}; PostgreSQL; load average {load_average()}")
    print(
        f"Trace ingest: {spans:,} spans per round (traces of 10, ~2 KB of messages per LLM span),"
        f" {args.batch} per request{', each trace spread over the requests' if args.split else ''}"
        f"{', every trace tagged' if args.tags else ''},"
        f" {repeats} interleaved rounds (medians)"
    )
    r = bench(spans, args.batch, repeats, disk=args.disk, spread=args.split, tags=args.tags)
    print(f"  raw COPY (spans, payloads, traces)  : {r['copy']:>10,.0f} spans/s")
    print(f"  batch API /spans/, test client       : {r['api']:>10,.0f} spans/s   = {r['api'] / r['copy']:.2f} x COPY")
    print(
        f"  OTLP protobuf, test client           : {r['otlp']:>10,.0f} spans/s   = {r['otlp'] / r['copy']:.2f} x COPY"
    )
    print("  (targets: >= 0.30 x COPY, issue 11; >= 0.5 x COPY, issue 16)")
    for name, label in (("api", "batch API"), ("otlp", "OTLP     "), ("copy", "raw COPY ")):
        python, database = r["cpu"][name]
        if database is None:
            print(f"  {label} CPU: {python * 1e6:,.0f} us Python per span (server CPU not readable)")
        else:
            total = python + database
            print(
                f"  {label} CPU: {python * 1e6:,.0f} us Python + {database * 1e6:,.0f} us PostgreSQL per span"
                f" = {1 / total:,.0f} spans/s per core"
            )
    if r["disk"]:
        d = r["disk"]
        print("  Disk per 1,000,000 spans (heap + TOAST + indexes, after VACUUM, tables emptied first):")
        for table in DISK_TABLES:
            rows, size = d[table]
            print(f"    {table:28s}: {size / 2**20:>8,.0f} MiB  ({rows:,} rows measured)")
        total = sum(d[t][1] for t in DISK_TABLES)
        print(f"    spans + payloads + traces   : {total / 2**20:>8,.0f} MiB = {total / 1e6:,.0f} bytes per span")
        for table in ROLLUP_TABLES:
            rows, size = d[table]
            print(f"    {table:28s}: {rows:,} rows, {size / 2**20:,.1f} MiB (not per span)")


if __name__ == "__main__":
    main()
