"""The traces list, page and API, sorted by any of its columns in either direction, reads an index
in that order and stops at the page (migration 0019): before, each sort but the start read every
trace of the team and sorted them (90-180 ms at 177,000 traces, growing until the statement
timeout). The API's next page starts inside the same index (the keyset cursor's row comparison).
One agent's traces are read by their own index (migration 0022), the failed ones by theirs (0023),
the traces with a tag by theirs (0024)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from observability.filters import TraceFilterSet
from observability.models import Trace

from .test_execution_indexes import _full_sorts, _ordered_read, _plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def traces(team):
    """60 traces whose durations, span counts and error counts repeat (ties for the tie-break)."""
    _analysed_traces(
        ((team, 60),),
        duration_ms=lambda n, _: n % 7,
        span_count=lambda n, _: n % 3,
        error_count=lambda n, _: n % 2,
    )


def _trace_reads(client, url: str) -> tuple[str, dict]:
    sql, response = _ordered_read(client, url, "observability_trace")
    return sql, (response.json() if url.startswith("/api/") else {})


@pytest.mark.parametrize("ordering", ["started", "duration", "cost", "spans", "errors"])
@pytest.mark.parametrize("direction", ["", "-"])
def test_the_traces_page_reads_each_sort_from_an_index(traces, client_for, member, ordering, direction):
    sql, _ = _trace_reads(client_for(member), f"/observability/traces/?ordering={direction}{ordering}")
    plan = _plan(sql, sorting=False)
    assert not _full_sorts(plan), plan


@pytest.mark.parametrize("ordering", ["started_at", "duration_ms", "cost", "span_count", "error_count"])
@pytest.mark.parametrize("direction", ["", "-"])
def test_the_traces_api_reads_each_sort_and_its_next_page_from_an_index(traces, team_key_client, ordering, direction):
    sql, body = _trace_reads(
        team_key_client, f"/api/v1/observability/traces/?ordering={direction}{ordering}&page_size=10"
    )
    assert not _full_sorts(_plan(sql, sorting=False))
    sql, _ = _trace_reads(team_key_client, body["next"])
    plan = _plan(sql, sorting=False)
    assert not _full_sorts(plan), plan


def test_each_direction_of_the_page_is_the_other_reversed(traces, client_for, member):
    """Traces of equal error count: the ascending list is the descending one read backwards (the
    tie-break by id turns with the sort), so one index serves both."""
    client = client_for(member)

    def listed(ordering):
        """The trace ids the page shows, in the order it shows them."""
        html = client.get(f"/observability/traces/?ordering={ordering}").content.decode()
        shown = [trace_id for trace_id in Trace.objects.values_list("trace_id", flat=True) if trace_id in html]
        return sorted(shown, key=html.index)

    down, up = listed("-errors"), listed("errors")
    assert len(down) == 50 and len(up) == 50  # a page of 50 out of 60
    ordered = sorted(Trace.objects.all(), key=lambda t: (t.error_count, t.pk))
    assert up == [t.trace_id for t in ordered[:50]]
    assert down == [t.trace_id for t in ordered[::-1][:50]]


def _analysed_traces(teams_and_counts, **fields) -> None:
    """Traces of each team, a second apart, a day ago; ``fields`` are each a function of the
    trace's number and team giving that column. Analysed, so the planner weighs its indexes by
    the rows (enough of them to prefer an index to reading the team's traces)."""
    start = timezone.now() - timedelta(days=1)
    Trace.objects.bulk_create(
        Trace(
            team=owner,
            trace_id=f"{owner.pk:04x}{n:028x}",
            started_at=start + timedelta(seconds=n),
            ended_at=start + timedelta(seconds=n + 1),
            **{name: value(n, owner) for name, value in fields.items()},
        )
        for owner, count in teams_and_counts
        for n in range(count)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE observability_trace")


@pytest.fixture
def agents_traces(team, other_team):
    """3,000 traces of 20 agents (enough for the planner to weigh walking a sort index for one), and
    another team's of agents of the same names."""
    _analysed_traces(((team, 3000), (other_team, 100)), agent_name=lambda n, _: f"agent-{n % 20}")
    return team


@pytest.mark.parametrize(
    "url",
    [
        "/observability/traces/?agent=agent-3",
        "/observability/traces/?agent=nobody",
        "/api/v1/observability/traces/?agent=agent-3",
        "/api/v1/observability/traces/?agent=nobody",
    ],
)
def test_one_agents_traces_are_read_by_the_agent_index(agents_traces, client_for, member, url):
    """Without it the list walked the team's traces newest first past every other agent's (147 ms
    at 229,000 traces for an agent with none, growing with the team)."""
    client = client_for(member)
    sql, response = _ordered_read(client, url, "observability_trace")
    plan = _plan(sql)
    assert "trace_team_agent" in plan, plan
    shown = response.json()["results"] if url.startswith("/api/") else list(response.context["listing"])
    agent = url.rsplit("=", 1)[1]
    expected = Trace.objects.filter(team=agents_traces, agent_name=agent).order_by("-started_at", "-pk")
    if url.startswith("/api/"):
        assert [row["trace_id"] for row in shown] == [t.trace_id for t in expected[: len(shown)]]
    else:
        assert [t.trace_id for t in shown] == [t.trace_id for t in expected[:50]]


@pytest.fixture
def rarely_failing(team, other_team):
    """800 traces of which 5 failed, and another team's, all failed."""

    def failed(n, owner):
        return owner == other_team or n % 167 == 0

    _analysed_traces(
        ((team, 800), (other_team, 50)),
        status=lambda n, owner: "error" if failed(n, owner) else "success",
        error_count=lambda n, owner: int(failed(n, owner)),
    )
    return team


@pytest.mark.parametrize("path", ["/observability/traces/", "/api/v1/observability/traces/"])
def test_the_failed_traces_are_read_by_their_own_index(rarely_failing, client_for, member, path):
    """Without it the list of a team's failed traces walked its traces newest first past every
    one that succeeded (49 ms at 229,000 traces with 62 failed, and all of them with none)."""
    sql, response = _ordered_read(client_for(member), f"{path}?status=error", "observability_trace")
    plan = _plan(sql)
    assert "trace_team_failed" in plan, plan
    failed = Trace.objects.filter(team=rarely_failing, status="error").order_by("-started_at", "-pk")
    if path.startswith("/api/"):
        shown = [row["trace_id"] for row in response.json()["results"]]
    else:
        shown = [t.trace_id for t in response.context["listing"]]
    assert shown == [t.trace_id for t in failed] and len(shown) == 5


def test_a_prepared_statements_generic_plan_still_reads_the_failed_traces_index(rarely_failing):
    """The status is a bound parameter: a generic plan proves the partial index's condition only
    from the condition stated as SQL text (``observability.models.TRACE_FAILED_SQL``)."""
    queryset = TraceFilterSet({"status": "error"}, queryset=Trace.objects.filter(team_id=rarely_failing.pk)).qs
    sql, params = queryset.order_by("-started_at", "-pk")[:51].query.sql_with_params()
    numbered = iter(range(1, len(params) + 1))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (GENERIC_PLAN) " + re.sub(r"%s", lambda _: f"${next(numbered)}", sql))
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "trace_team_failed" in plan, plan


def test_the_succeeded_traces_are_listed_as_before(rarely_failing, member_client):
    listed = member_client.get("/api/v1/observability/traces/?status=success&page_size=100").json()["results"]
    succeeded = Trace.objects.filter(team=rarely_failing, status="success").order_by("-started_at", "-pk")[:100]
    assert [row["trace_id"] for row in listed] == [t.trace_id for t in succeeded]


@pytest.fixture
def rarely_tagged(team, other_team):
    """800 traces: half tagged "production", 4 of those "canary" too, the rest untagged; and
    another team's 300 tagged "nightly", 3 of them "canary" too (never listed for this team)."""

    def tags(n, owner):
        if owner == other_team:
            return ["nightly", "canary"] if n % 100 == 0 else ["nightly"]
        if n % 200 == 0:
            return ["production", "canary"]
        return ["production"] if n % 2 == 0 else []

    _analysed_traces(((team, 800), (other_team, 300)), tags=tags)
    return team


def _listed_trace_ids(response, path: str) -> list[str]:
    if path.startswith("/api/"):
        return [row["trace_id"] for row in response.json()["results"]]
    return [t.trace_id for t in response.context["listing"]]


@pytest.mark.parametrize("path", ["/observability/traces/", "/api/v1/observability/traces/"])
@pytest.mark.parametrize("tag", ["canary", "nobody"])
def test_the_traces_with_a_rare_tag_are_read_by_the_tag_index(rarely_tagged, client_for, member, path, tag):
    """Without it the list narrowed by a tag few of the team's traces have walked its traces newest
    first past every other one (135 ms at 229,000 traces for a tag on 229, and all of them for a
    tag none has). The index holds only tagged traces, so the list states that condition too."""
    sql, response = _ordered_read(client_for(member), f"{path}?tag={tag}", "observability_trace")
    plan = _plan(sql)
    assert "trace_team_tags" in plan, plan
    tagged = Trace.objects.filter(team=rarely_tagged, tags__contains=[tag]).order_by("-started_at", "-pk")
    assert _listed_trace_ids(response, path) == [t.trace_id for t in tagged]
    assert len(tagged) == (4 if tag == "canary" else 0)


@pytest.mark.parametrize("path", ["/observability/traces/", "/api/v1/observability/traces/"])
def test_the_traces_with_a_common_tag_are_listed_newest_first(rarely_tagged, client_for, member, path):
    response = client_for(member).get(f"{path}?tag=production")
    tagged = Trace.objects.filter(team=rarely_tagged, tags__contains=["production"]).order_by("-started_at", "-pk")
    shown = _listed_trace_ids(response, path)
    assert shown == [t.trace_id for t in tagged[: len(shown)]] and len(shown) >= 25


def test_the_tag_is_stated_in_the_statements_text_not_bound(rarely_tagged):
    """Bound as a parameter, the tag is unknown to a prepared statement's generic plan, which
    assumes one trace in 200 has it: at 229,000 traces (bench_h4) that plan walked the team's
    traces newest first whatever the tag, and a list repeated on one connection got it after ten
    requests (0.39-0.48 s for a tag none has, against 5 ms by the index). Stated as SQL text
    (``crucible.sql.literal``), each tag's statement is planned for it; this table is too small
    for the generic plan to differ, so the statement itself is checked."""
    queryset = TraceFilterSet({"tag": "canary"}, queryset=Trace.objects.filter(team_id=rarely_tagged.pk)).qs
    sql, params = queryset.query.sql_with_params()
    assert "ARRAY['canary']::varchar(64)[]" in sql and "canary" not in repr(params), (sql, params)


HOSTILE_TAGS = [
    "50%",
    "o'brien",
    "back\\slash",
    "{x,y}",
    '"q"',
    "x'); DROP TABLE observability_trace; --",
    "☃ snow",
    "%s",
]


@pytest.mark.parametrize("tag", HOSTILE_TAGS)
def test_any_tag_text_lists_exactly_the_traces_with_that_tag(team, other_team, member_client, tag):
    _analysed_traces(
        ((team, 40), (other_team, 10)), tags=lambda n, _: [tag] if n % 4 == 0 else (["other"] if n % 4 == 1 else [])
    )
    response = member_client.get("/api/v1/observability/traces/", {"tag": tag, "page_size": 100})
    assert response.status_code == 200, response.content[:300]
    expected = Trace.objects.filter(team=team, tags__contains=[tag]).order_by("-started_at", "-pk")
    assert [row["trace_id"] for row in response.json()["results"]] == [t.trace_id for t in expected]
    assert len(expected) == 10
    page = member_client.get("/observability/traces/", {"tag": tag})
    assert [t.trace_id for t in page.context["listing"]] == [t.trace_id for t in expected]


def test_a_tag_longer_than_any_stored_is_refused_naming_the_field(member_client):
    """Tags are stored cut to 64 characters; a longer one was cut by the cast and matched its prefix."""
    response = member_client.get("/api/v1/observability/traces/", {"tag": "t" * 65})
    assert response.status_code == 400
    assert "tag" in response.json()["fields"], response.json()
    page = member_client.get("/observability/traces/", {"tag": "t" * 65})
    assert "tag" in page.context["form"].errors and list(page.context["listing"]) == []


@pytest.mark.parametrize(
    "url",
    [
        "/observability/traces/?agent=agent-3&ordering=-errors",
        "/api/v1/observability/traces/?agent=agent-3&ordering=cost",
    ],
)
def test_one_agents_traces_sorted_read_the_agent_index_not_a_team_wide_sort(agents_traces, client_for, member, url):
    """Sorted by a column with a team-wide index, the list narrowed by an agent walked that index
    and checked each trace, past every other agent's (0.29-0.46 s at 229,000 traces for an agent
    with none, 93-146 ms for one with 1,100, on every request). The sort indexes are partial on a
    condition only an unnarrowed list states (migration 0025), so it reads the agent's traces and
    sorts them. (Both cases fail without it: checked.)"""
    sql, response = _ordered_read(client_for(member), url, "observability_trace")
    plan = _plan(sql)
    assert "trace_team_agent" in plan and "trace_team_duration" not in plan and "trace_team_errors" not in plan, plan
    agent = url.split("agent=")[1].split("&")[0]
    field = {"duration": "duration_ms", "errors": "error_count", "cost": "cost"}
    key = url.rsplit("=", 1)[1]
    name = field.get(key.lstrip("-"), key.lstrip("-"))
    order = [f"-{name}", "-pk"] if key.startswith("-") else [name, "pk"]
    expected = Trace.objects.filter(team=agents_traces, agent_name=agent).order_by(*order)
    shown = _listed_trace_ids(response, url)
    assert shown == [t.trace_id for t in expected[:50]] and len(shown) == 50
