"""Chart labels are text (issue 15 item 9): agent and version names reach plotly escaped."""

import pytest

from tests.chart_checks import EVIL, assert_evil_name_escaped, chart_specs

pytestmark = pytest.mark.django_db


def test_agent_and_version_names_are_escaped_in_every_chart(client, member, team, event_factory, ingest):
    ingest(team, [event_factory(agent=EVIL, agent_version="1.0") for _ in range(3)])
    ingest(team, [event_factory(agent="planner", agent_version=EVIL) for _ in range(3)])
    client.force_login(member)
    for url, expected in [
        ("/observability/", []),
        ("/observability/bottlenecks/", ["chart-time-share"]),
        ("/observability/agents/planner/", ["obs-versions"]),
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert_evil_name_escaped(chart_specs(response.content.decode()), expected_in=expected)
