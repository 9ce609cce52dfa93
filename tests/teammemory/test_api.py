"""Team memory API: build reports, lists with filters, insights, suggestions, recommendations, legacy routes."""

import datetime as dt

import pytest

from crucible.models import Role
from teammemory.models import Build
from tests.teammemory.conftest import NOW

pytestmark = pytest.mark.django_db

BUILDS = "/api/v1/teammemory/builds/"
INSIGHTS = "/api/v1/teammemory/insights/"
SUGGEST = "/api/v1/teammemory/suggestions/"
RECS = "/api/v1/teammemory/recommendations/"
START = NOW - dt.timedelta(days=2)


def body(**overrides):
    data = {
        "client_build_id": "ci-77",
        "project_name": "shop",
        "requirements": "Online shop with a product catalogue and payments",
        "stack": {"language": "Python", "framework": "Django", "database": "postgres"},
        "status": "succeeded",
        "quality": 82,
        "started_at": START.isoformat(),
        "finished_at": (START + dt.timedelta(minutes=12)).isoformat(),
        "tokens": 5000,
        "cost": "0.75",
        "errors": [{"type": "FlakyTest", "message": "retry passed"}],
    }
    data.update(overrides)
    return data


class TestReport:
    def test_report_then_retry(self, team_key_client, member):
        first = team_key_client.post(BUILDS, body(), format="json")
        assert first.status_code == 201, first.json()
        data = first.json()
        assert data["components"] == ["python", "django", "postgresql"]
        assert data["duration_ms"] == 12 * 60_000 and data["errors"] == [
            {"type": "FlakyTest", "message": "retry passed"}
        ]
        assert data["reported_by"] == member.username
        again = team_key_client.post(BUILDS, body(quality=10), format="json")
        assert again.status_code == 200 and again.json()["id"] == data["id"] and again.json()["quality"] == 82
        assert Build.objects.count() == 1
        # A retry is checked like any report: an invalid one is refused, not answered with the
        # stored build (schemathesis: quality -1 under a stored id came back 200).
        invalid = team_key_client.post(BUILDS, body(quality=-1), format="json")
        assert invalid.status_code == 400 and list(invalid.json()["fields"]) == ["quality"]

    def test_report_by_session_lands_in_the_active_team(self, member_client, team, member):
        response = member_client.post(BUILDS, body(), format="json")
        assert response.status_code == 201
        assert Build.objects.get().team == team and Build.objects.get().reported_by == member

    @pytest.mark.parametrize(
        "overrides, field",
        [
            ({"quality": 101}, "quality"),
            ({"quality": "high"}, "quality"),
            ({"finished_at": (START - dt.timedelta(minutes=1)).isoformat()}, "finished_at"),
            ({"status": "done"}, "status"),
            ({"agents": [{"agent": "ghost"}]}, "agents.0.agent"),
            ({"requirements": "x" * 20_001}, "requirements"),
            ({"qualty": 50}, "qualty"),
            ({"stack": ["python"]}, "stack"),
            ({"errors": [{"type": "E", "msg": "typo"}]}, "errors.0.msg"),
            ({"tokens": -1}, "tokens"),
            ({"tokens": 10**12 + 1}, "tokens"),  # sums of many builds must stay within bigint
            ({"stack": {"db": "pg", "database": "mysql"}}, "stack.database"),
        ],
    )
    def test_bad_reports_are_400_naming_the_field(self, team_key_client, overrides, field):
        response = team_key_client.post(BUILDS, body(**overrides), format="json")
        assert response.status_code == 400, response.json()
        assert field in response.json()["fields"]
        assert not Build.objects.exists()

    def test_malformed_json(self, team_key_client):
        response = team_key_client.post(BUILDS, "{not json", content_type="application/json")
        assert response.status_code == 400 and response.json()["code"] == "parse_error"

    def test_viewers_cannot_report(self, key_client, team):
        response = key_client(team, role=Role.VIEWER).post(BUILDS, body(), format="json")
        assert response.status_code == 403 and not Build.objects.exists()

    def test_executions_arrive_with_the_report(self, team_key_client):
        from observability.models import Execution

        event = {"id": "e1", "agent": "coder", "started_at": START.isoformat(), "duration_ms": 900, "status": "success"}
        response = team_key_client.post(BUILDS, body(executions=[event]), format="json")
        assert response.status_code == 201
        assert Execution.objects.get().build_id == response.json()["id"]
        bad = team_key_client.post(BUILDS, body(client_build_id="ci-78", executions=[{"id": "e2"}]), format="json")
        assert bad.status_code == 400 and any(k.startswith("executions.0") for k in bad.json()["fields"])
        assert Build.objects.count() == 1


