"""Links to other apps: marketplace agents and versions, prompt variants (improvement), builds."""

import pytest

from observability.models import Execution
from observability.services import executions_ingest

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(team):
    from marketplace import services as marketplace_services

    return marketplace_services.agent_create(
        team=team, name="Code Reviewer", slug="code-reviewer", system_prompt="Review the diff.", version="1.0.0"
    )


@pytest.fixture
def variants(team):
    from improvement import services as improvement_services

    experiment = improvement_services.experiment_create(
        team=team,
        name="shorter prompt",
        status="running",
        variants=[{"name": "control", "prompt": "long", "is_control": True}, {"name": "short", "prompt": "short"}],
    )
    return list(experiment.variants.order_by("pk"))


def test_agent_ref_and_version_are_resolved(team, agent, event_factory):
    results = executions_ingest(
        team=team,
        events=[
            event_factory(id="a", agent=None, agent_ref="code-reviewer", agent_version="1.0.0"),
            event_factory(id="b", agent_ref="nope"),
            event_factory(id="c", agent_ref="code-reviewer", agent_version="9.9.9"),
        ],
    )
    assert [r["status"] for r in results] == ["stored", "error", "error"]
    assert results[1]["field"] == "agent_ref" and results[2]["field"] == "agent_version"
    execution = Execution.objects.get(client_id="a")
    assert execution.agent_id == agent.pk and execution.agent_name == "code-reviewer"
    assert execution.agent_version.agent_id == agent.pk and execution.version == "1.0.0"


def test_variant_results_feed_the_experiment(team, other_team, variants, event_factory):
    control, short = variants
    events = [
        event_factory(id="v1", variant_id=short.pk, duration_ms=1000.0, quality=80, status="success"),
        event_factory(id="v2", variant_id=short.pk, duration_ms=3000.0, status="error", error_type="Timeout"),
        event_factory(id="v3", variant_id=control.pk, duration_ms=500.0),
        event_factory(id="v4", variant_id=999999),
    ]
    results = executions_ingest(team=team, events=events)
    assert [r["status"] for r in results] == ["stored", "stored", "stored", "error"]
    assert results[3]["field"] == "variant_id"
    short.refresh_from_db()
    control.refresh_from_db()
    assert short.results_count == 2 and short.success_count == 1
    assert short.duration_sum == pytest.approx(4000.0)
    assert short.tokens_sum == 2 * 1200
    assert control.results_count == 1
    # A retry is a duplicate and does not count again.
    executions_ingest(team=team, events=events[:1])
    short.refresh_from_db()
    assert short.results_count == 2
    # Another team's variant is unknown to this team.
    other = executions_ingest(team=other_team, events=[event_factory(id="x", variant_id=short.pk)])
    assert other[0]["status"] == "error" and other[0]["field"] == "variant_id"


def test_build_reports_use_the_same_ingest(team, event_factory):
    import datetime as dt

    from django.utils import timezone

    from teammemory import services as teammemory_services

    now = timezone.now()
    build, _created = teammemory_services.build_record(
        team=team,
        client_build_id="b-1",
        status="succeeded",
        started_at=now - dt.timedelta(minutes=3),
        finished_at=now,
        project_name="shop",
    )
    results = executions_ingest(team=team, events=[event_factory(id="bx")], build=build)
    assert results[0]["status"] == "stored"
    execution = Execution.objects.get(client_id="bx")
    assert execution.build_id == build.pk and execution.source == "build"


def test_agent_references_of_a_batch_cost_the_same_queries_for_1_and_50(
    team, other_team, event_factory, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from marketplace import services as marketplace_services

    agents = [
        marketplace_services.agent_create(
            team=team if i % 2 else other_team, name=f"Helper {i}", system_prompt="You help.", version="1.0.0"
        )
        for i in range(51)
    ]
    refs = [f"{a.team.slug}/{a.slug}" for a in agents]

    def batch(chosen, prefix):
        return [event_factory(id=f"{prefix}-{i}", agent_ref=ref, agent_version="1.0.0") for i, ref in enumerate(chosen)]

    one, fifty = batch(refs[:1], "one"), batch(refs[1:], "fifty")
    with CaptureQueriesContext(connection) as first:
        executions_ingest(team=team, events=one)
    with django_assert_num_queries(len(first.captured_queries)):
        results = executions_ingest(team=team, events=fifty)
    assert [r["status"] for r in results] == ["stored"] * 50
    assert Execution.objects.filter(team=team, agent_version__isnull=False).count() == 51
