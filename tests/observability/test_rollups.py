"""Rollups: exact against a raw recompute (also after concurrent ingests), percentiles within the
histogram's stated error, rebuild + verify, retention."""

import datetime as dt
import random
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.db.models import Count, Sum

from observability import histogram, selectors, services
from observability.models import DailyRollup, Execution, HourlyRollup

from .conftest import nearest_rank


def random_events(rng, now, n, prefix="e", agents=("planner", "coder", "reviewer"), hours=30):
    events = []
    for i in range(n):
        status = "error" if rng.random() < 0.1 else "success"
        inp = rng.randint(0, 5000)
        out = rng.randint(0, 2000)
        event = {
            "id": f"{prefix}-{i}",
            "agent": rng.choice(agents),
            "model": rng.choice(["gpt-4o", "claude-sonnet-4-5", "unpriced-model"]),
            "agent_version": rng.choice(["", "1.0", "1.1"]),
            "started_at": (now - dt.timedelta(minutes=rng.randint(1, hours * 60))).isoformat(),
            "duration_ms": rng.lognormvariate(7, 1.2) if rng.random() > 0.01 else rng.random(),
            "status": status,
            "input_tokens": inp,
            "cached_input_tokens": rng.randint(0, inp),
            "output_tokens": out,
            "reasoning_tokens": rng.randint(0, out),
        }
        if status == "error":
            event["error_type"] = rng.choice(["Timeout", "RateLimit", "ToolError"])
        if rng.random() < 0.1:
            event["cost"] = round(rng.random(), 6)
        events.append(event)
    return events


@pytest.mark.django_db
def test_rollups_match_a_raw_recompute(team, other_team, ingest, now):
    rng = random.Random(1)
    ingest(team, random_events(rng, now, 1500))
    ingest(other_team, random_events(rng, now, 300))
    start, end = now - dt.timedelta(days=3), now + dt.timedelta(days=1)
    report = selectors.rollups_verify(start=start, end=end)
    assert report["ok"], report
    assert report["tables"]["observability_hourlyrollup"]["rows"] > 50
    # And the dashboard totals equal plain aggregates over the raw rows.
    period = selectors.time_range("custom", now - dt.timedelta(days=2), now + dt.timedelta(hours=1))
    totals = selectors.dashboard(team=team, period=period)["totals"]
    raw = Execution.objects.filter(team=team).aggregate(
        n=Count("id"), inp=Sum("input_tokens"), out=Sum("output_tokens"), cost=Sum("cost")
    )
    assert totals["executions"] == raw["n"] == 1500
    assert totals["input_tokens"] == raw["inp"] and totals["output_tokens"] == raw["out"]
    assert totals["cost"] == raw["cost"]  # exact: money is never rounded (crucible.money)
    assert totals["unpriced"] == Execution.objects.filter(team=team, cost__isnull=True).count() > 0
    assert totals["errors"] == Execution.objects.filter(team=team, status="error").count()


@pytest.mark.django_db
def test_verify_finds_damage_and_rebuild_repairs_it(team, ingest, now):
    ingest(team, random_events(random.Random(2), now, 400))
    start, end = now - dt.timedelta(days=3), now + dt.timedelta(days=1)
    row = HourlyRollup.objects.filter(team=team).first()
    HourlyRollup.objects.filter(pk=row.pk).update(executions=row.executions + 1)
    DailyRollup.objects.filter(team=team).first().delete()
    report = selectors.rollups_verify(start=start, end=end)
    assert not report["ok"]
    assert report["tables"]["observability_hourlyrollup"]["mismatches"] == 1
    assert report["tables"]["observability_dailyrollup"]["mismatches"] == 1
    with pytest.raises(CommandError):
        call_command("observability_rollups", "--days", "3", "--verify-only")
    call_command("observability_rollups", "--days", "3")
    assert selectors.rollups_verify(start=start, end=end)["ok"]


@pytest.mark.django_db
def test_percentiles_are_within_the_stated_error(team, ingest, now):
    rng = random.Random(3)
    durations = [rng.lognormvariate(8, 1.0) for _ in range(3000)] + [rng.uniform(5, 50) for _ in range(200)]
    events = [
        {"id": f"p{i}", "agent": "a", "started_at": (now - dt.timedelta(minutes=5)).isoformat(), "duration_ms": d}
        for i, d in enumerate(durations)
    ]
    ingest(team, events)
    period = selectors.time_range("24h")
    totals = selectors.dashboard(team=team, period=period)["totals"]
    for key, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
        exact = nearest_rank(durations, q)
        assert abs(totals[key] - exact) / exact <= histogram.RELATIVE_ERROR + 0.002, (key, totals[key], exact)


def test_histogram_buckets_cover_their_bounds():
    for value in [0.2, 1.0, 1.5, 37.0, 999.9, 1000.0, 123456.0, 4_000_000.0, 5e7]:
        index = histogram.bucket_of(value)
        low, high = histogram.bucket_bounds(index)
        assert low <= value < high
        if 1 <= value < histogram.TOP_MS:
            assert abs(histogram.bucket_value(index) - value) / value <= histogram.RELATIVE_ERROR + 1e-12


@pytest.mark.django_db
def test_sql_and_python_put_durations_in_the_same_bucket():
    rng = random.Random(4)
    values = [rng.lognormvariate(6, 3) for _ in range(2000)] + [0.0, 0.999, 1.0, histogram.TOP_MS, histogram.RATIO**10]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT observability_hist_bucket(v) FROM unnest(%s::float8[]) WITH ORDINALITY AS t(v, i) ORDER BY i",
            [values],
        )
        sql = [r[0] for r in cursor.fetchall()]
    assert sql == [histogram.bucket_of(v) for v in values]


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingests_keep_rollups_exact(team, now):
    """Several writers at once on the same agents and hours, with overlapping retries."""
    rng = random.Random(5)
    all_events = random_events(rng, now, 1200, agents=("a", "b"), hours=3)
    batches = [all_events[i : i + 150] for i in range(0, len(all_events), 150)]
    batches += [all_events[100:250], all_events[600:700]]  # retries racing with the originals
    errors = []

    def worker(my_batches):
        try:
            for batch in my_batches:
                services.executions_ingest(team=team, events=batch)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(batches[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert Execution.objects.filter(team=team).count() == 1200
    assert sum(HourlyRollup.objects.filter(team=team).values_list("executions", flat=True)) == 1200
    report = selectors.rollups_verify(start=now - dt.timedelta(days=1), end=now + dt.timedelta(days=1), team=team)
    assert report["ok"], report


@pytest.mark.django_db
def test_retention_deletes_old_raw_rows_and_keeps_rollups(team, ingest, now):
    ingest(team, [{"id": "recent", "agent": "a", "started_at": now.isoformat(), "duration_ms": 5}])
    old = Execution.objects.create(
        team=team,
        client_id="old",
        agent_name="a",
        started_at=now - dt.timedelta(days=40),
        duration_ms=5,
        status="success",
        cost_source="none",
    )
    rollups_before = HourlyRollup.objects.count()
    call_command("observability_retention", "--days", "30")
    assert not Execution.objects.filter(pk=old.pk).exists()
    assert Execution.objects.filter(client_id="recent").exists()
    assert HourlyRollup.objects.count() == rollups_before
    with pytest.raises(CommandError):
        call_command("observability_retention", "--days", "0")


@pytest.mark.django_db
def test_rebuild_refuses_days_beyond_retention(team):
    with pytest.raises(CommandError, match="retention"):
        call_command("observability_rollups", "--days", "400")