class TestList:
    def test_filters_and_scoping(self, team_key_client, make_build, other_team):
        make_build(status="succeeded", quality=90, stack={"language": "Python", "database": "Postgres"}, started=START)
        make_build(
            status="failed",
            quality=30,
            stack={"language": "Go", "database": "MySQL"},
            started=START - dt.timedelta(days=10),
        )
        make_build(team=other_team, status="failed", quality=30, started=START)
        assert len(team_key_client.get(BUILDS).json()["results"]) == 2
        assert [b["quality"] for b in team_key_client.get(BUILDS, {"status": "failed"}).json()["results"]] == [30]
        assert [b["quality"] for b in team_key_client.get(BUILDS, {"component": "postgres"}).json()["results"]] == [90]
        assert [b["quality"] for b in team_key_client.get(BUILDS, {"quality_min": 50}).json()["results"]] == [90]
        since = (START - dt.timedelta(days=1)).isoformat()
        assert [b["quality"] for b in team_key_client.get(BUILDS, {"since": since}).json()["results"]] == [90]
        assert team_key_client.get(BUILDS, {"quality_min": 500}).status_code == 400
        assert team_key_client.get(BUILDS, {"stack": "python + postgresql"}).json()["results"][0]["quality"] == 90

    def test_full_text_filter(self, team_key_client, make_build):
        make_build(requirements="A shop selling shoes", project_name="shoes", started=START)
        make_build(requirements="An internal wiki", project_name="wiki", started=START)
        names = [b["project_name"] for b in team_key_client.get(BUILDS, {"q": "shoe shops"}).json()["results"]]
        assert names == ["shoes"]

    def test_other_teams_build_is_404(self, team_key_client, make_build, other_team):
        build = make_build(team=other_team)
        assert team_key_client.get(f"{BUILDS}{build.pk}/").status_code == 404

    def test_list_query_count_does_not_grow_with_rows(
        self, team_key_client, make_build, agent, django_assert_max_num_queries
    ):
        for i in range(15):
            make_build(
                started=START - dt.timedelta(hours=i),
                agents=[{"agent": agent.slug}],
                errors=[{"type": "E", "message": str(i)}],
            )
        with django_assert_max_num_queries(8):
            response = team_key_client.get(BUILDS)
        assert len(response.json()["results"]) == 15
        assert response.json()["results"][0]["agents"][0]["agent"] == f"acme/{agent.slug}"

    def test_ordering(self, team_key_client, make_build):
        make_build(started=START - dt.timedelta(days=1), project_name="old")
        make_build(started=START, project_name="new")
        names = [b["project_name"] for b in team_key_client.get(BUILDS, {"ordering": "started_at"}).json()["results"]]
        assert names == ["old", "new"]


class TestInsightsAndFriends:
    def test_insights(self, team_key_client, make_build):
        make_build(status="succeeded", quality=80, started=START)
        make_build(status="failed", quality=40, started=START)
        response = team_key_client.get(
            INSIGHTS, {"since": (START - dt.timedelta(days=1)).isoformat(), "until": NOW.isoformat()}
        )
        assert response.status_code == 200
        data = response.json()
        assert data["summary"]["builds"] == 2 and data["summary"]["success_rate"] == 0.5
        assert data["summary"]["avg_quality"] == 60
        assert set(data) >= {"by_stack", "by_component", "top_errors", "trend", "agents"}

    def test_insights_open_ended_range(self, team_key_client, make_build):
        make_build(started=START)
        make_build(started=START - dt.timedelta(days=150))
        data = team_key_client.get(INSIGHTS, {"since": (START - dt.timedelta(days=300)).isoformat()}).json()
        assert data["summary"]["builds"] == 2 and data["until"] is not None
        data = team_key_client.get(INSIGHTS, {"until": (START - dt.timedelta(days=100)).isoformat()}).json()
        assert data["summary"]["builds"] == 1 and data["since"] is not None  # the default 90 days before the end

    def test_insights_bad_range(self, team_key_client):
        response = team_key_client.get(
            INSIGHTS, {"since": NOW.isoformat(), "until": (NOW - dt.timedelta(days=1)).isoformat()}
        )
        assert response.status_code == 400 and "until" in response.json()["fields"]
        assert team_key_client.get(INSIGHTS, {"since": "yesterday"}).status_code == 400

    @pytest.mark.parametrize("url", [INSIGHTS, RECS])
    def test_range_at_the_edge_of_the_calendar(self, team_key_client, make_build, url):
        make_build(started=START)
        for params in (
            {"until": "0001-01-02T00:00:00Z"},
            {"since": "0001-01-01T00:00:00Z", "until": "0001-01-05T00:00:00Z"},
        ):
            response = team_key_client.get(url, params)
            assert response.status_code == 200, response.json()
            assert response.json()["until"] == params["until"]
            assert (response.json()["builds"] if url == RECS else response.json()["summary"]["builds"]) == 0
        data = team_key_client.get(url, {"since": "0001-01-01T00:00:00Z"}).json()
        assert (data["builds"] if url == RECS else data["summary"]["builds"]) == 1

    def test_suggestions_open_to_viewers(self, key_client, team, make_build):
        make_build(requirements="Invoices API", started=START)
        response = key_client(team, role=Role.VIEWER).post(SUGGEST, {"requirements": "An invoices API"}, format="json")
        assert response.status_code == 200
        assert response.json()["basis"] == "team_history"  # one build: fewer than SUGGEST_MIN_SIMILAR similar ones
        assert response.json()["suggestions"][0]["stack_key"] == "python + django + postgresql"

    def test_suggestions_need_a_team(self, client_for, make_user, api_client):
        assert (
            client_for(make_user("teamless"))
            .post(SUGGEST, {"requirements": "An invoices API"}, format="json")
            .status_code
            == 403
        )
        assert api_client.post(SUGGEST, {"requirements": "An invoices API"}, format="json").status_code == 401

    @pytest.mark.parametrize(
        "payload, field",
        [
            ({}, "requirements"),
            ({"requirements": "x" * 20_001}, "requirements"),
            ({"requirements": "ok", "limit": 0}, "limit"),
            ({"requirements": "ok", "require": "postgres"}, "require"),
            ({"requirements": "ok", "colour": "red"}, "colour"),
        ],
    )
    def test_suggestions_bad_input(self, team_key_client, payload, field):
        response = team_key_client.post(SUGGEST, payload, format="json")
        assert response.status_code == 400 and field in response.json()["fields"]

    def test_recommendations(self, team_key_client, make_build):
        make_build(started=START)
        data = team_key_client.get(RECS).json()
        assert data["builds"] == 1
        assert data["recommendations"][0]["kind"] == "too_little_data"
        assert data["recommendations"][0]["evidence"]["builds"] == 1
