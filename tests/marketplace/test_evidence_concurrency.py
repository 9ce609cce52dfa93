"""Evidence counters stay exact when batches of the same team, version and day arrive at once."""

import pytest
from django.utils import timezone

from marketplace import services
from marketplace.evidence_stats import DURATION_HISTOGRAM
from marketplace.models import TeamBuildDaily, VersionEvidenceDaily
from tests.marketplace.test_concurrency import run_concurrently

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_batches_add_up_exactly(make_agent, make_team):
    team = make_team("Runner")
    version = make_agent(make_team("Publisher"), "Busy").latest_version
    today = timezone.now().date()

    def batch(duration_ms):
        hist = DURATION_HISTOGRAM.empty()
        hist[DURATION_HISTOGRAM.bucket_of(duration_ms)] = 3
        row = {
            "version_id": version.pk,
            "day": today,
            "executions": 3,
            "successes": 2,
            "duration_sum_ms": 3 * duration_ms,
            "hist": hist,
            "tokens": 30,
            "tokens_sq": 300.0,
            "cost": "0.003",
            "cost_sq": 0.000003,
            "priced": 3,
            "quality_sum": 0.0,
            "quality_sq": 0.0,
            "quality_count": 0,
        }
        return lambda: services.version_evidence_record(team_id=team.pk, rows=[row])

    def build():
        services.version_evidence_build_record(
            team_id=team.pk, day=today, succeeded=True, quality=50, version_ids=[version.pk]
        )

    jobs = [batch(10.0 * (i + 1)) for i in range(8)] + [build for _ in range(4)]
    run_concurrently(jobs)
    row = VersionEvidenceDaily.objects.get(team=team, version=version)
    assert (row.executions, row.successes, row.priced, row.builds, row.build_successes) == (24, 16, 24, 4, 4)
    assert sum(row.hist) == 24 and float(row.cost) == pytest.approx(0.024)
    assert TeamBuildDaily.objects.get(team=team).builds == 4
