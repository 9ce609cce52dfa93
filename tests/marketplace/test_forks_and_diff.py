"""Forks (a copy in your own team that links to the original) and the diff between two versions."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from marketplace import services
from marketplace.diff import version_diff
from marketplace.models import Agent, Visibility

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(member):
    """A browser session (form posts, not JSON)."""
    client = Client()
    client.force_login(member)
    return client


SCHEMA = {"type": "object", "properties": {"diff": {"type": "string"}}}


@pytest.fixture
def two_versions(public_agent):
    services.version_publish(
        agent=public_agent,
        system_prompt="Write tests.\nUse pytest.\n<b>Be brief</b>.",
        input_schema=SCHEMA,
        model_hints={"model": "small"},
        changelog="Briefer.",
    )
    public_agent.refresh_from_db()
    return public_agent


def test_fork_copies_the_version_and_links_both_ways(public_agent, team, member):
    version = public_agent.latest_version
    fork = services.agent_fork(agent=public_agent, team=team, created_by=member)
    assert fork.team == team and fork.visibility == Visibility.PRIVATE
    assert fork.forked_from == public_agent and fork.forked_from_version == version
    assert fork.latest_version.system_prompt == version.system_prompt
    assert fork.latest_version.version == "1.0.0"
    public_agent.refresh_from_db()
    assert public_agent.fork_count == 1
    again = services.agent_fork(agent=public_agent, team=team)
    assert again.slug == f"{public_agent.slug}-fork"
    public_agent.refresh_from_db()
    assert public_agent.fork_count == 2


def test_a_private_agent_of_another_team_cannot_be_forked(make_agent, other_team, team):
    private = make_agent(other_team, "Secret", visibility="private")
    with pytest.raises(PermissionDenied):
        services.agent_fork(agent=private, team=team)


def test_fork_api_and_both_pages(public_agent, member_client, outsider_client):
    response = member_client.post(f"/api/v1/marketplace/agents/{public_agent.pk}/fork/", {}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["forked_from"] == {
        "id": public_agent.pk,
        "ref": f"{public_agent.team.slug}/{public_agent.slug}",
        "version": public_agent.latest_version.version,
    }
    fork = Agent.objects.get(pk=body["id"])
    original = member_client.get(f"/api/v1/marketplace/agents/{public_agent.pk}/").json()
    assert original["fork_count"] == 1 and original["forked_from"] is None
    fork_page = member_client.get(f"/marketplace/agents/{fork.pk}/").content.decode()
    assert "Forked from" in fork_page and f"{public_agent.team.slug}/{public_agent.slug}" in fork_page
    original_page = outsider_client.get(f"/marketplace/agents/{public_agent.pk}/").content.decode()
    assert "1 fork" in original_page
    # The private fork is not listed to the original's team.
    assert f"/marketplace/agents/{fork.pk}/" not in original_page


def test_fork_api_rejects_an_unknown_version(public_agent, member_client):
    response = member_client.post(
        f"/api/v1/marketplace/agents/{public_agent.pk}/fork/", {"version": "9.9.9"}, format="json"
    )
    assert response.status_code == 400 and "version" in response.json()["fields"]


def test_fork_page_button(public_agent, web):
    response = web.post(f"/marketplace/agents/{public_agent.pk}/fork/")
    fork = Agent.objects.get(forked_from=public_agent)
    assert response.status_code == 302 and response["Location"] == f"/marketplace/agents/{fork.pk}/"


def test_diff_names_each_changed_field(two_versions):
    old, new = two_versions.versions.order_by("created_at")
    diff = version_diff(old=old, new=new)
    by_field = {f["field"]: f for f in diff["fields"]}
    assert diff["changed"] and (diff["from_version"], diff["to_version"]) == ("1.0.0", "1.1.0")
    assert by_field["system_prompt"]["changed"] and by_field["input_schema"]["changed"]
    assert by_field["model_hints"]["changed"] and not by_field["output_schema"]["changed"]
    kinds = {line.kind for line in by_field["system_prompt"]["lines"]}
    assert {"hunk", "add", "remove"} <= kinds
    same = version_diff(old=new, new=new)
    assert not same["changed"] and all(not f["lines"] for f in same["fields"])


def test_diff_api_defaults_and_errors(two_versions, member_client):
    url = f"/api/v1/marketplace/agents/{two_versions.pk}/diff/"
    body = member_client.get(url).json()
    assert (body["from_version"], body["to_version"]) == ("1.0.0", "1.1.0")
    prompt = next(f for f in body["fields"] if f["field"] == "system_prompt")
    assert "+Use pytest." in prompt["unified"]
    reverse = member_client.get(url, {"from": "1.1.0", "to": "1.0.0"}).json()
    assert reverse["from_version"] == "1.1.0"
    bad = member_client.get(url, {"from": "7.0.0"})
    assert bad.status_code == 400 and "from" in bad.json()["fields"]


def test_diff_page_escapes_prompt_text(two_versions, member_client):
    page = member_client.get(f"/marketplace/agents/{two_versions.pk}/diff/").content.decode()
    assert "&lt;b&gt;Be brief&lt;/b&gt;" in page and "<b>Be brief</b>" not in page
    assert 'class="diff-add"' in page


def test_diff_of_a_private_agent_of_another_team_is_404(make_agent, other_team, member_client):
    private = make_agent(other_team, "Hidden", visibility="private")
    assert member_client.get(f"/api/v1/marketplace/agents/{private.pk}/diff/").status_code == 404
    assert member_client.get(f"/marketplace/agents/{private.pk}/diff/").status_code == 404
