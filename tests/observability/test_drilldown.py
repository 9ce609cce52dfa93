"""Drill-down: every chart point and table row of the observability pages opens the rows behind
it, and every execution has a page with links to what it belongs to."""

import datetime as dt
import json
import re
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from observability.models import Execution, Trace

pytestmark = pytest.mark.django_db


def chart_spec(html, script_id):
    match = re.search(rf'<script id="{script_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, script_id
    return json.loads(match.group(1))


def listed_ids(client, url) -> set[int]:
    """The executions a list page shows (each row links to its execution's page)."""
    response = client.get(url)
    assert response.status_code == 200, url
    table = response.content.decode().split('id="executions-table"', 1)[1].split("</table>", 1)[0]
    return {int(pk) for pk in re.findall(r'href="/observability/executions/(\d+)/"', table)}


def ids(**filters) -> set[int]:
    return set(Execution.objects.filter(**filters).values_list("pk", flat=True))


def html_links(html: str, marker: str) -> list[str]:
    return [link.replace("&amp;", "&") for link in re.findall(rf'<a[^>]*class="{marker}"[^>]*href="([^"]+)"', html)]


@pytest.fixture
def day_of_runs(team, other_team, ingest, event_factory, now):
    """Runs of three agents over the last day, errors for one, and another team's runs at the same
    moments (which no link may show)."""
    events = []
    for hour in range(1, 20, 3):
        at = (now - dt.timedelta(hours=hour, minutes=10)).isoformat()
        events += [
            event_factory(id=f"p-{hour}", agent="planner", started_at=at, duration_ms=100.0 * hour),
            event_factory(id=f"c-{hour}", agent="coder", model="gpt-4o-mini", started_at=at),
            event_factory(
                id=f"f-{hour}", agent="flaky", started_at=at, status="error", error_type="Timeout", error_message="slow"
            ),
        ]
    ingest(team, events)
    ingest(other_team, [event_factory(id=f"o-{i}", agent="planner") for i in range(3)])
    return events


def test_each_dashboard_bar_opens_the_executions_of_its_bucket(member_client, team, day_of_runs):
    html = member_client.get("/observability/?range=24h").content.decode()
    spec = chart_spec(html, "obs-executions")
    assert spec["drill_down"] is True
    trace = spec["data"][0]
    assert len(trace["customdata"]) == len(trace["x"]) == 24
    nonempty = [(x, y, url) for x, y, url in zip(trace["x"], trace["y"], trace["customdata"], strict=True) if y]
    assert len(nonempty) == 7
    for x, y, url in nonempty:
        bucket = dt.datetime.fromisoformat(x)
        assert listed_ids(member_client, url) == ids(
            team=team, started_at__gte=bucket, started_at__lt=bucket + dt.timedelta(hours=1)
        )
        assert len(listed_ids(member_client, url)) == y == 3
    # The error rate's points open the errors of their bucket.
    error_url = next(
        u
        for u, y in zip(*(chart_spec(html, "obs-error-rate")["data"][0][k] for k in ("customdata", "y")), strict=True)
        if y
    )
    assert parse_qs(urlsplit(error_url).query)["status"] == ["error"]
    assert listed_ids(member_client, error_url) <= ids(team=team, agent_name="flaky")


def test_a_bar_keeps_the_pages_filters(member_client, team, day_of_runs):
    html = member_client.get("/observability/?range=24h&agent=coder").content.decode()
    trace = chart_spec(html, "obs-executions")["data"][0]
    url = next(u for u, y in zip(trace["customdata"], trace["y"], strict=True) if y)
    assert parse_qs(urlsplit(url).query)["agent"] == ["coder"]
    shown = listed_ids(member_client, url)
    assert len(shown) == 1 and shown <= ids(team=team, agent_name="coder")


def test_minute_bars_of_the_last_hour_open_their_minute(member_client, team, ingest, event_factory, now):
    ingest(team, [event_factory(id=f"m-{i}", started_at=(now - dt.timedelta(minutes=7)).isoformat()) for i in range(2)])
    ingest(team, [event_factory(id="m-late", started_at=(now - dt.timedelta(minutes=6)).isoformat())])
    trace = chart_spec(member_client.get("/observability/?range=1h").content.decode(), "obs-executions")["data"][0]
    urls = [u for u, y in zip(trace["customdata"], trace["y"], strict=True) if y]
    assert len(urls) == 2
    query = parse_qs(urlsplit(urls[0]).query)
    low, high = (
        dt.datetime.fromisoformat(query[k][0].replace("Z", "+00:00")) for k in ("started_after", "started_before")
    )
    assert high - low == dt.timedelta(minutes=1)
    assert [len(listed_ids(member_client, u)) for u in urls] == [2, 1]


def test_agent_page_links_errors_slowest_versions_and_marketplace(member_client, team, ingest, event_factory, now):
    from marketplace import services as marketplace_services

    agent = marketplace_services.agent_create(
        team=team, name="Code Reviewer", slug="code-reviewer", system_prompt="Review.", version="1.0.0"
    )
    at = (now - dt.timedelta(hours=2)).isoformat()
    ingest(
        team,
        [
            event_factory(id="r-1", agent="reviewer", agent_ref="code-reviewer", agent_version="1.0.0", started_at=at),
            event_factory(id="r-2", agent="reviewer", status="error", error_type="RateLimit", started_at=at),
            event_factory(
                id="r-3", agent="reviewer", status="error", error_type="Timeout", started_at=at, duration_ms=9e4
            ),
        ],
    )
    html = member_client.get("/observability/agents/reviewer/?range=24h").content.decode()
    assert f'href="{reverse("marketplace:agent-detail", args=[agent.pk])}" id="marketplace-agent-link"' in html
    errors_table = html.split('id="errors-table"', 1)[1].split("</table>", 1)[0]
    links = {
        name: url.replace("&amp;", "&") for url, name in re.findall(r'<a href="([^"]+)">([^<]+)</a>', errors_table)
    }
    assert listed_ids(member_client, links["Timeout"]) == ids(client_id="r-3")
    assert listed_ids(member_client, links["RateLimit"]) == ids(client_id="r-2")
    slowest = html.split('id="slowest-table"', 1)[1].split("</table>", 1)[0]
    first = re.search(r'href="/observability/executions/(\d+)/"', slowest)
    assert int(first.group(1)) == Execution.objects.get(client_id="r-3").pk
    versions = chart_spec(html, "obs-versions")["data"][0]
    by_version = dict(zip(versions["x"], versions["customdata"], strict=True))
    assert listed_ids(member_client, by_version["1.0.0"]) == ids(client_id="r-1")
    assert listed_ids(member_client, by_version["(unversioned)"]) == ids(client_id__in=["r-2", "r-3"])


def test_bottlenecks_regressions_and_recommendations_link_to_their_rows(member_client, team, day_of_runs):
    html = member_client.get("/observability/bottlenecks/?range=24h").content.decode()
    share = chart_spec(html, "chart-time-share")["data"][0]
    by_agent = dict(zip(share["y"], share["customdata"], strict=True))
    assert listed_ids(member_client, by_agent["planner"]) == ids(team=team, agent_name="planner")
    assert parse_qs(urlsplit(by_agent["planner"]).query)["ordering"] == ["-duration"]
    page = member_client.get(by_agent["planner"]).content.decode()
    durations = re.findall(r'<td class="num">([\d.]+ (?:ms|s))</td>', page)
    assert durations[0] == "1.9 s"  # slowest first

    from observability import conf

    conf_min = conf.MIN_EXECUTIONS
    conf.MIN_EXECUTIONS = 1
    try:
        recs = member_client.get("/observability/recommendations/?range=24h").content.decode()
    finally:
        conf.MIN_EXECUTIONS = conf_min
    finding = html_links(recs, "finding-rows")
    failing = [u for u in finding if "agent=flaky" in u]
    assert failing and listed_ids(member_client, failing[0]) == ids(team=team, agent_name="flaky")
    assert parse_qs(urlsplit(failing[0]).query)["status"] == ["error"]


def test_regression_links_to_the_new_versions_runs(member_client, team, ingest, event_factory, now):
    events = []
    for i in range(30):
        old = (now - dt.timedelta(hours=20, minutes=i)).isoformat()
        new = (now - dt.timedelta(hours=2, minutes=i)).isoformat()
        events.append(
            event_factory(id=f"o{i}", agent="slowpoke", agent_version="1.0", started_at=old, duration_ms=100.0)
        )
        events.append(
            event_factory(id=f"n{i}", agent="slowpoke", agent_version="2.0", started_at=new, duration_ms=900.0)
        )
    ingest(team, events)
    html = member_client.get("/observability/bottlenecks/?range=24h").content.decode()
    links = html_links(html, "regression-rows")
    assert links, "a regression row links to its runs"
    version_link = next(u for u in links if "version=2.0" in u)
    assert listed_ids(member_client, version_link) == ids(team=team, version="2.0")


def test_execution_page_shows_its_fields_error_and_links(member_client, team, ingest, event_factory, now):
    from improvement import services as improvement_services
    from marketplace import services as marketplace_services
    from teammemory import services as teammemory_services

    agent = marketplace_services.agent_create(
        team=team, name="Support Bot", slug="support-bot", system_prompt="Help.", version="1.0.0"
    )
    experiment = improvement_services.experiment_create(
        team=team,
        name="tone",
        status="running",
        variants=[{"name": "control", "prompt": "a", "is_control": True}, {"name": "warm", "prompt": "b"}],
    )
    variant = experiment.variants.order_by("pk").last()
    build, _ = teammemory_services.build_record(
        team=team,
        client_build_id="b-7",
        status="failed",
        started_at=now - dt.timedelta(minutes=9),
        finished_at=now,
        project_name="shop",
    )
    from observability.services import executions_ingest

    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    executions_ingest(
        team=team,
        build=build,
        events=[
            event_factory(
                id="full-1",
                agent="support",
                agent_ref="support-bot",
                agent_version="1.0.0",
                variant_id=variant.pk,
                status="error",
                error_type="ToolError",
                error_message="Traceback: <boom> & more",
                trace_id=trace_id,
                span_id="00f067aa0ba902b7",
                quality=42,
            )
        ],
    )
    execution = Execution.objects.get(client_id="full-1")
    response = member_client.get(f"/observability/executions/{execution.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "full-1",
        "ToolError",
        "Traceback: &lt;boom&gt; &amp; more",
        "gpt-4o",
        "1.0.0",
        trace_id,
        "00f067aa0ba902b7",
    ):
        assert text in html, text
    assert 'href="/observability/agents/support/" id="link-obs-agent"' in html
    assert f'href="{reverse("marketplace:agent-detail", args=[agent.pk])}" id="link-marketplace-agent"' in html
    assert f'href="{reverse("improvement:experiment-detail", args=[experiment.pk])}" id="link-experiment"' in html
    assert f'href="{reverse("teammemory:build-detail", args=[build.pk])}" id="link-build"' in html
    # Back to this span in its trace (selected there).
    assert f'href="/observability/traces/{trace_id}/?span={execution.pk}#span-detail" id="link-trace"' in html
    same_trace = re.search(r'href="([^"]+)" id="link-same-trace"', html).group(1).replace("&amp;", "&")
    assert listed_ids(member_client, same_trace) == {execution.pk}
    # The list links each row to its page.
    assert execution.pk in listed_ids(member_client, "/observability/executions/")


def test_each_row_of_the_executions_list_links_to_its_execution_and_its_agent(
    member_client, team, ingest, event_factory
):
    """The list builds its rows' links once per page; each must be the route's own, names quoted
    as ``reverse`` quotes them."""
    names = ["plain", "with space", "a/b?c#d", "ünïcode", "50%"]
    ingest(team, [event_factory(id=f"row-{i}", agent=name) for i, name in enumerate(names)])
    html = member_client.get("/observability/executions/").content.decode()
    table = html.split('id="executions-table"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr><td><a href="([^"]+)">[^<]*</a></td><td><a href="([^"]+)">', table)
    expected = {
        (reverse("observability:execution", args=[e.pk]), reverse("observability:agent", args=[e.agent_name]))
        for e in Execution.objects.filter(team=team)
    }
    assert {(execution.replace("&amp;", "&"), agent.replace("&amp;", "&")) for execution, agent in rows} == expected
    assert len(rows) == len(names)


def test_each_row_of_the_traces_list_links_to_its_trace_session_and_user(member_client, team):
    """The traces list builds its rows' links once per page (``trace_views.trace_rows``); each must
    be what ``reverse`` and the ``urlencode`` filter give, for ids that are any text."""
    ids = ["plain", "with space", "a/b?c#d", "ünïcode", "50%", "..", "x&y<z>"]
    start = timezone.now() - dt.timedelta(hours=1)
    Trace.objects.bulk_create(
        Trace(
            team=team,
            trace_id=f"t-{text}"[:32],
            session_id=f"s-{text}",
            end_user_id=f"u-{text}",
            started_at=start + dt.timedelta(seconds=n),
            ended_at=start + dt.timedelta(seconds=n + 1),
            status="error" if n % 2 else "success",
            error_count=n % 2 * (1 + n % 3),
        )
        for n, text in enumerate(ids)
    )
    html = member_client.get("/observability/traces/").content.decode()
    table = html.split('id="traces-table"', 1)[1].split("</table>", 1)[0]
    links = {link.replace("&amp;", "&") for link in re.findall(r'<a href="([^"]+)"', table)}
    for trace in Trace.objects.filter(team=team):
        assert reverse("observability:trace", args=[trace.trace_id]) in links
        assert reverse("observability:session", args=[trace.session_id]) in links
        assert f"?user={quote(trace.end_user_id)}" in links
    shown = re.findall(r'<span class="badge badge-bad">([^<]+)</span>', table)
    expected = [t.error_count for t in Trace.objects.filter(team=team, status="error").order_by("-started_at")]
    assert shown == [f"{count} error{'' if count == 1 else 's'}" for count in expected]
    assert {"1 error", "2 errors"} <= set(shown)


def test_execution_page_of_another_team_is_404(member_client, other_team, ingest, event_factory):
    ingest(other_team, [event_factory(id="theirs")])
    theirs = Execution.objects.get(client_id="theirs")
    assert member_client.get(f"/observability/executions/{theirs.pk}/").status_code == 404
    assert member_client.get("/observability/executions/999999999/").status_code == 404


def test_execution_without_links_says_so_plainly(member_client, team, ingest, event_factory):
    ingest(team, [event_factory(id="plain")])
    html = member_client.get(
        f"/observability/executions/{Execution.objects.get(client_id='plain').pk}/"
    ).content.decode()
    assert 'id="link-marketplace-agent"' not in html and 'id="link-experiment"' not in html
    assert 'id="link-build"' not in html and 'id="execution-error"' not in html
    # Every execution is (a span of) a trace: one sent without a trace id gets one of its own.
    plain = Execution.objects.get(client_id="plain")
    assert ('id="link-trace"' in html) == bool(plain.trace_id)


def test_a_7_day_bar_opens_its_six_hours(member_client, team, ingest, event_factory, now):
    base = (now - dt.timedelta(days=3)).replace(hour=13, minute=0, second=0, microsecond=0)
    ingest(
        team,
        [
            event_factory(id="six-a", started_at=(base + dt.timedelta(minutes=5)).isoformat()),
            event_factory(id="six-b", started_at=(base + dt.timedelta(hours=4)).isoformat()),  # 17:00, same slot
            event_factory(id="six-c", started_at=(base + dt.timedelta(hours=6)).isoformat()),  # 19:00, next slot
        ],
    )
    trace = chart_spec(member_client.get("/observability/?range=7d").content.decode(), "obs-executions")["data"][0]
    assert len(trace["x"]) == 28
    by_time = {
        dt.datetime.fromisoformat(x): (y, url)
        for x, y, url in zip(trace["x"], trace["y"], trace["customdata"], strict=True)
    }
    noon_slot = base.replace(hour=12)
    count, url = by_time[noon_slot]
    assert count == 2
    query = parse_qs(urlsplit(url).query)
    assert query["started_after"] == [noon_slot.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert query["started_before"] == [(noon_slot + dt.timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert listed_ids(member_client, url) == ids(client_id__in=["six-a", "six-b"])


@pytest.mark.parametrize("filters", [{}, {"agent": "support bot", "status": "error"}, {"model": "gpt-4o+mini"}])
def test_bucket_links_are_the_executions_urls_of_their_buckets(filters):
    """``bucket_urls`` encodes the filters once per chart: each URL is still ``executions_url``'s."""
    from crucible import periods
    from observability import drilldown, selectors

    period = selectors.time_range("1h")
    width = periods.BUCKETS[period.bucket]
    series = [{"time": period.start + i * width} for i in range(-1, 61)]
    expected = [
        drilldown.executions_url(start=max(p["time"], period.start), end=min(p["time"] + width, period.end), **filters)
        for p in series
    ]
    assert drilldown.bucket_urls(series, period, **filters) == expected


@pytest.mark.parametrize("ordering", ["", "-duration"])
def test_period_links_are_the_period_urls_of_their_rows(ordering):
    """``period_urls`` encodes the period once per table: each URL is still ``period_url``'s."""
    from observability import drilldown, selectors

    period = selectors.time_range("24h")
    rows = [{}, {"agent": "a/b c%&x"}, {"agent": "<b>", "model": "gpt-4o+mini", "status": "error"}, {"model": None}]
    expected = [drilldown.period_url(period, ordering=ordering, **f) for f in rows]
    assert drilldown.period_urls(period, rows, ordering=ordering) == expected
