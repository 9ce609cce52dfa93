"""The four list pages share one base view (crucible.lists.FilteredListView): the API's FilterSet,
an invalid filter shows nothing and names the problem next to the field by its label, pagination
with totals, whitelisted sortable columns, and a query count that does not grow with the rows."""

import datetime as dt
import itertools
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crucible import services
from crucible.models import ApiKey
from improvement import services as improvement_services
from marketplace import services as marketplace_services
from observability import services as observability_services
from teammemory import services as teammemory_services

pytestmark = pytest.mark.django_db

NOW = timezone.now()
_n = itertools.count(1)


def add_builds(team, count, **fields):
    for i in range(count):
        started = NOW - dt.timedelta(hours=1 + i)
        teammemory_services.build_record(
            team=team,
            status=fields.get("status", "succeeded"),
            quality=fields.get("quality", 50 + i % 50),
            started_at=started,
            finished_at=started + dt.timedelta(minutes=5),
            client_build_id=f"list-{next(_n)}",
            stack={"language": "Python", "framework": "Django"},
        )


def add_agents(team, count):
    for _ in range(count):
        n = next(_n)
        marketplace_services.agent_create(
            team=team, name=f"Lister {n}", system_prompt=f"You are agent {n}.", summary=f"Agent {n}"
        )


def add_experiments(team, count):
    for _ in range(count):
        improvement_services.experiment_create(
            team=team,
            name=f"experiment-{next(_n)}",
            variants=[
                {"name": "control", "prompt": "You are the control.", "is_control": True},
                {"name": "short", "prompt": "Be short.", "is_control": False},
            ],
            status="running",
        )


def add_executions(team, count):
    events = [
        {
            "id": f"list-{next(_n)}",
            "agent": "planner",
            "model": "gpt-4o",
            "started_at": (NOW - dt.timedelta(minutes=5 + i)).isoformat(),
            "duration_ms": 100.0 + i,
            "status": "success",
        }
        for i in range(count)
    ]
    results = observability_services.executions_ingest(team=team, events=events)
    assert all(r["status"] == "stored" for r in results)


PAGES = {
    "marketplace": ("/marketplace/", add_agents, "min_rating", "Minimum rating"),
    "builds": ("/teammemory/builds/", add_builds, "quality_min", "Quality at least"),
    "experiments": ("/improvement/", add_experiments, "agent", "Agent id"),
    "executions": ("/observability/executions/", add_executions, "min_duration_ms", "Duration at least (ms)"),
}
ROW = {
    "marketplace": r'class="agent-link"',
    "builds": r'href="/teammemory/builds/\d+/"',
    "experiments": r'href="/improvement/experiments/\d+/"',
    "executions": r'href="/observability/agents/planner/"',
}


@pytest.fixture
def client(client, member):
    client.force_login(member)
    return client


@pytest.mark.parametrize("name", list(PAGES))
def test_an_invalid_filter_shows_nothing_and_names_the_field_by_its_label(client, team, name):
    url, add, parameter, label = PAGES[name]
    add(team, 2)
    html = client.get(url).content.decode()
    assert len(re.findall(ROW[name], html)) == 2
    html = client.get(url, {parameter: "abc"}).content.decode()
    assert len(re.findall(ROW[name], html)) == 0  # not everything, as if the filter were not there
    field = re.search(
        rf'<div class="filter-field has-error">\s*<label>{re.escape(label)} .*?</label>\s*(?:<small[^>]*>[^<]*</small>\s*)?<p class="field-error"[^>]*>([^<]+)</p>',
        html,
        re.S | re.I,
    )
    assert field, html[html.find("<form") : html.find("</form>")]
    assert field.group(1).strip().endswith(".")
    assert f"{parameter}:" not in html  # never the parameter name


@pytest.mark.parametrize("name", list(PAGES))
def test_list_page_queries_do_not_grow_with_the_rows(client, team, name, django_assert_num_queries):
    url, add, _, _ = PAGES[name]
    add(team, 1)
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    add(team, 29)
    with django_assert_num_queries(len(one.captured_queries)):
        html = client.get(url).content.decode()
    assert len(re.findall(ROW[name], html)) >= 20


