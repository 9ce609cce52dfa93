"""Dashboard, agent, bottleneck, regression and recommendation endpoints; executions list; the
legacy route; team scoping."""

import datetime as dt

import pytest

pytestmark = pytest.mark.django_db

BASE = "/api/v1/observability"


@pytest.fixture
def seeded(team, other_team, ingest, event_factory, now):
    events = []
    for i in range(30):
        events.append(event_factory(agent="planner", duration_ms=100.0 + i, model="gpt-4o"))
        events.append(
            event_factory(
                agent="coder",
                duration_ms=2000.0 + i * 10,
                model="claude-sonnet-4-5",
                status="error" if i % 5 == 0 else "success",
                error_type="Timeout" if i % 5 == 0 else None,
            )
        )
    events.append(event_factory(agent="coder", model="homegrown-llm"))
    ingest(team, [{k: v for k, v in e.items() if v is not None} for e in events])
    ingest(other_team, [event_factory(id="secret", agent="their-agent")])


def test_dashboard_per_agent_and_totals(member_client, seeded, django_assert_max_num_queries):
    # session, user, memberships, team, the session's and the 'expensive' rate counters (shared by
    # all processes), ONE rollup query
    with django_assert_max_num_queries(7):
        response = member_client.get(f"{BASE}/dashboard/?range=24h")
    assert response.status_code == 200, response.content
    data = response.json()
    agents = {a["agent"]: a for a in data["agents"]}
    assert set(agents) == {"planner", "coder"}  # never another team's agents
    assert agents["planner"]["executions"] == 30 and agents["planner"]["success_rate"] == 1.0
    assert agents["coder"]["executions"] == 31 and agents["coder"]["errors"] == 6
    assert agents["coder"]["p95_ms"] > agents["planner"]["p95_ms"]
    assert data["totals"]["executions"] == 61
    assert data["unpriced"] == {"executions": 1, "models": [{"model": "homegrown-llm", "executions": 1}]}
    assert data["series"] and sum(p["executions"] for p in data["series"]) == 61
    assert data["period"]["bucket"] == "hour"


def test_dashboard_filters(member_client, seeded):
    data = member_client.get(f"{BASE}/dashboard/?agent=coder&status=error").json()
    assert [a["agent"] for a in data["agents"]] == ["coder"]
    assert data["totals"]["executions"] == 6 and data["totals"]["success_rate"] == 0.0
    data = member_client.get(f"{BASE}/dashboard/?model=gpt-4o").json()
    assert data["totals"]["executions"] == 30


@pytest.mark.parametrize(
    "query,field",
    [
        ("range=2y", "range"),
        ("range=custom", "start"),
        ("range=custom&start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", "end"),
        ("status=weird", "status"),
        ("range=custom&start=nope&end=nope", "start"),
    ],
)
def test_dashboard_bad_queries(member_client, query, field):
    response = member_client.get(f"{BASE}/dashboard/?{query}")
    assert response.status_code == 400
    assert field in response.json()["fields"]


@pytest.mark.parametrize("path", ["dashboard/", "bottlenecks/", "regressions/", "recommendations/"])
@pytest.mark.parametrize(
    "query,field",
    [
        ("start=0001-01-01T00:00:00Z&end=0001-01-02T00:00:00Z", "start"),  # the previous period would be before year 1
        ("start=9998-12-31T00:00:00Z&end=9999-12-31T23:30:00Z", "end"),  # rounding end up to the hour would overflow
    ],
)
def test_custom_range_out_of_datetime_range_is_a_400(member_client, path, query, field):
    response = member_client.get(f"{BASE}/{path}?range=custom&{query}")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


