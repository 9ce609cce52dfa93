"""The upgrade advisor's diff page shows the measured evidence of both versions, under the same
rules as every other evidence path: the team's own figures, other teams' only as a spread from K
sharing teams besides the viewer's."""

import pytest
from django.urls import reverse

from marketplace import conf, services
from tests.marketplace.evidence_helpers import run_version, share

pytestmark = pytest.mark.django_db


@pytest.fixture
def upgraded(make_agent, team, member):
    agent = make_agent(team, "Summariser", created_by=member)
    services.version_publish(agent=agent, system_prompt="Summarise briefly.", changelog="Briefer.")
    agent.refresh_from_db()
    return agent


def _row(page: str, figure: str) -> str:
    return page.split(f'data-figure="{figure}"')[1].split("</tr>")[0]


def test_diff_page_shows_both_versions_evidence_with_the_k_rule(upgraded, make_team, make_user, client, monkeypatch):
    monkeypatch.setattr(conf, "EVIDENCE_MIN_TEAMS", 3)
    old, new = upgraded.versions.order_by("created_at")
    viewer = make_team("Viewer", slug="viewer")
    run_version(viewer, old, runs=10, failures=1)
    run_version(viewer, new, runs=10, failures=3)
    client.force_login(make_user("viewer-user", team=viewer))
    url = reverse("marketplace:version-diff", args=[upgraded.pk])
    page = client.get(url, {"from": old.version, "to": new.version}).content.decode()
    row = _row(page, "success_rate")
    assert row.index("90.0%") < row.index("70.0%")  # own figures: the old version, then the new one

    others = [make_team(f"Sharer {i}", slug=f"sharer-{i}") for i in range(3)]
    for team, failures in zip(others, (2, 4, 6), strict=True):
        run_version(team, new, runs=10, failures=failures)
    share(viewer)
    share(others[0])
    share(others[1])
    page = client.get(url, {"from": old.version, "to": new.version}).content.decode()
    assert "40.0% / 60.0% / 80.0%" not in page and "60.0% / " not in _row(page, "success_rate")  # two others
    share(others[2])
    page = client.get(url, {"from": old.version, "to": new.version}).content.decode()
    assert "40.0% / 60.0% / 80.0%" in _row(page, "success_rate")  # three others, the viewer's own not among them
