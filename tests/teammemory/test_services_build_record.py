"""build_record: stored once per client id, checked in full before anything is written."""

import datetime as dt
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from teammemory import conf, services
from teammemory.models import Build, BuildAgent, BuildError
from tests.teammemory.conftest import NOW

START = NOW - dt.timedelta(hours=2)


def report(team, **overrides):
    fields = dict(
        team=team,
        client_build_id="ci-1",
        status="succeeded",
        started_at=START,
        finished_at=START + dt.timedelta(minutes=5),
        project_name="shop",
        requirements="An online shop with payments",
        stack={"Language": "Python", "DB": "postgres"},
        quality=88,
        tokens=1200,
        cost="0.42",
    )
    fields.update(overrides)
    return services.build_record(**fields)


@pytest.mark.django_db
class TestBuildRecord:
    def test_stores_normalised_stack_and_duration(self, team):
        build, created = report(team)
        assert created
        assert build.components == ["python", "postgresql"]
        assert build.stack_key == "python + postgresql"
        assert build.stack == {"Language": "Python", "DB": "postgres"}
        assert build.duration_ms == 5 * 60_000

    def test_retried_report_is_stored_once(self, team):
        first, created = report(team, errors=[{"type": "E", "message": "m"}])
        again, created_again = report(team, quality=10, errors=[{"type": "E", "message": "m"}])
        assert created and not created_again
        assert again.pk == first.pk and again.quality == 88
        assert Build.objects.count() == 1 and BuildError.objects.count() == 1

    def test_same_client_id_in_another_team_is_another_build(self, team, other_team):
        report(team)
        _, created = report(other_team)
        assert created and Build.objects.count() == 2

    @pytest.mark.parametrize(
        "overrides, field",
        [
            ({"quality": 101}, "quality"),
            ({"quality": -1}, "quality"),
            ({"finished_at": START - dt.timedelta(seconds=1)}, "finished_at"),
            ({"status": "exploded"}, "status"),
            ({"tokens": -5}, "tokens"),
            ({"tokens": 10**12 + 1}, "tokens"),
            ({"cost": "-1"}, "cost"),
            ({"stack": {"language": ""}}, "stack.language"),
            ({"stack": {"db": "pg", "database": "mysql"}}, "stack.database"),
            ({"errors": [{"message": "no type"}]}, "errors.0.type"),
            ({"agents": [{"agent": "no-such-agent"}]}, "agents.0.agent"),
        ],
    )
    def test_bad_input_names_the_field_and_writes_nothing(self, team, overrides, field):
        with pytest.raises(ValidationError) as exc:
            report(team, **overrides)
        assert field in exc.value.message_dict
        assert not Build.objects.exists() and not BuildError.objects.exists()

    def test_oversized_requirements(self, team):
        with pytest.raises(ValidationError) as exc:
            report(team, requirements="x" * (conf.MAX_REQUIREMENTS_CHARS + 1))
        assert "requirements" in exc.value.message_dict
        assert not Build.objects.exists()

    def test_agents_and_versions_resolved_through_marketplace(self, team, agent):
        build, _ = report(
            team,
            agents=[
                {"agent": agent.slug, "version": "1.0.0"},
                {"agent": f"{team.slug}/{agent.slug}", "version": "1.0.0"},
            ],
        )
        uses = list(BuildAgent.objects.filter(build=build).select_related("agent_version"))
        assert len(uses) == 1 and uses[0].agent_id == agent.pk and uses[0].agent_version.version == "1.0.0"

    def test_unknown_version_is_a_field_error(self, team, agent):
        with pytest.raises(ValidationError) as exc:
            report(team, agents=[{"agent": agent.slug, "version": "9.9.9"}])
        assert "agents.0.version" in exc.value.message_dict
        assert not Build.objects.exists()

    def test_private_agent_of_another_team_is_unknown(self, team, other_team):
        from marketplace import services as marketplace_services

        secret = marketplace_services.agent_create(
            team=other_team, name="Secret", system_prompt="x", visibility="private"
        )
        with pytest.raises(ValidationError) as exc:
            report(team, agents=[{"agent": f"{other_team.slug}/{secret.slug}"}])
        assert "agents.0.agent" in exc.value.message_dict


@pytest.mark.django_db
class TestExecutionsThroughObservability:
    def event(self, n, **extra):
        return {
            "id": f"ex-{n}",
            "agent": "coder",
            "started_at": START.isoformat(),
            "duration_ms": 1500,
            "status": "success",
            **extra,
        }

    def test_executions_are_stored_and_linked_to_the_build(self, team):
        from observability.models import Execution

        build, _ = report(team, executions=[self.event(1), self.event(2, status="error", error_type="Timeout")])
        assert set(Execution.objects.filter(build=build).values_list("client_id", flat=True)) == {"ex-1", "ex-2"}

    def test_a_bad_execution_rejects_the_whole_report(self, team):
        from observability.models import Execution

        with pytest.raises(ValidationError) as exc:
            report(
                team,
                executions=[
                    self.event(1),
                    {"id": "ex-2", "agent": "coder", "started_at": START.isoformat(), "duration_ms": -4},
                ],
            )
        assert any(key.startswith("executions.1") for key in exc.value.message_dict)
        assert not Build.objects.exists() and not Execution.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_reports_store_one_build(team):
    results, errors = [], []
    barrier = threading.Barrier(4)

    def send():
        try:
            barrier.wait()
            results.append(report(team)[1])
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [False, False, False, True]
    assert Build.objects.filter(team=team).count() == 1


@pytest.fixture
def fifty_agents(db, team, other_team):
    from marketplace import services as marketplace_services

    return [
        marketplace_services.agent_create(
            team=team if i % 2 else other_team, name=f"Helper {i}", system_prompt="You help.", version="1.0.0"
        )
        for i in range(50)
    ]


def test_agent_references_of_a_build_cost_the_same_queries_for_1_and_50(
    make_build, fifty_agents, django_assert_num_queries
):
    refs = [{"agent": f"{a.team.slug}/{a.slug}", "version": "1.0.0"} for a in fifty_agents]
    with CaptureQueriesContext(connection) as one:
        make_build(agents=refs[:1])
    with django_assert_num_queries(len(one.captured_queries)):
        build = make_build(agents=refs)
    assert build.agent_uses.count() == 50
