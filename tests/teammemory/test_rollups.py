"""Daily rollups: maintained exactly by build_record (also under concurrent reports), rebuilt and
verified by the management command, and the reads built on them agree with the raw builds."""

import datetime as dt
import io
import random
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.db.models import Avg, Count, Q, Sum

from teammemory import conf, histogram, rollups, selectors, services
from teammemory.models import Build, BuildDailyRollup, BuildErrorDailyRollup
from tests.teammemory.conftest import NODE_STACK, NOW, PYTHON_STACK

DAY0 = dt.date(2026, 1, 1)
DAY1 = dt.date(2027, 1, 1)


def verify(team):
    return rollups.verify(team_ids=[team.pk], start_day=DAY0, end_day=DAY1)


def raw_summary(team, since, until):
    qs = Build.objects.filter(team=team, started_at__gte=since, started_at__lt=until)
    return qs.aggregate(
        builds=Count("pk"),
        succeeded=Count("pk", filter=Q(status="succeeded")),
        failed=Count("pk", filter=Q(status="failed")),
        avg_quality=Avg("quality"),
        tokens=Sum("tokens"),
        cost=Sum("cost"),
    )


@pytest.mark.django_db
class TestMaintainedOnReport:
    def test_rollups_equal_a_recompute(self, make_build, team, agent):
        version = agent.versions.first()
        make_build(
            status="succeeded",
            quality=90,
            minutes=3,
            tokens=10,
            cost="0.5",
            stack=PYTHON_STACK,
            agents=[{"agent": agent.slug, "version": version.version}],
        )
        make_build(
            status="failed",
            quality=None,
            minutes=70,
            stack=NODE_STACK,
            agents=[{"agent": agent.slug}],
            errors=[
                {"type": "Timeout", "message": "a"},
                {"type": "Timeout", "message": "b"},
                {"type": "Lint", "message": ""},
            ],
        )
        make_build(status="cancelled", quality=10, minutes=0, stack={}, started=NOW - dt.timedelta(days=40))
        report = verify(team)
        assert report["ok"], report
        assert BuildDailyRollup.objects.filter(team=team).count() == 3
        err = BuildErrorDailyRollup.objects.get(team=team, error_type="Timeout")
        assert (err.occurrences, err.builds, err.failed_builds, err.example_message) == (2, 1, 1, "b")
        row = BuildDailyRollup.objects.get(team=team, stack_key="python + django + postgresql")
        assert row.components == ["python", "django", "postgresql"]
        assert (row.builds, row.succeeded, row.scored, row.quality_sum, row.quality_sq_sum, row.tokens) == (
            1,
            1,
            1,
            90,
            8100,
            10,
        )
        assert row.cost == Decimal("0.5") and sum(row.hist) == 1 and row.hist[histogram.bucket_of(180_000)] == 1

    def test_a_rejected_report_leaves_the_rollups_alone(self, make_build, team):
        make_build()
        with pytest.raises(ValidationError, match="nobody"):
            services.build_record(
                team=team,
                client_build_id="bad",
                status="succeeded",
                started_at=NOW,
                finished_at=NOW,
                agents=[{"agent": "nobody"}],
            )
        assert BuildDailyRollup.objects.get(team=team).builds == 1

    def test_a_retried_report_is_counted_once(self, make_build, team):
        build = make_build(client_build_id="same")
        again, created = services.build_record(
            team=team,
            client_build_id="same",
            status="failed",
            started_at=build.started_at,
            finished_at=build.finished_at,
        )
        assert not created and BuildDailyRollup.objects.get(team=team).builds == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_reports_give_exact_rollups(team):
    """Threads, each with its own database connection, report builds of the same day, stack,
    component and error type at once: the upserts add up to exactly a recompute."""
    from marketplace import services as marketplace_services

    agent = marketplace_services.agent_create(team=team, name="Coder", system_prompt="x", version="1.0.0")
    threads, per_thread, errors = 6, 8, []
    barrier = threading.Barrier(threads)
    start = NOW - dt.timedelta(days=2)

    def work(index):
        try:
            barrier.wait()
            for n in range(per_thread):
                services.build_record(
                    team=team,
                    client_build_id=f"t{index}-{n}",
                    status="failed" if n % 3 == 0 else "succeeded",
                    quality=(index * 7 + n) % 101,
                    started_at=start + dt.timedelta(minutes=n),
                    finished_at=start + dt.timedelta(minutes=n + 1 + index),
                    tokens=100 + n,
                    cost="0.01",
                    stack=PYTHON_STACK if n % 2 else NODE_STACK,
                    agents=[{"agent": agent.slug, "version": "1.0.0"}],
                    errors=[{"type": "Timeout", "message": f"m{index}-{n}"}],
                )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    assert Build.objects.filter(team=team).count() == threads * per_thread
    report = verify(team)
    assert report["ok"], report
    total = sum(BuildDailyRollup.objects.filter(team=team).values_list("builds", flat=True))
    assert total == threads * per_thread
    assert BuildErrorDailyRollup.objects.get(team=team, error_type="Timeout").builds == threads * per_thread


