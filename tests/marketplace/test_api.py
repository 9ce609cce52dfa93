"""The /api/v1/marketplace/ endpoints: scoping, writes, bad input, query counts."""

import pytest

from crucible.models import Role
from marketplace import services
from marketplace.models import Agent, AgentVersion, Installation, Rating, Report

pytestmark = pytest.mark.django_db

BASE = "/api/v1/marketplace"
SCHEMA = {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]}


def create_body(**extra):
    return {
        "name": "Code Reviewer",
        "summary": "Reviews diffs",
        "description": "# Reviews\n\nFinds *bugs*.",
        "category": "code-review",
        "tags": ["review", "python"],
        "system_prompt": "You review code.",
        "input_schema": SCHEMA,
        "output_schema": {"type": "object"},
        "model_hints": {"model": "gpt-4o"},
    } | extra


def test_create_agent_with_first_version(team_key_client, team, member):
    response = team_key_client.post(f"{BASE}/agents/", create_body(version="0.3.0"), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["ref"] == "acme/code-reviewer"
    assert body["latest_version"] == "0.3.0"
    assert "<em>bugs</em>" in body["description_html"]
    assert body["histogram"] == {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}
    agent = Agent.objects.get(pk=body["id"])
    assert agent.team == team and agent.created_by == member
    assert agent.versions.get().input_schema == SCHEMA


@pytest.mark.parametrize(
    "extra, field",
    [
        ({"version": "1.0"}, "version"),
        ({"input_schema": {"type": "strnig"}}, "input_schema"),
        ({"output_schema": {"properties": []}}, "output_schema"),
        ({"category": "astrology"}, "category"),
        ({"visibility": "secret"}, "visibility"),
        ({"nmae": "typo"}, "nmae"),
        ({"tags": "not-a-list"}, "tags"),
        ({"name": ""}, "name"),
        ({"model_hints": []}, "model_hints"),
    ],
)
def test_create_agent_bad_input_is_400_naming_the_field(team_key_client, extra, field):
    response = team_key_client.post(f"{BASE}/agents/", create_body(**extra), format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"], response.json()
    assert not Agent.objects.exists()


def test_create_agent_names_every_bad_field_at_once(team_key_client):
    body = {"name": "X", "system_prompt": "p", "version": "1.0", "input_schema": {"type": "nope"}}
    response = team_key_client.post(f"{BASE}/agents/", body, format="json")
    assert response.status_code == 400
    assert {"version", "input_schema"} <= set(response.json()["fields"]), response.json()
    assert not Agent.objects.exists()


def test_malformed_json_is_400(team_key_client):
    response = team_key_client.generic("POST", f"{BASE}/agents/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_viewer_cannot_write(key_client, team):
    response = key_client(team, role=Role.VIEWER).post(f"{BASE}/agents/", create_body(), format="json")
    assert response.status_code == 403


def test_list_shows_public_and_own_private_only(
    make_agent, team, other_team, member_client, django_assert_max_num_queries
):
    make_agent(team, "Own Private", visibility="private")
    make_agent(other_team, "Their Private", visibility="private")
    for i in range(8):
        make_agent(other_team, f"Public {i}")
    with django_assert_max_num_queries(6):
        response = member_client.get(f"{BASE}/agents/?page_size=50")
    assert response.status_code == 200
    names = {row["name"] for row in response.json()["results"]}
    assert "Own Private" in names and "Their Private" not in names
    assert response.json()["count"] == 9


def test_private_agent_of_another_team_is_404(make_agent, other_team, member_client):
    private = make_agent(other_team, "Their Private", visibility="private")
    assert member_client.get(f"{BASE}/agents/{private.pk}/").status_code == 404
    assert member_client.post(f"{BASE}/agents/{private.pk}/install/", {}, format="json").status_code == 404
    assert member_client.post(f"{BASE}/installs/", {"agent": private.pk}, format="json").status_code == 400
    assert not Installation.objects.exists()


def test_search_filters_and_sort_through_the_api(make_agent, team, other_team, member_client):
    make_agent(other_team, "Meeting Summarizer", category="product")
    make_agent(other_team, "Test Writer", category="testing")
    response = member_client.get(f"{BASE}/agents/?q=sumarizer")
    assert [row["name"] for row in response.json()["results"]] == ["Meeting Summarizer"]
    response = member_client.get(f"{BASE}/agents/?category=testing&sort=installs")
    assert [row["name"] for row in response.json()["results"]] == ["Test Writer"]
    other_team.is_verified = True
    other_team.save()
    response = member_client.get(f"{BASE}/agents/?verified=true&tag=&publisher=globex")
    assert {row["name"] for row in response.json()["results"]} == {"Meeting Summarizer", "Test Writer"}
    assert member_client.get(f"{BASE}/agents/?verified=false").json()["count"] == 0
    bad = member_client.get(f"{BASE}/agents/?min_rating=9&sort=loudest")
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"min_rating", "sort"}


def test_only_the_publisher_edits_an_agent(agent, public_agent, member_client):
    response = member_client.patch(f"{BASE}/agents/{agent.pk}/", {"summary": "Sharper"}, format="json")
    assert response.status_code == 200 and response.json()["summary"] == "Sharper"
    response = member_client.patch(f"{BASE}/agents/{public_agent.pk}/", {"summary": "Hijack"}, format="json")
    assert response.status_code == 403
    response = member_client.patch(f"{BASE}/agents/{agent.pk}/", {"slug": "x"}, format="json")
    assert response.status_code == 400 and "slug" in response.json()["fields"]


def test_publish_versions_and_yank(agent, public_agent, member_client):
    response = member_client.post(
        f"{BASE}/versions/", {"agent": agent.pk, "system_prompt": "v2", "changelog": "faster"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["version"] == "1.1.0"
    duplicate = member_client.post(
        f"{BASE}/versions/", {"agent": agent.pk, "system_prompt": "x", "version": "1.1.0"}, format="json"
    )
    assert duplicate.status_code == 400 and "version" in duplicate.json()["fields"]
    bad_schema = member_client.post(
        f"{BASE}/versions/", {"agent": agent.pk, "system_prompt": "x", "input_schema": {"type": 5}}, format="json"
    )
    assert bad_schema.status_code == 400 and "input_schema" in bad_schema.json()["fields"]
    others = member_client.post(f"{BASE}/versions/", {"agent": public_agent.pk, "system_prompt": "x"}, format="json")
    assert others.status_code == 400 and "agent" in others.json()["fields"]
    v2 = response.json()["id"]
    yank = member_client.post(f"{BASE}/versions/{v2}/yank/", {"reason": "Regression in tool calls"}, format="json")
    assert yank.status_code == 200 and yank.json()["is_yanked"]
    assert member_client.get(f"{BASE}/agents/{agent.pk}/").json()["latest_version"] == "1.0.0"
    listing = member_client.get(f"{BASE}/versions/?agent={agent.pk}").json()["results"]
    assert [row["version"] for row in listing] == ["1.1.0", "1.0.0"]
    assert "system_prompt" not in listing[0]
    assert AgentVersion.objects.count() == 3


def test_version_definition_counts_a_download_once_per_day(public_agent, member_client):
    version = public_agent.latest_version
    for _ in range(3):
        response = member_client.get(f"{BASE}/versions/{version.pk}/definition/")
        assert response.status_code == 200
    assert response.json()["system_prompt"] == version.system_prompt
    assert response.json()["download_count"] == 1


def test_install_upgrade_uninstall_flow(public_agent, member_client, team, django_assert_max_num_queries):
    first = member_client.post(f"{BASE}/agents/{public_agent.pk}/install/", format="json")
    assert first.status_code == 201 and first.json()["outcome"] == "installed"
    again = member_client.post(f"{BASE}/agents/{public_agent.pk}/install/", {}, format="json")
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"
    services.version_publish(agent=public_agent, system_prompt="v2")
    installation_id = first.json()["installation"]["id"]
    row = member_client.get(f"{BASE}/installs/{installation_id}/").json()
    assert row["upgrade_available"] is True and row["version"] == "1.0.0"
    upgraded = member_client.patch(f"{BASE}/installs/{installation_id}/", {}, format="json")
    assert upgraded.status_code == 200 and upgraded.json()["version"] == "1.1.0"
    bad = member_client.patch(f"{BASE}/installs/{installation_id}/", {"version": "7.0.0"}, format="json")
    assert bad.status_code == 400 and "version" in bad.json()["fields"]
    assert member_client.delete(f"{BASE}/installs/{installation_id}/").status_code == 204
    with django_assert_max_num_queries(6):
        listing = member_client.get(f"{BASE}/installs/?active=false").json()
    assert listing["count"] == 1 and listing["results"][0]["is_active"] is False
    public_agent.refresh_from_db()
    assert (public_agent.install_count, public_agent.active_install_count) == (1, 0)


def test_rating_through_the_api(public_agent, member_client, team_key_client, key_client, team, member):
    not_installed = member_client.post(f"{BASE}/agents/{public_agent.pk}/rate/", {"stars": 5}, format="json")
    assert not_installed.status_code == 400
    member_client.post(f"{BASE}/agents/{public_agent.pk}/install/", format="json")
    out_of_range = member_client.post(f"{BASE}/agents/{public_agent.pk}/rate/", {"stars": 6}, format="json")
    assert out_of_range.status_code == 400 and "stars" in out_of_range.json()["fields"]
    created = member_client.post(
        f"{BASE}/agents/{public_agent.pk}/rate/", {"stars": 4, "review": "Solid"}, format="json"
    )
    assert created.status_code == 201
    # An API key acts for its creator: re-rating replaces the same user's rating.
    replaced = team_key_client.post(f"{BASE}/ratings/", {"agent": public_agent.pk, "stars": 2}, format="json")
    assert replaced.status_code == 200 and replaced.json()["user"] == "member"
    # A key without a creator has no person behind it.
    anonymous = key_client(team).post(f"{BASE}/agents/{public_agent.pk}/rate/", {"stars": 3}, format="json")
    assert anonymous.status_code == 403
    assert Rating.objects.get().stars == 2
    detail = member_client.get(f"{BASE}/agents/{public_agent.pk}/").json()
    assert detail["rating_count"] == 1 and detail["histogram"]["2"] == 1
    stats = member_client.get(f"{BASE}/agents/{public_agent.pk}/stats/").json()
    assert stats["installs"] == 1 and stats["daily"][0]["installs"] == 1


def test_publisher_cannot_rate_own_agent(agent, member_client):
    response = member_client.post(f"{BASE}/agents/{agent.pk}/rate/", {"stars": 5}, format="json")
    assert response.status_code == 403


def test_ratings_list_and_delete_own_only(
    public_agent, member_client, outsider_client, make_user, team, client_for, django_assert_max_num_queries
):
    member_client.post(f"{BASE}/agents/{public_agent.pk}/install/", format="json")
    rating_id = member_client.post(
        f"{BASE}/agents/{public_agent.pk}/rate/", {"stars": 5, "review": "Great"}, format="json"
    ).json()["id"]
    colleague = client_for(make_user("colleague", team=team))
    colleague.post(f"{BASE}/agents/{public_agent.pk}/rate/", {"stars": 3}, format="json")
    with django_assert_max_num_queries(6):
        listing = outsider_client.get(f"{BASE}/ratings/?agent={public_agent.pk}&has_review=true").json()
    assert [row["stars"] for row in listing["results"]] == [5]
    assert colleague.delete(f"{BASE}/ratings/{rating_id}/").status_code == 403
    assert member_client.delete(f"{BASE}/ratings/{rating_id}/").status_code == 204
    public_agent.refresh_from_db()
    assert (public_agent.rating_count, public_agent.rating_sum) == (1, 3)


def test_reports(public_agent, member_client):
    response = member_client.post(
        f"{BASE}/agents/{public_agent.pk}/report/", {"reason": "malicious", "text": "Exfiltrates keys"}, format="json"
    )
    assert response.status_code == 201 and response.json()["status"] == "open"
    bad = member_client.post(f"{BASE}/agents/{public_agent.pk}/report/", {"reason": "meh"}, format="json")
    assert bad.status_code == 400 and "reason" in bad.json()["fields"]
    member_client.post(f"{BASE}/agents/{public_agent.pk}/install/", format="json")
    rating_id = member_client.post(
        f"{BASE}/agents/{public_agent.pk}/rate/", {"stars": 1, "review": "buy my stuff"}, format="json"
    ).json()["id"]
    response = member_client.post(f"{BASE}/ratings/{rating_id}/report/", {"reason": "spam"}, format="json")
    assert response.status_code == 201
    assert Report.objects.filter(rating_id=rating_id).count() == 1


def test_unknown_ids_are_404(member_client):
    assert member_client.get(f"{BASE}/agents/999999/").status_code == 404
    assert member_client.post(f"{BASE}/agents/999999/install/", format="json").status_code == 404
    assert member_client.post(f"{BASE}/agents/x%C2%B2/rate/", {"stars": 3}, format="json").status_code == 404
    assert member_client.get(f"{BASE}/versions/999999/definition/").status_code == 404
    response = member_client.post(f"{BASE}/ratings/", {"agent": 999999, "stars": 3}, format="json")
    assert response.status_code == 400 and "agent" in response.json()["fields"]


def test_unlisted_agent_detail_stays_reachable_for_installers_only(
    public_agent, member_client, make_user, make_team, client_for
):
    member_client.post(f"{BASE}/agents/{public_agent.pk}/install/", format="json")
    services.agent_set_listed(agent=public_agent, listed=False, reason="under review")
    assert member_client.get(f"{BASE}/agents/").json()["count"] == 0
    detail = member_client.get(f"{BASE}/agents/{public_agent.pk}/")
    assert detail.status_code == 200 and detail.json()["is_listed"] is False
    version = public_agent.latest_version
    assert member_client.get(f"{BASE}/versions/{version.pk}/definition/").status_code == 200
    stranger = client_for(make_user(team=make_team()))
    assert stranger.get(f"{BASE}/agents/{public_agent.pk}/").status_code == 404
    assert stranger.get(f"{BASE}/versions/{version.pk}/").status_code == 404


def test_agent_filter_does_not_reveal_private_agents_of_other_teams(db, make_team, key_client):
    """An unknown id and another team's private agent look the same: an empty list."""
    from marketplace import services
    from marketplace.models import Agent

    owner, caller = make_team(), make_team()
    private = services.agent_create(
        team=owner,
        name="Secret Helper",
        system_prompt="p",
        visibility="private",
        category="other",
    )
    client = key_client(caller)
    unknown = Agent.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    for path in ["/api/v1/marketplace/versions/", "/api/v1/marketplace/installs/", "/api/v1/marketplace/ratings/"]:
        for agent_id in (private.pk, unknown):
            response = client.get(path, {"agent": agent_id})
            assert response.status_code == 200, (path, response.content[:200])
            assert response.json()["results"] == []


def test_unyank_restores_the_default_version(agent, member_client, key_client, team):
    v2 = services.version_publish(agent=agent, system_prompt="v2")
    assert member_client.post(f"{BASE}/versions/{v2.pk}/yank/", {"reason": "broken"}, format="json").status_code == 200
    assert member_client.get(f"{BASE}/agents/{agent.pk}/").json()["latest_version"] == "1.0.0"
    # A read-only key may not undo it.
    assert key_client(team, "viewer").post(f"{BASE}/versions/{v2.pk}/unyank/").status_code == 403
    response = member_client.post(f"{BASE}/versions/{v2.pk}/unyank/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["is_yanked"], body["yanked_reason"], body["yanked_at"]) == (False, "", None)
    assert member_client.get(f"{BASE}/agents/{agent.pk}/").json()["latest_version"] == "1.1.0"
    # Idempotent.
    assert member_client.post(f"{BASE}/versions/{v2.pk}/unyank/").json()["is_yanked"] is False


def test_unyank_of_another_teams_version_is_refused(public_agent, member_client, team):
    version = public_agent.latest_version
    services.agent_install(agent=public_agent, team=team)  # visible, but not ours to change
    services.version_yank(version=version, reason="theirs")
    assert member_client.post(f"{BASE}/versions/{version.pk}/unyank/").status_code == 403
    assert AgentVersion.objects.get(pk=version.pk).is_yanked


def test_rating_names_stars_and_review_together(public_agent, member_client):
    member_client.post(f"{BASE}/agents/{public_agent.pk}/install/", format="json")
    body = {"stars": 6, "review": "r" * 20_001}
    response = member_client.post(f"{BASE}/agents/{public_agent.pk}/rate/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"stars", "review"}