def test_custom_range_and_bucket_sizes(member_client, seeded, now):
    start = (now - dt.timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    data = member_client.get(f"{BASE}/dashboard/", {"range": "custom", "start": start, "end": end}).json()
    assert data["period"]["bucket"] == "day" and data["totals"]["executions"] == 61
    data = member_client.get(f"{BASE}/dashboard/?range=7d").json()
    assert data["period"]["bucket"] == "6h" and data["totals"]["executions"] == 61
    data = member_client.get(f"{BASE}/dashboard/?range=30d").json()
    assert data["totals"]["executions"] == 61


def test_agent_detail(member_client, seeded):
    response = member_client.get(f"{BASE}/agents/coder/?range=24h")
    assert response.status_code == 200
    data = response.json()
    assert data["totals"]["executions"] == 31
    assert data["errors_by_type"] == [{"error_type": "Timeout", "executions": 6}]
    assert data["slowest_recent"][0]["duration_ms"] == max(e["duration_ms"] for e in data["slowest_recent"])
    assert {m["model"] for m in data["models"]} == {"claude-sonnet-4-5", "homegrown-llm"}
    assert member_client.get(f"{BASE}/agents/their-agent/").status_code == 404


def test_bottlenecks_regressions_recommendations(member_client, seeded, django_assert_num_queries):
    # session, user, memberships with their teams; the session's and the 'expensive' rate counters
    # (shared by all processes, one statement); this period and the previous one per agent and the
    # versions of both, in one statement (observability.selectors.compared)
    with django_assert_num_queries(5):
        data = member_client.get(f"{BASE}/bottlenecks/").json()
    assert data["by_time"][0]["agent"] == "coder"
    assert data["regressions"] == []
    assert member_client.get(f"{BASE}/regressions/").json() == []
    recs = member_client.get(f"{BASE}/recommendations/").json()["recommendations"]
    assert any(r["kind"] == "failing_agent" and r["agent"] == "coder" for r in recs)


def test_executions_list_is_scoped_filtered_and_cheap(member_client, seeded, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = member_client.get(f"{BASE}/executions/?page_size=100")
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == 61 and all(r["team"] == "acme" for r in results)
    errors = member_client.get(f"{BASE}/executions/?agent=coder&status=error").json()["results"]
    assert len(errors) == 6
    slow = member_client.get(f"{BASE}/executions/?ordering=-duration_ms&page_size=1").json()
    assert slow["results"][0]["agent_name"] == "coder" and slow["next"]
    unpriced = member_client.get(f"{BASE}/executions/?unpriced=true").json()["results"]
    assert [r["model"] for r in unpriced] == ["homegrown-llm"] and unpriced[0]["unpriced"] is True


def test_executions_narrowed_by_an_error_type_are_that_types_runs_newest_first(member_client, seeded):
    timeouts = member_client.get(f"{BASE}/executions/?error_type=Timeout&page_size=4").json()
    first = timeouts["results"]
    rest = member_client.get(timeouts["next"]).json()["results"]
    runs = first + rest
    assert len(runs) == 6 and {(r["agent_name"], r["status"], r["error_type"]) for r in runs} == {
        ("coder", "error", "Timeout")
    }
    assert [r["started_at"] for r in runs] == sorted((r["started_at"] for r in runs), reverse=True)
    slowest = member_client.get(f"{BASE}/executions/?error_type=Timeout&ordering=-duration_ms").json()["results"]
    timed_out = [2000.0 + i * 10 for i in range(30) if i % 5 == 0]  # the fixture's failed coder runs
    assert [r["duration_ms"] for r in slowest] == sorted(timed_out, reverse=True)
    assert member_client.get(f"{BASE}/executions/?error_type=RateLimit").json()["results"] == []


def test_other_teams_execution_is_404(member_client, seeded):
    from observability.models import Execution

    secret = Execution.objects.get(client_id="secret")
    assert member_client.get(f"{BASE}/executions/{secret.pk}/").status_code == 404
    mine = Execution.objects.filter(team__slug="acme").first()
    assert member_client.get(f"{BASE}/executions/{mine.pk}/").status_code == 200


def test_prices_are_listed(member_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        data = member_client.get(f"{BASE}/prices/?pattern=gpt-4o").json()
    assert any(p["pattern"] == "gpt-4o-mini*" for p in data["results"])


def test_viewer_can_read_dashboards(client_for, viewer, seeded):
    assert client_for(viewer).get(f"{BASE}/dashboard/").status_code == 200