def _bulk(team, n, seed=7):
    """n builds over 40 days with lognormal durations, inserted in bulk, then rolled up."""
    from teammemory.stacks import normalize_stack, stack_components, stack_key

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        stack = PYTHON_STACK if rng.random() < 0.6 else NODE_STACK
        norm = normalize_stack(stack)
        started = NOW - dt.timedelta(days=40) + dt.timedelta(minutes=rng.randrange(0, 40 * 24 * 60))
        ms = int(rng.lognormvariate(13.3, 0.8))
        status = rng.choice(["succeeded", "succeeded", "failed", "cancelled"])
        rows.append(
            Build(
                team=team,
                client_build_id=f"bulk-{seed}-{i}",
                stack=stack,
                components=stack_components(norm),
                stack_key=stack_key(norm),
                status=status,
                quality=None if status == "cancelled" else rng.randint(0, 100),
                started_at=started,
                finished_at=started + dt.timedelta(milliseconds=ms),
                duration_ms=ms,
                tokens=rng.randint(0, 5000),
                cost=Decimal(rng.randint(0, 1000)) / 1000,
            )
        )
    Build.objects.bulk_create(rows, batch_size=2000)
    services.rollups_rebuild_all(teams=[team])


@pytest.mark.django_db
class TestReads:
    def test_percentiles_within_the_stated_error(self, team):
        _bulk(team, 1500)
        since, until = NOW - dt.timedelta(days=41), NOW
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms), percentile_disc(0.9) WITHIN GROUP (ORDER BY duration_ms),
                          percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms), percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_ms)
                   FROM teammemory_build WHERE team_id = %s""",
                [team.pk],
            )
            disc50, disc90, cont50, cont90 = cursor.fetchone()
        s = selectors.insights_summary(team=team, since=since, until=until)
        err = histogram.RELATIVE_ERROR
        # Against the exact nearest-rank percentile: within the stated error.
        assert abs(s["median_duration_ms"] - disc50) <= err * disc50
        assert abs(s["p90_duration_ms"] - disc90) <= err * disc90
        # Against percentile_cont (interpolated): the same bound plus the gap between neighbours.
        assert abs(s["median_duration_ms"] - cont50) <= err * cont50 + abs(cont50 - disc50)
        assert abs(s["p90_duration_ms"] - cont90) <= err * cont90 + abs(cont90 - disc90)
        assert abs(cont50 - disc50) < 0.01 * cont50  # so the comparison above is a tight one
        # Per stack, too.
        for row in selectors.insights_by_stack(team=team, since=since, until=until):
            exact = (
                Build.objects.filter(team=team, stack_key=row["stack_key"])
                .order_by("duration_ms")
                .values_list("duration_ms", flat=True)
            )
            exact = list(exact)
            import math

            disc = exact[math.ceil(0.5 * len(exact)) - 1]
            assert abs(row["median_duration_ms"] - disc) <= err * disc

    def test_any_range_is_exact_including_partial_days(self, team):
        _bulk(team, 800, seed=11)
        rng = random.Random(3)
        ranges = [
            (NOW - dt.timedelta(days=30, hours=5, minutes=7), NOW - dt.timedelta(hours=3)),
            (NOW - dt.timedelta(hours=20), NOW - dt.timedelta(hours=2)),  # less than a day
            (dt.datetime(2026, 10, 20, tzinfo=dt.UTC), dt.datetime(2026, 11, 2, tzinfo=dt.UTC)),
        ]
        ranges += [
            (
                NOW - dt.timedelta(minutes=rng.randrange(0, 50 * 1440)),
                NOW + dt.timedelta(minutes=rng.randrange(0, 1440)),
            )
            for _ in range(4)
        ]
        for since, until in ranges:
            raw = raw_summary(team, since, until)
            s = selectors.insights_summary(team=team, since=since, until=until)
            assert (s["builds"], s["succeeded"], s["failed"]) == (raw["builds"], raw["succeeded"], raw["failed"])
            assert s["total_tokens"] == (raw["tokens"] or 0)
            assert s["total_cost"] == (raw["cost"] or 0)  # money is exact (crucible.money)
            assert s["avg_quality"] == (
                None if raw["avg_quality"] is None else pytest.approx(float(raw["avg_quality"]))
            )
            stacks = {
                r["stack_key"]: r["builds"] for r in selectors.insights_by_stack(team=team, since=since, until=until)
            }
            assert sum(stacks.values()) == raw["builds"]
            components = {
                r["component"]: r["builds"]
                for r in selectors.insights_by_component(team=team, since=since, until=until)
            }
            assert (
                components.get("python", 0)
                == Build.objects.filter(
                    team=team, started_at__gte=since, started_at__lt=until, components__contains=["python"]
                ).count()
            )

    def test_reads_do_not_touch_raw_builds_for_whole_days(self, team, django_assert_max_num_queries):
        _bulk(team, 300, seed=5)
        Build.objects.filter(team=team).update(tokens=0)  # raw rows changed behind the rollups' back
        since = dt.datetime(2026, 10, 20, tzinfo=dt.UTC)
        s = selectors.insights_summary(team=team, since=since, until=since + dt.timedelta(days=10))
        assert s["total_tokens"] > 0  # whole days come from the rollups
        with django_assert_max_num_queries(12):
            selectors.team_insights(team=team, since=since, until=NOW)


@pytest.mark.django_db
def test_flaky_detection_is_bounded_to_recent_builds(make_build, team, monkeypatch):
    monkeypatch.setattr(conf, "MIN_SAMPLE", 2)
    text = "Export monthly reports as CSV"
    old = NOW - dt.timedelta(days=30)
    for i, status in enumerate(["succeeded", "failed", "succeeded", "failed", "succeeded"]):
        make_build(requirements=text, status=status, started=old + dt.timedelta(hours=i))
    since, until = NOW - dt.timedelta(days=60), NOW
    monkeypatch.setattr(conf, "RECO_FLAKY_LOOKBACK_DAYS", 45)
    assert [r["stack_key"] for r in selectors.flaky_stacks(team=team, since=since, until=until)] == [
        "python + django + postgresql"
    ]
    monkeypatch.setattr(conf, "RECO_FLAKY_LOOKBACK_DAYS", 20)
    assert selectors.flaky_stacks(team=team, since=since, until=until) == []
    monkeypatch.setattr(conf, "RECO_FLAKY_LOOKBACK_DAYS", 45)
    monkeypatch.setattr(conf, "RECO_FLAKY_MAX_BUILDS", 2)  # only the two most recent: one flip, below 3
    assert selectors.flaky_stacks(team=team, since=since, until=until) == []


@pytest.mark.django_db
def test_suggestion_considers_at_most_the_candidate_limit(make_build, team, monkeypatch):
    for i in range(8):
        make_build(
            requirements="Invoices API with PDF export", stack=PYTHON_STACK, started=NOW - dt.timedelta(days=3, hours=i)
        )
    for i in range(8):
        make_build(
            requirements="Invoices API with PDF export", stack=NODE_STACK, started=NOW - dt.timedelta(days=1, hours=i)
        )
    result = selectors.stack_suggest(team=team, requirements="An invoices API with PDF export", now=NOW)
    assert result["similar_builds"] == 16
    monkeypatch.setattr(conf, "SUGGEST_CANDIDATES", 6)
    result = selectors.stack_suggest(team=team, requirements="An invoices API with PDF export", now=NOW)
    # Only the six most recent candidates (all Node builds) were ranked.
    assert result["similar_builds"] == 6
    assert [s["stack_key"] for s in result["suggestions"]] == ["typescript + express + mongodb"]


@pytest.mark.django_db
class TestCommand:
    def test_rebuild_and_verify(self, make_build, team):
        make_build(errors=[{"type": "Timeout", "message": "x"}])
        call_command("teammemory_rollups", "--all", "--verify-only", stdout=io.StringIO())
        BuildDailyRollup.objects.filter(team=team).update(builds=99)
        with pytest.raises(CommandError):
            call_command("teammemory_rollups", "--all", "--verify-only", stdout=io.StringIO())
        call_command("teammemory_rollups", "--all", "--team", team.slug, stdout=io.StringIO())
        assert BuildDailyRollup.objects.get(team=team).builds == 1
        assert verify(team)["ok"]

    def test_bad_arguments(self, db):
        with pytest.raises(CommandError):
            call_command("teammemory_rollups", "--start", "2026-11-10", "--end", "2026-11-01")
        with pytest.raises(CommandError):
            call_command("teammemory_rollups", "--team", "nope")


@pytest.mark.django_db(transaction=True)
def test_rebuild_during_reports_loses_nothing(team):
    """A rebuild running while reports arrive neither drops nor double-counts any of them."""
    start = NOW - dt.timedelta(days=1)
    errors, done = [], threading.Event()

    def report():
        try:
            for n in range(30):
                services.build_record(
                    team=team,
                    client_build_id=f"r-{n}",
                    status="succeeded",
                    quality=50,
                    started_at=start + dt.timedelta(minutes=n),
                    finished_at=start + dt.timedelta(minutes=n + 2),
                    stack=PYTHON_STACK,
                    errors=[{"type": "Lint", "message": str(n)}],
                )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()
            connections.close_all()

    def rebuild():
        try:
            while not done.is_set():
                services.rollups_rebuild(start_day=DAY0, end_day=DAY1, team=team)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=report), threading.Thread(target=rebuild)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []
    assert verify(team)["ok"]
    assert BuildDailyRollup.objects.get(team=team).builds == 30
