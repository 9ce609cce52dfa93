"""The upgrade advisor on the pages and the API, and the end-to-end loop: publish, install, a new
version, the advisor's experiment, results, the winner pinned (installed) or published (own)."""

import pytest
from django.test import Client

from improvement import services
from improvement.models import Experiment, SourceKind, Status
from marketplace import services as marketplace_services
from marketplace.models import AgentVersion, Installation

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(member):
    """A browser session (form posts, not JSON)."""
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def upgradable(other_team, outsider, team, member):
    """Globex publishes Reviewer 1.0.0, Acme (team) installs it, Globex publishes 1.1.0."""
    agent = marketplace_services.agent_create(
        team=other_team, name="Reviewer", system_prompt="Review.", model_hints={"model": "big"}, created_by=outsider
    )
    marketplace_services.agent_install(agent=agent, team=team, user=member)
    marketplace_services.version_publish(agent=agent, system_prompt="Review <carefully>.", changelog="Careful.")
    agent.refresh_from_db()
    return agent


def test_installed_and_agent_pages_show_the_new_version_with_diff_and_try_links(upgradable, member_client):
    installed = member_client.get("/marketplace/installed/").content.decode()
    assert "1.1.0 available" in installed
    assert f"/marketplace/agents/{upgradable.pk}/diff/?from=1.0.0&amp;to=1.1.0" in installed
    assert "/improvement/experiments/try-version/" in installed
    page = member_client.get(f"/marketplace/agents/{upgradable.pk}/").content.decode()
    assert 'id="upgrade-advisor"' in page and 'id="try-version-button"' in page


def test_no_advice_when_on_the_newest_version(upgradable, member_client, team):
    installation = Installation.objects.get(team=team, agent=upgradable)
    marketplace_services.installation_upgrade(installation=installation)
    page = member_client.get(f"/marketplace/agents/{upgradable.pk}/").content.decode()
    assert 'id="upgrade-advisor"' not in page


def test_try_button_starts_the_experiment_and_opens_it(upgradable, web, team):
    response = web.post("/improvement/experiments/try-version/", {"agent": upgradable.pk})
    experiment = Experiment.objects.get(team=team, source_kind=SourceKind.UPGRADE)
    assert response.status_code == 302 and response["Location"] == f"/improvement/experiments/{experiment.pk}/"
    page = web.get(response["Location"]).content.decode()
    assert "version 1.0.0" in page and "version 1.1.0" in page and "Guardrail" in page
    assert f"/marketplace/agents/{upgradable.pk}/" in page  # links back to where it came from
    again = web.post("/improvement/experiments/try-version/", {"agent": upgradable.pk})
    assert again["Location"] == response["Location"]
    assert Experiment.objects.filter(team=team).count() == 1


def test_try_version_api(upgradable, team_key_client, key_client, other_team):
    response = team_key_client.post(
        "/api/v1/improvement/experiments/try-version/", {"agent": upgradable.pk}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "running" and body["source_kind"] == "upgrade"
    assert body["guardrail_error_margin"] == pytest.approx(0.02) and "guardrail_max_error_rate_increase" not in body
    assert sorted(v["version_label"] for v in body["variants"]) == ["1.0.0", "1.1.0"]
    again = team_key_client.post(
        "/api/v1/improvement/experiments/try-version/", {"agent": upgradable.pk}, format="json"
    )
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    # The publisher did not install its own agent: nothing to compare.
    publisher = key_client(other_team)
    refused = publisher.post("/api/v1/improvement/experiments/try-version/", {"agent": upgradable.pk}, format="json")
    assert refused.status_code == 400 and "agent" in refused.json()["fields"]


def test_try_version_api_refuses_a_viewer(upgradable, key_client, team):
    viewer = key_client(team, role="viewer")
    response = viewer.post("/api/v1/improvement/experiments/try-version/", {"agent": upgradable.pk}, format="json")
    assert response.status_code == 403


def _run(team, experiment, *, winner_name_prefix, rng_seed=3):
    """Serve and record results through select/results as a client would: the new version wins."""
    import random

    rng = random.Random(rng_seed)
    results = []
    for _ in range(400):
        selection = services.experiment_select(team_ids=[team.pk], experiment_id=experiment.pk, rng=rng)
        good = selection.variant.name.startswith(winner_name_prefix)
        results.append(
            {
                "assignment_id": selection.assignment_id,
                "success": rng.random() < (0.97 if good else 0.6),
                "duration_ms": 1000,
                "quality": 90 if good else 50,
                "tokens": 100,
                "cost": 0.001,
            }
        )
    services.results_record_bulk(team=team, results=results, skip_refused=False)


def test_end_to_end_installed_agent_winner_is_pinned(upgradable, team, team_key_client):
    response = team_key_client.post(
        "/api/v1/improvement/experiments/try-version/",
        {"agent": f"{upgradable.team.slug}/{upgradable.slug}"},
        format="json",
    )
    experiment = Experiment.objects.get(pk=response.json()["id"])
    _run(team, experiment, winner_name_prefix="new")
    concluded = team_key_client.post(
        f"/api/v1/improvement/experiments/{experiment.pk}/conclude/", {"promote": True}, format="json"
    )
    assert concluded.status_code == 200, concluded.json()
    body = concluded.json()
    assert body["promoted_as"] == "pinned" and body["promoted_version_label"] == "1.1.0"
    installation = Installation.objects.get(team=team, agent=upgradable)
    assert installation.version.version == "1.1.0" and installation.pinned
    assert AgentVersion.objects.filter(agent=upgradable).count() == 2


def test_end_to_end_own_agent_winner_is_published(team, member, team_key_client):
    agent = marketplace_services.agent_create(team=team, name="Own", system_prompt="v1", created_by=member)
    marketplace_services.agent_install(agent=agent, team=team)
    marketplace_services.version_publish(agent=agent, system_prompt="v2 prompt", model_hints={"model": "fast"})
    agent.refresh_from_db()
    experiment, _ = services.experiment_upgrade_start(team=team, agent=agent)
    _run(team, experiment, winner_name_prefix="current")  # the installed version wins this time
    experiment = services.experiment_conclude(experiment=experiment, promote=True)
    experiment.refresh_from_db()
    assert experiment.status == Status.CONCLUDED and experiment.promoted_as == "published"
    assert experiment.promoted_version.version == "1.2.0"
    assert experiment.promoted_version.system_prompt == "v1"
