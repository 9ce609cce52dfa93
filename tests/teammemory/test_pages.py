"""Team memory pages: insights, build list with filters, build detail, stack suggestion form."""

import datetime as dt
import json
import re

import pytest
from django.utils import timezone

from crucible import services as core_services
from crucible.models import Role

pytestmark = pytest.mark.django_db

NOW = timezone.now()


@pytest.fixture
def client(client, member):
    client.force_login(member)
    return client


def chart_spec(html, script_id):
    match = re.search(rf'<script id="{script_id}" type="application/json">(.*?)</script>', html, re.S)
    assert match, script_id
    return json.loads(match.group(1))


def test_insights_page_with_trend_chart_and_recommendations(client, make_build):
    for week in range(6):
        make_build(quality=60 + 5 * week, started=NOW - dt.timedelta(weeks=5 - week, hours=1), project_name=f"p{week}")
    html = client.get("/teammemory/").content.decode()
    assert "Team memory of Acme" in html
    spec = chart_spec(html, "chart-quality-trend")
    quality = spec["data"][0]
    assert quality["name"] == "Average quality" and len(quality["x"]) == len(quality["y"]) >= 6
    assert 'data-chart-source="chart-quality-trend"' in html
    assert chart_spec(html, "chart-success-by-stack")["data"][0]["y"] == ["python + django + postgresql"]
    assert "rising" in html  # 60 -> 85 over six weeks: a significant rise
    assert 'id="recommendations"' in html and "too few to judge" in html
    assert "vendor/plotly/plotly.min.js" in html and "<script>" not in html  # no inline scripts


def test_insights_page_period_and_empty_state(client):
    response = client.get("/teammemory/", {"days": "30"})
    assert response.status_code == 200
    assert "No builds yet" in response.content.decode()
    assert client.get("/teammemory/", {"days": "oops"}).status_code == 200


def test_user_text_is_escaped(client, make_build):
    build = make_build(
        project_name="<script>alert(1)</script>",
        requirements="<img src=x onerror=alert(2)>",
        errors=[{"type": "<b>E</b>", "message": "<i>m</i>"}],
        started=NOW - dt.timedelta(hours=3),
    )
    for url in ("/teammemory/", "/teammemory/builds/", f"/teammemory/builds/{build.pk}/"):
        html = client.get(url).content.decode()
        assert "<script>alert(1)</script>" not in html and "<img src=x" not in html and "<b>E</b>" not in html
        assert "&lt;" in html


def test_build_list_filters(client, make_build):
    make_build(
        status="failed", project_name="broken-shop", stack={"database": "MySQL"}, started=NOW - dt.timedelta(hours=2)
    )
    make_build(
        status="succeeded",
        project_name="fine-blog",
        stack={"database": "Postgres"},
        started=NOW - dt.timedelta(hours=3),
    )
    html = client.get("/teammemory/builds/", {"status": "failed"}).content.decode()
    assert "broken-shop" in html and "fine-blog" not in html
    html = client.get("/teammemory/builds/", {"component": "postgres"}).content.decode()
    assert "fine-blog" in html and "broken-shop" not in html
    assert "1 build." in html


def test_build_detail_lists_errors_agents_and_executions(client, make_build, agent):
    started = NOW - dt.timedelta(hours=5)
    event = {
        "id": "exec-1",
        "agent": "coder",
        "started_at": started.isoformat(),
        "duration_ms": 1234,
        "status": "success",
    }
    build = make_build(
        project_name="shop",
        agents=[{"agent": agent.slug, "version": "1.0.0"}],
        errors=[{"type": "LintError", "message": "line too long"}],
        executions=[event],
        started=started,
    )
    html = client.get(f"/teammemory/builds/{build.pk}/").content.decode()
    assert "LintError" in html and "line too long" in html and f"acme/{agent.slug}" in html
    executions = html.split('id="executions"')[1].split("</table>")[0]
    assert "coder" in executions and "success" in executions
    assert "No executions were reported" not in executions


def test_other_teams_build_is_404(client, make_build, other_team):
    build = make_build(team=other_team)
    assert client.get(f"/teammemory/builds/{build.pk}/").status_code == 404


def test_suggestion_form(client, make_build):
    for i in range(6):
        make_build(requirements="Invoices API with payments", started=NOW - dt.timedelta(days=2, hours=i))
    response = client.post(
        "/teammemory/suggest/", {"requirements": "An API for invoices", "limit": 3, "require": "postgres"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-basis="similar_builds"' in html and "python + django + postgresql" in html


def test_suggestion_form_errors(client):
    response = client.post("/teammemory/suggest/", {"requirements": "   ", "limit": 99})
    assert response.status_code == 400
    assert "Describe the project." in response.content.decode()


def test_viewer_may_use_the_suggestion_form(make_user, team):
    viewer = make_user("v", team=team, role=Role.VIEWER)
    from django.test import Client

    c = Client()
    c.force_login(viewer)
    response = c.post("/teammemory/suggest/", {"requirements": "anything", "limit": 3})
    assert response.status_code == 200 and 'data-basis="none"' in response.content.decode()


def test_login_required(db):
    from django.test import Client

    assert Client().get("/teammemory/").status_code == 302


def test_home_card(client, make_build):
    make_build(started=NOW - dt.timedelta(days=1), quality=77)
    html = client.get("/").content.decode()
    assert "Team memory" in html and "Builds (30 days)" in html and "77" in html


def test_admin_screens(make_build, make_user):
    from django.test import Client

    build = make_build(started=NOW - dt.timedelta(days=1), errors=[{"type": "E"}])
    admin = core_services.user_create(username="root", password="pw-for-tests-1", is_superuser=True)
    c = Client()
    c.force_login(admin)
    for url in (
        "/admin/teammemory/build/",
        f"/admin/teammemory/build/{build.pk}/change/",
        "/admin/teammemory/builderror/",
        "/admin/teammemory/buildagent/",
        "/admin/teammemory/build/?q=b-&status__exact=succeeded",
    ):
        assert c.get(url).status_code == 200, url


def test_following_a_stack_from_the_insights_page_keeps_the_period(client, make_build):
    for days in (1, 20, 40):
        make_build(started=NOW - dt.timedelta(days=days))
    make_build(started=NOW - dt.timedelta(days=200))  # same stack, outside the 90 days
    html = client.get("/teammemory/", {"range": "90d"}).content.decode()
    stack_row = re.search(
        r'<td><a href="([^"]*stack=[^"]*)">python \+ django \+ postgresql</a>.*?<td class="num">(\d+)</td>', html, re.S
    )
    assert stack_row and stack_row.group(2) == "3"
    link = stack_row.group(1).replace("&amp;", "&")
    builds = client.get(link).content.decode()
    assert "1–3 of 3 builds" in builds  # not the 4 builds of all time
    assert len(re.findall(r'href="/teammemory/builds/\d+/"', builds)) == 3


def test_insights_period_from_the_form(client, make_build):
    make_build(started=NOW - dt.timedelta(days=20))
    make_build(started=NOW - dt.timedelta(days=60))
    html = client.get("/teammemory/", {"range": "30d"}).content.decode()
    assert re.search(r'id="kpi-builds">1<', html) and "Last 30 days:" in html
    since = (NOW - dt.timedelta(days=70)).strftime("%Y-%m-%dT%H:%M")
    html = client.get("/teammemory/", {"since": since}).content.decode()  # a start alone runs to now
    assert re.search(r'id="kpi-builds">2<', html) and "Custom:" in html
    html = client.get("/teammemory/", {"range": "custom"}).content.decode()
    assert "A custom period needs a start" in html and "range:" not in html
