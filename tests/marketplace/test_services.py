"""Installs, downloads, ratings, yanking, visibility and moderation through the services."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from crucible.models import Role
from marketplace import selectors, services
from marketplace.models import Agent, AgentDailyStat, AgentVersion, Installation, InstallEvent, Rating, Report

pytestmark = pytest.mark.django_db


def fresh(agent):
    return Agent.objects.get(pk=agent.pk)


def test_agent_create_renders_markdown_safely_and_cleans_tags(make_agent, team):
    agent = make_agent(
        team,
        "Doc Writer",
        tags=["Python", " python ", "Docs"],
        # (CommonMark: a line that starts with <script> is a raw HTML block, left out whole.)
        description="# Hello\n\nSee <script>alert(1)</script> [x](javascript:alert(1)) **bold** <img src=x onerror=alert(1)>",
    )
    assert agent.tags == ["python", "docs"]
    assert agent.tags_text == "python docs"
    html = agent.description_html
    assert "<h1>Hello</h1>" in html and "<strong>bold</strong>" in html
    assert "<script" not in html and "javascript:" not in html and "onerror" not in html
    assert agent.latest_version.version == "1.0.0"


def test_agent_create_validates_before_writing(team):
    with pytest.raises(ValidationError) as exc:
        services.agent_create(team=team, name="Bad", system_prompt="x", input_schema={"type": 12})
    assert "input_schema" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.agent_create(team=team, name="Bad", system_prompt="x", version="one")
    assert "version" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.agent_create(team=team, name="Bad", system_prompt="", version="1.0.0")
    assert "system_prompt" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.agent_create(team=team, name="Bad", system_prompt="x", category="astrology")
    assert "category" in exc.value.message_dict
    assert not Agent.objects.exists() and not AgentVersion.objects.exists()


def test_duplicate_slug_in_team_is_refused(make_agent, team, other_team):
    make_agent(team, "Planner")
    make_agent(other_team, "Planner")  # another team may use the same slug
    with pytest.raises(ValidationError) as exc:
        make_agent(team, "Planner")
    assert "slug" in exc.value.message_dict


def test_schema_with_named_draft_is_checked_against_that_draft(make_agent, team):
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "definitions": {"a": {"type": "string"}},
    }
    agent = make_agent(team, input_schema=schema)
    assert agent.latest_version.input_schema == schema
    with pytest.raises(ValidationError):
        make_agent(team, input_schema={"$schema": "https://example.com/not-a-draft", "type": "object"})
    with pytest.raises(ValidationError):
        make_agent(team, output_schema={"type": "object", "required": "name"})


def test_install_defaults_to_latest_not_yanked_and_is_idempotent(agent, other_team):
    v2 = services.version_publish(agent=agent, system_prompt="v2", version="1.1.0")
    services.version_publish(agent=agent, system_prompt="beta", version="2.0.0-beta.1")
    services.version_yank(version=v2, reason="Leaks secrets into logs")
    installation, outcome = services.agent_install(agent=agent, team=other_team)
    assert outcome == "installed"
    assert installation.version.version == "1.0.0"  # 1.1.0 yanked; a pre-release is never the default
    assert not installation.pinned
    again, outcome = services.agent_install(agent=agent, team=other_team)
    assert outcome == "unchanged" and again.pk == installation.pk
    agent = fresh(agent)
    assert (agent.install_count, agent.active_install_count) == (1, 1)
    assert InstallEvent.objects.filter(agent=agent).count() == 1
    assert AgentDailyStat.objects.get(agent=agent).installs == 1


def test_yanked_version_can_still_be_pinned(agent, other_team):
    v2 = services.version_publish(agent=agent, system_prompt="v2", version="1.1.0")
    services.version_yank(version=v2, reason="broken tool call")
    installation, outcome = services.agent_install(agent=agent, team=other_team, version="1.1.0")
    assert outcome == "installed" and installation.version == v2 and installation.pinned


def test_uninstall_and_reinstall_does_not_count_twice(agent, other_team):
    installation, _ = services.agent_install(agent=agent, team=other_team)
    services.installation_uninstall(installation=installation)
    services.installation_uninstall(installation=installation)  # idempotent
    assert (fresh(agent).install_count, fresh(agent).active_install_count) == (1, 0)
    _, outcome = services.agent_install(agent=agent, team=other_team)
    assert outcome == "reinstalled"
    assert (fresh(agent).install_count, fresh(agent).active_install_count) == (1, 1)


def test_upgrade_moves_to_latest_and_pin_changes_version(agent, other_team):
    installation, _ = services.agent_install(agent=agent, team=other_team)
    v2 = services.version_publish(agent=agent, system_prompt="v2")
    assert v2.version == "1.1.0"
    installation = services.installation_upgrade(installation=installation)
    assert installation.version == v2
    _, outcome = services.agent_install(agent=agent, team=other_team, version="1.0.0")
    assert outcome == "changed"
    assert Installation.objects.get(pk=installation.pk).version.version == "1.0.0"
    with pytest.raises(ValidationError) as exc:
        services.agent_install(agent=agent, team=other_team, version="9.9.9")
    assert "version" in exc.value.message_dict


def test_private_agent_of_another_team_cannot_be_installed(make_agent, team, other_team):
    private = make_agent(other_team, "Internal", visibility="private")
    with pytest.raises(PermissionDenied):
        services.agent_install(agent=private, team=team)
    assert not Installation.objects.exists()


def test_unlisted_agent_cannot_be_newly_installed(agent, other_team):
    services.agent_set_listed(agent=agent, listed=False, reason="spam")
    with pytest.raises(ValidationError):
        services.agent_install(agent=agent, team=other_team)
    assert selectors.agent_for_team(team=other_team, ref=agent.pk) is None
    assert selectors.agent_for_team(team=agent.team, ref=agent.pk) == fresh(agent)


def test_downloads_count_once_per_team_version_and_day(agent, team, other_team):
    version = agent.latest_version
    assert services.version_download(version=version, team=other_team) is True
    assert services.version_download(version=version, team=other_team) is False
    assert services.version_download(version=version, team=team) is True
    v2 = services.version_publish(agent=agent, system_prompt="v2")
    assert services.version_download(version=v2, team=other_team) is True
    assert fresh(agent).download_count == 3
    assert AgentVersion.objects.get(pk=version.pk).download_count == 2
    assert AgentDailyStat.objects.get(agent=agent).downloads == 3


@pytest.fixture
def installed(agent, other_team, outsider):
    services.agent_install(agent=agent, team=other_team)
    return agent


def test_rating_needs_install_a_person_and_not_the_publisher(agent, team, member, other_team, outsider, make_user):
    with pytest.raises(ValidationError):
        services.rating_set(agent=agent, user=outsider, team=other_team, stars=4)  # not installed
    services.agent_install(agent=agent, team=other_team)
    with pytest.raises(PermissionDenied):
        services.rating_set(agent=agent, user=None, team=other_team, stars=4)
    with pytest.raises(PermissionDenied):
        services.rating_set(agent=agent, user=member, team=team, stars=5)  # publisher
    both = make_user("both", team=other_team)
    from crucible import services as core

    core.membership_set(team=team, user=both, role=Role.MEMBER)
    with pytest.raises(PermissionDenied):
        services.rating_set(agent=agent, user=both, team=other_team, stars=5)  # member of the publisher
    with pytest.raises(PermissionDenied):
        services.rating_set(agent=agent, user=member, team=other_team, stars=5)  # not a member of other_team
    for bad in (0, 6, "5", 4.5, True):
        with pytest.raises(ValidationError):
            services.rating_set(agent=agent, user=outsider, team=other_team, stars=bad)
    assert not Rating.objects.exists()


def test_rerating_replaces_and_histogram_stays_exact(installed, other_team, outsider, make_user):
    agent = installed
    second = make_user("second", team=other_team)
    rating, created = services.rating_set(agent=agent, user=outsider, team=other_team, stars=5, review="Great")
    assert created
    services.rating_set(agent=agent, user=second, team=other_team, stars=3)
    rating, created = services.rating_set(agent=agent, user=outsider, team=other_team, stars=2, review="Worse now")
    assert not created and rating.review == "Worse now"
    agent = fresh(agent)
    assert (agent.rating_count, agent.rating_sum) == (2, 5)
    assert agent.histogram == {1: 0, 2: 1, 3: 1, 4: 0, 5: 0}
    assert agent.rating_average == 2.5
    services.rating_set_hidden(rating=rating, hidden=True)
    agent = fresh(agent)
    assert (agent.rating_count, agent.rating_sum, agent.rating_2) == (1, 3, 0)
    # Re-rating while hidden changes nothing in the counts.
    services.rating_set(agent=agent, user=outsider, team=other_team, stars=1)
    assert fresh(agent).rating_count == 1
    services.rating_set_hidden(rating=rating, hidden=False)
    agent = fresh(agent)
    assert (agent.rating_count, agent.rating_sum, agent.rating_1) == (2, 4, 1)
    services.rating_delete(rating=Rating.objects.get(user=second))
    agent = fresh(agent)
    assert (agent.rating_count, agent.rating_sum, agent.rating_3) == (1, 1, 0)


def test_reports_and_moderation_actions(installed, other_team, outsider, team):
    agent = installed
    rating, _ = services.rating_set(agent=agent, user=outsider, team=other_team, stars=1, review="spam spam")
    review_report = services.report_create(
        agent=agent, rating=rating, reporter=outsider, team=other_team, reason="spam", text="ad"
    )
    agent_report = services.report_create(
        agent=agent, reporter=outsider, team=other_team, reason="malicious", text="exfiltrates"
    )
    with pytest.raises(ValidationError):
        services.report_create(agent=agent, reporter=outsider, reason="boring")
    services.report_action(report=review_report)
    assert Rating.objects.get(pk=rating.pk).is_hidden
    assert fresh(agent).rating_count == 0
    services.report_action(report=agent_report, note="confirmed")
    agent = fresh(agent)
    assert not agent.is_listed and agent.unlisted_reason == "confirmed"
    assert set(Report.objects.values_list("status", flat=True)) == {"actioned"}


def test_publish_agent_update_keeps_versions_immutable(agent):
    services.agent_update(agent=agent, summary="New summary", tags=["a", "b"])
    agent = fresh(agent)
    assert agent.summary == "New summary" and agent.tags_text == "a b"
    with pytest.raises(ValidationError):
        services.agent_update(agent=agent, slug="other")
    assert agent.versions.get().system_prompt.startswith("You are helpful")


def test_deleting_a_publisher_team_removes_its_agents_and_their_installs(agent, other_team):
    services.agent_install(agent=agent, team=other_team)
    agent.team.delete()
    assert not Agent.objects.exists() and not Installation.objects.exists()


def test_a_version_in_use_cannot_be_deleted_alone(agent, other_team):
    from django.db.models import RestrictedError

    services.agent_install(agent=agent, team=other_team)
    with pytest.raises(RestrictedError):
        agent.latest_version.delete()


def test_unlisted_agent_stays_reachable_to_teams_that_installed_it(agent, other_team, make_team):
    services.agent_install(agent=agent, team=other_team)
    services.agent_set_listed(agent=agent, listed=False, reason="reported")
    stranger = make_team()
    assert selectors.agent_for_team(team=other_team, ref=agent.pk) == fresh(agent)
    assert selectors.agent_for_team(team=stranger, ref=agent.pk) is None
    assert list(selectors.agent_search(team_ids=[other_team.pk]).queryset) == []  # but no longer in search


def test_publish_names_every_bad_field_at_once(agent):
    with pytest.raises(ValidationError) as caught:
        services.version_publish(
            agent=agent, system_prompt=" ", version="1.0.0", output_schema={"type": 3}, model_hints=[]
        )
    assert set(caught.value.message_dict) == {"system_prompt", "version", "output_schema", "model_hints"}
    assert agent.versions.count() == 1


def test_update_names_every_bad_field_at_once(agent):
    with pytest.raises(ValidationError) as caught:
        services.agent_update(agent=agent, name="", category="astrology", visibility="secret")
    assert set(caught.value.message_dict) == {"name", "category", "visibility"}
    agent.refresh_from_db()
    assert agent.name == "Code Reviewer"
