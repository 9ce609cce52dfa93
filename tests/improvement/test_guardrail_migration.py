"""Migration improvement.0009: the old promotion-only error-rate limit becomes the error margin
of the same experiment, and variants a guardrail already retired count as breaches."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("improvement", "0008_version_variants_guardrail_source")]
AFTER = [("improvement", "0009_unified_guardrails")]


@pytest.fixture
def back_to_latest():
    """Leave the database at the latest migrations: the tests after this one need every later
    migration (0011's counter shards broke the concurrent tests that ran after it)."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
def test_the_old_limit_becomes_the_error_margin(team, back_to_latest):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Experiment = old.get_model("improvement", "Experiment")
    Variant = old.get_model("improvement", "Variant")
    limited = Experiment.objects.create(team_id=team.pk, name="advisor", guardrail_max_error_rate_increase=0.05)
    plain = Experiment.objects.create(team_id=team.pk, name="plain", guardrail_error_margin=0.03)
    stopped_at = timezone.now()
    stopped = Variant.objects.create(
        team_id=team.pk,
        experiment_id=limited.pk,
        name="flaky",
        prompt="p",
        retired_at=stopped_at,
        retired_reason="Stopped by a guardrail. Error rate: flaky 30.0% vs control 3.0%.",
    )
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Experiment = new.get_model("improvement", "Experiment")
    Variant = new.get_model("improvement", "Variant")
    assert Experiment.objects.get(pk=limited.pk).guardrail_error_margin == pytest.approx(0.05)
    assert Experiment.objects.get(pk=plain.pk).guardrail_error_margin == pytest.approx(0.03)
    assert not hasattr(Experiment.objects.get(pk=limited.pk), "guardrail_max_error_rate_increase")
    variant = Variant.objects.get(pk=stopped.pk)
    assert variant.guardrail_breached_at == stopped_at and variant.guardrail_evidence.startswith("Stopped")
