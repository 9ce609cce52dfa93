"""The shared kit that keeps precomputed merges of closed days exact (crucible.merge_guard): every
guard is installed as the kit builds it, and a writer that could leave a merge stale is refused.
Its races: tests/marketplace/test_evidence_histogram_races.py, tests/observability/test_day_block_races.py."""

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction

from crucible import merge_guard, sql
from marketplace import services
from marketplace.services.evidence_histograms import HISTOGRAMS
from observability.blocks import DAY_BLOCKS, HOUR_BLOCKS
from tests.marketplace.evidence_helpers import record_day

GUARDS = (DAY_BLOCKS, HOUR_BLOCKS, HISTOGRAMS)

INSTALLED_SQL = """
SELECT p.proname AS function, p.prosrc AS body,
       array(SELECT t.tgname::text || ' ' || t.tgrelid::regclass::text FROM pg_trigger t
             WHERE t.tgfoid = p.oid ORDER BY 1) AS triggers
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE l.lanname = 'plpgsql' AND p.prosrc LIKE '%%pg_advisory_xact_lock_shared%%'
"""


@pytest.mark.django_db
def test_every_guard_is_installed_as_the_kit_builds_it():
    installed = {row["function"]: row for row in sql.fetch_rows(INSTALLED_SQL)}
    assert set(installed) == {guard.function for guard in GUARDS}  # a new guard is listed here
    for guard in GUARDS:
        # A changed guard needs a migration that runs merge_guard.trigger_sql again.
        assert installed[guard.function]["body"] == merge_guard.function_body(guard)
        assert installed[guard.function]["triggers"] == sorted(
            f"{guard.trigger(event)} {guard.source}" for event in merge_guard.EVENTS
        )


@pytest.mark.django_db(transaction=True)
def test_a_closed_day_changed_under_repeatable_read_is_refused(team):
    version = services.agent_create(team=team, name="Guarded", system_prompt="You guard.").latest_version
    with pytest.raises(DatabaseError, match="READ COMMITTED"):
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            record_day(team, version, days_ago=1, runs=1, duration_ms=10.0)
    record_day(team, version, days_ago=0, runs=1, duration_ms=10.0)  # today: no merge holds it
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        record_day(team, version, days_ago=0, runs=1, duration_ms=10.0)


def test_a_unit_is_merged_once_closed_for_its_guards_settle():
    at = dt.datetime(2026, 3, 4, 10, 10, tzinfo=dt.UTC)
    # 09:00-10:00 closed only 10 minutes ago: an hour guard (settle 15 minutes) stops at 09:00.
    assert HOUR_BLOCKS.closed_until(at) == dt.datetime(2026, 3, 4, 9, tzinfo=dt.UTC)
    assert HOUR_BLOCKS.closed_until(at + dt.timedelta(minutes=5)) == dt.datetime(2026, 3, 4, 10, tzinfo=dt.UTC)
    # A day guard (settle one hour) reads yesterday only from 01:00.
    assert DAY_BLOCKS.closed_until(dt.datetime(2026, 3, 4, 0, 50, tzinfo=dt.UTC)) == dt.datetime(
        2026, 3, 3, tzinfo=dt.UTC
    )
    assert DAY_BLOCKS.closed_until(dt.datetime(2026, 3, 4, 1, 0, tzinfo=dt.UTC)) == dt.datetime(
        2026, 3, 4, tzinfo=dt.UTC
    )
    assert merge_guard.closed_until(dt.datetime(2026, 3, 4, 1, 0, tzinfo=dt.UTC)) == dt.datetime(
        2026, 3, 4, tzinfo=dt.UTC
    )
