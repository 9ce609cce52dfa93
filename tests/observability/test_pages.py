import re

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(team, ingest, event_factory):
    ingest(
        team,
        [event_factory(agent="planner", duration_ms=100.0 + i) for i in range(25)]
        + [event_factory(agent="we/ird <agent>", model="unknown-model", status="error", error_type="Boom")],
    )


def test_dashboard_page(client, member, seeded):
    client.force_login(member)
    response = client.get("/observability/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-chart-source="obs-executions"' in html and 'id="obs-p95"' in html
    assert "unpriced-warning" in html and "unknown-model" in html
    assert "we/ird &lt;agent&gt;" in html  # escaped
    assert "<script>" not in html.replace("<script src=", "")


def test_agent_page_with_odd_name(client, member, seeded):
    client.force_login(member)
    response = client.get("/observability/agents/we/ird%20%3Cagent%3E/")
    assert response.status_code == 200
    assert "Boom" in response.content.decode()
    assert client.get("/observability/agents/nobody/").status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/observability/bottlenecks/",
        "/observability/recommendations/",
        "/observability/executions/",
        "/observability/executions/?status=error&page=1",
        "/observability/?range=7d",
        "/observability/?range=30d&agent=planner",
        "/observability/?range=custom&start=2026-01-01T00:00&end=2025-01-01T00:00",
        "/observability/executions/?page=99999999999999999999999",
        "/observability/bottlenecks/?range=custom&start=0001-01-01T00:00&end=0001-01-02T00:00",
    ],
)
def test_other_pages(client, member, seeded, url):
    client.force_login(member)
    response = client.get(url)
    assert response.status_code == 200


def test_bad_custom_range_shows_a_message(client, member, seeded):
    client.force_login(member)
    html = client.get("/observability/?range=custom").content.decode()
    # The message sits next to the Start field (by its label, not its parameter name).
    assert re.search(
        r"<label>Start .*?</label>\s*(?:<small[^>]*>[^<]*</small>\s*)?<p class=\"field-error\"[^>]*>A custom period needs a start",
        html,
        re.S,
    )
    assert "start:" not in html
    assert "showing last 24 hours instead" in html


def test_pages_need_login(client):
    response = client.get("/observability/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_home_card(client, member, seeded):
    client.force_login(member)
    html = client.get("/").content.decode()
    assert "Executions (24 h)" in html


def test_admin_screens(client, seeded, django_assert_max_num_queries):
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-for-tests-1")
    client.force_login(admin)
    for url in [
        "/admin/observability/execution/",
        "/admin/observability/hourlyrollup/",
        "/admin/observability/dailyrollup/",
        "/admin/observability/errorrollup/",
        "/admin/observability/modelprice/",
        "/admin/observability/execution/?status=error&q=planner",
    ]:
        with django_assert_max_num_queries(15):
            response = client.get(url)
        assert response.status_code == 200, url
    price_add = client.post(
        "/admin/observability/modelprice/add/",
        {
            "pattern": "my-model*",
            "input_per_million": "1",
            "cached_input_per_million": "0.5",
            "output_per_million": "2",
            "reasoning_per_million": "2",
            "effective_from": "2025-01-01",
            "notes": "",
        },
    )
    assert price_add.status_code == 302
    from observability.models import DailyRollup, HourlyRollup, ModelPrice

    assert ModelPrice.objects.filter(pattern="my-model*").exists()
    HourlyRollup.objects.update(executions=0)
    rows = list(HourlyRollup.objects.values_list("pk", flat=True))
    response = client.post("/admin/observability/hourlyrollup/", {"action": "rebuild_days", "_selected_action": rows})
    assert response.status_code == 302
    assert sum(HourlyRollup.objects.values_list("executions", flat=True)) == 26
    assert sum(DailyRollup.objects.values_list("executions", flat=True)) == 26
