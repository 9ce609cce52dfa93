"""The ingest's fast paths give the same stored figures as the plain ones: array parameters as one
literal, the histogram merged bucket by bucket or whole, rows numbered by the table or taken first."""

import datetime as dt
import random
from decimal import Decimal

import pytest
from django.db import connection

from observability import histogram, rollups, selectors
from observability.ingest.insert import executions_insert
from observability.models import DailyRollup, Execution, HourlyRollup, SpanPayload
from observability.sql import fetch_rows, pg_array


@pytest.mark.django_db
def test_array_literals_reach_postgresql_unchanged():
    texts = ['say "hi"', "back\\slash", "a,b", "{braces}", "", "NULL", "ünïcødé ✓", " padded "]
    numbers = [0, -7, 2**62, 1.5, 1e-9, Decimal("123.45678901")]
    when = [dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC), None]
    row = fetch_rows(
        "SELECT %(t)s::text[] AS t, %(n)s::numeric[] AS n, %(w)s::timestamptz[] AS w, %(e)s::bigint[] AS e,"
        " %(b)s::boolean[] AS b",
        {"t": texts, "n": numbers, "w": when, "e": [], "b": [True, False, None]},
    )[0]
    assert row["t"] == texts
    assert [float(x) for x in row["n"]] == [float(x) for x in numbers]
    assert row["n"][-1] == Decimal("123.45678901")
    assert row["w"] == when
    assert row["e"] == [] and row["b"] == [True, False, None]
    assert pg_array(["x", None]) == '{"x",NULL}'


def test_the_histogram_merge_adds_only_the_touched_buckets_until_there_are_many():
    sparse = rollups.hist_merge_sql({3, 70})
    assert sparse == "hist[4] = r.hist[4] + EXCLUDED.hist[4], hist[71] = r.hist[71] + EXCLUDED.hist[71]"
    assert rollups.hist_merge_sql(set(range(rollups.SPARSE_MERGE_MAX + 1))) == rollups.HIST_MERGE_DENSE
    assert rollups.hist_merge_sql(set()) == "hist = r.hist"


def _events(prefix, durations, when):
    return [
        {"id": f"{prefix}-{i}", "agent": "a", "model": "m", "started_at": when.isoformat(), "duration_ms": d}
        for i, d in enumerate(durations)
    ]


@pytest.mark.django_db
def test_sparse_and_whole_histogram_merges_give_the_counts_of_the_rows(team, ingest, now):
    when = now.replace(minute=30, second=0, microsecond=0) - dt.timedelta(hours=1)
    few = [5.0, 5.0, 700.0]  # 2 buckets: merged bucket by bucket
    many = [histogram.RATIO**k * 1.01 for k in range(0, 120)]  # 120 buckets: merged whole
    assert len({histogram.bucket_of(d) for d in many}) > rollups.SPARSE_MERGE_MAX
    ingest(team, _events("few1", few, when))
    ingest(team, _events("few2", few, when))  # onto the rows the first batch created
    ingest(team, _events("many", many, when))
    ingest(team, _events("few3", few, when))

    expected = histogram.empty()
    for d in few * 3 + many:
        expected[histogram.bucket_of(d)] += 1
    hourly = HourlyRollup.objects.get(team=team)
    daily = DailyRollup.objects.get(team=team)
    assert list(hourly.hist) == expected and list(daily.hist) == expected
    assert hourly.executions == daily.executions == len(few) * 3 + len(many)
    report = selectors.rollups_verify(start=now - dt.timedelta(days=2), end=now + dt.timedelta(days=1), team=team)
    assert report["ok"], report


@pytest.mark.django_db
def test_rows_without_payloads_are_numbered_by_the_table_and_with_payloads_first(team, ingest, event_factory):
    ingest(team, [event_factory(id="plain")])
    ingest(team, [event_factory(id="with-input", input="question", output="answer")])
    plain = Execution.objects.get(team=team, client_id="plain")
    carried = Execution.objects.get(team=team, client_id="with-input")
    assert carried.pk > plain.pk
    payload = SpanPayload.objects.get(execution_id=carried.pk)
    assert (payload.input, payload.output) == ("question", "answer")


@pytest.mark.django_db
def test_a_copy_that_meets_a_stored_id_falls_back_row_by_row(team, ingest, event_factory):
    """A concurrent batch stored one of the ids between the lookup and the COPY: the COPY fails on
    the unique key, and INSERT ... ON CONFLICT stores the others (ids are then taken first)."""
    ingest(team, [event_factory(id="raced")])
    rng = random.Random(1)
    started = Execution.objects.get(client_id="raced").started_at
    rows = []
    for client_id in ("fresh", "raced"):
        rows.append(
            {name: None for name in ("id", "agent_id", "agent_version_id", "variant_id", "cost", "quality")}
            | {name: "" for name in ("version", "model", "operation", "parent_span_id", "name", "session_id")}
            | {name: "" for name in ("end_user_id", "error_type", "error_message", "content_hash", "cost_source")}
            | {name: 0 for name in ("input_tokens", "output_tokens", "cached_input_tokens", "reasoning_tokens")}
            | {
                "client_id": client_id,
                "agent_name": "a",
                "trace_id": f"{rng.getrandbits(128):032x}",
                "span_id": f"{rng.getrandbits(64):016x}",
                "kind": "agent",
                "attributes": {},
                "request_params": {},
                "time_to_first_token_ms": None,
                "tags": ["x"],
                "counts_execution": True,
                "counts_usage": True,
                "started_at": started,
                "duration_ms": 1.0,
                "status": "success",
                "input": None,
                "output": None,
            }
        )
    stored = executions_insert(rows, team_id=team.pk, build_id=None, api_key_id=None, source="api", existing=set())
    assert stored == {"fresh"}
    fresh = Execution.objects.get(team=team, client_id="fresh")
    assert fresh.pk == rows[0]["id"] and fresh.tags == ["x"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM observability_execution WHERE client_id = 'raced'")
        assert cursor.fetchone()[0] == 1