def test_pagination_with_totals_keeps_filters_and_sort(client, team):
    add_builds(team, 30)
    html = client.get("/teammemory/builds/", {"status": "succeeded", "ordering": "quality"}).content.decode()
    assert "1–25 of 30 builds" in html
    next_url = re.search(r'<a href="(\?[^"]*)" rel="next">', html).group(1).replace("&amp;", "&")
    assert "status=succeeded" in next_url and "ordering=quality" in next_url and "page=2" in next_url
    html = client.get("/teammemory/builds/" + next_url).content.decode()
    assert "26–30 of 30 builds" in html and 'rel="prev"' in html and 'rel="next"' not in html
    # Executions have no total (the table can be huge): a range and the links only.
    add_executions(team, 60)
    html = client.get("/observability/executions/").content.decode()
    assert re.search(r'<span class="page-range">1–50</span>', html) and 'rel="next"' in html


def test_sortable_columns_are_whitelisted(client, team):
    add_builds(team, 3)

    def qualities(html):
        cells = r'<td class="num">(\d+)</td>\s*<td class="num">[^<]*</td>\s*<td class="num">'
        return [int(q) for q in re.findall(cells, html)]

    ascending = qualities(client.get("/teammemory/builds/", {"ordering": "quality"}).content.decode())
    descending = qualities(client.get("/teammemory/builds/", {"ordering": "-quality"}).content.decode())
    assert ascending == sorted(ascending) and descending == sorted(ascending, reverse=True) and len(ascending) == 3
    response = client.get("/teammemory/builds/", {"ordering": "requirements"})  # not a sortable column
    assert response.status_code == 200 and "3 builds" in response.content.decode()
    html = client.get("/teammemory/builds/", {"ordering": "-quality"}).content.decode()
    assert 'aria-sort="descending"' in html


def test_an_empty_value_sorts_below_every_value_on_pages(client, team):
    """PostgreSQL puts NULL above every value: "best quality first" opened on the unscored builds and
    "costliest first" on the unpriced executions (crucible.lists.ordering_terms)."""
    add_builds(team, 2)
    add_builds(team, 2, quality=None)

    def listed(url, ordering, value):
        return [value(item) for item in client.get(url, {"ordering": ordering}).context["listing"].items]

    quality = lambda build: build.quality  # noqa: E731
    assert listed("/teammemory/builds/", "-quality", quality) == [51, 50, None, None]
    assert listed("/teammemory/builds/", "quality", quality) == [None, None, 50, 51]
    events = [
        {"id": f"cost-{next(_n)}", "agent": "planner", "model": "no-price-model", "started_at": NOW.isoformat(),
         "duration_ms": 10.0, "status": "success", **({"cost": cost} if cost is not None else {})}
        for cost in (0.25, None, 1.5)
    ]  # fmt: skip
    observability_services.executions_ingest(team=team, events=events)
    cost = lambda execution: None if execution.cost is None else float(execution.cost)  # noqa: E731
    assert listed("/observability/executions/", "-cost", cost) == [1.5, 0.25, None]
    assert listed("/observability/executions/", "cost", cost) == [None, 0.25, 1.5]


def test_an_empty_value_sorts_below_every_value_in_the_api(client_for, team, member):
    used, _ = services.api_key_create(team=team, name="used", role="member", created_by=member)
    services.api_key_create(team=team, name="never used", role="member", created_by=member)
    ApiKey.objects.filter(pk=used.pk).update(last_used_at=NOW)
    api = client_for(member)
    names = lambda ordering: [  # noqa: E731
        key["name"] for key in api.get("/api/v1/api-keys/", {"ordering": ordering}).json()["results"]
    ]
    assert names("-last_used_at") == ["used", "never used"]
    assert names("last_used_at") == ["never used", "used"]
