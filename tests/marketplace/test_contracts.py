"""The functions other apps call (docs/architecture.md, cross-app contracts)."""

import pytest
from django.core.exceptions import ValidationError

from marketplace import selectors, services
from marketplace.models import AgentVersion

pytestmark = pytest.mark.django_db

SCHEMA = {"type": "object", "properties": {"diff": {"type": "string"}}, "required": ["diff"]}


def test_version_publish_without_version_takes_next_minor_and_copies_schemas(make_agent, team, member):
    agent = make_agent(team, "Planner", version="1.4.2", input_schema=SCHEMA, model_hints={"model": "m1"})
    row = services.version_publish(
        agent=agent, system_prompt="Better prompt", changelog="promoted", published_by=member
    )
    assert row.version == "1.5.0"
    assert row.input_schema == SCHEMA
    assert row.model_hints == {"model": "m1"}
    assert row.published_by == member
    agent.refresh_from_db()
    assert agent.latest_version == row


def test_version_publish_explicit_version_and_new_schema(make_agent, team):
    agent = make_agent(team, "Planner", input_schema=SCHEMA)
    new_schema = {"type": "object"}
    row = services.version_publish(agent=agent, system_prompt="x", version="2.0.0", input_schema=new_schema)
    assert (row.major, row.minor, row.patch) == (2, 0, 0)
    assert row.input_schema == new_schema
    assert AgentVersion.objects.get(agent=agent, version="1.0.0").input_schema == SCHEMA


def test_version_publish_refuses_reused_and_invalid_versions(make_agent, team):
    agent = make_agent(team, "Planner")
    with pytest.raises(ValidationError) as exc:
        services.version_publish(agent=agent, system_prompt="x", version="1.0.0")
    assert "version" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.version_publish(agent=agent, system_prompt="x", version="1.0")
    assert "version" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.version_publish(agent=agent, system_prompt="x", version="1.1.0", output_schema={"type": "nope"})
    assert "output_schema" in exc.value.message_dict
    assert AgentVersion.objects.filter(agent=agent).count() == 1


def test_agent_for_team_by_id_slug_and_team_slash_slug(make_agent, team, other_team):
    own = make_agent(team, "Shared Name")
    public = make_agent(other_team, "Shared Name")
    private = make_agent(other_team, "Secret", visibility="private")
    assert selectors.agent_for_team(team=team, ref=own.pk) == own
    assert selectors.agent_for_team(team=team, ref=str(public.pk)) == public
    # Own agent wins over a public one with the same slug.
    assert selectors.agent_for_team(team=team, ref="shared-name") == own
    assert selectors.agent_for_team(team=team, ref="globex/shared-name") == public
    # Private agents of other teams are never found.
    assert selectors.agent_for_team(team=team, ref=private.pk) is None
    assert selectors.agent_for_team(team=team, ref="globex/secret") is None
    assert selectors.agent_for_team(team=other_team, ref="secret") == private
    assert selectors.agent_for_team(team=team, ref="nope") is None
    assert selectors.agent_for_team(team=team, ref="") is None


def test_version_for_agent(make_agent, team):
    agent = make_agent(team, "Planner")
    v2 = services.version_publish(agent=agent, system_prompt="x", version="2.0.0")
    assert selectors.version_for_agent(agent=agent, version="1.0.0").version == "1.0.0"
    assert selectors.version_for_agent(agent=agent, version="v2.0.0") == v2
    assert selectors.version_for_agent(agent=agent, version=None) == v2
    assert selectors.version_for_agent(agent=agent, version="3.0.0") is None
    assert selectors.version_for_agent(agent=agent, version="garbage") is None
    services.version_yank(version=v2, reason="broken")
    assert selectors.version_for_agent(agent=agent, version=None).version == "1.0.0"
    assert selectors.version_for_agent(agent=agent, version="2.0.0") == v2


def test_agents_for_team_bulk_answers_like_agent_for_team(make_agent, team, other_team):
    own = make_agent(team, "Shared Name")
    public = make_agent(other_team, "Shared Name")
    private = make_agent(other_team, "Secret", visibility="private")
    refs = [
        own.pk,
        str(public.pk),
        "shared-name",
        " globex/shared-name ",
        private.pk,
        "globex/secret",
        "nope",
        "",
        True,
    ]
    found = selectors.agents_for_team_bulk(team=team, refs=refs)
    assert found == {ref: a for ref in refs if (a := selectors.agent_for_team(team=team, ref=ref)) is not None}
    assert found == {own.pk: own, str(public.pk): public, "shared-name": own, " globex/shared-name ": public}
    assert selectors.agents_for_team_bulk(team=other_team, refs=["secret"]) == {"secret": private}
    assert selectors.agents_for_team_bulk(team=team, refs=[]) == {}


@pytest.mark.parametrize("size", [1, 50])
def test_agents_for_team_bulk_costs_one_query_for_any_batch(
    make_agent, team, other_team, size, django_assert_num_queries
):
    agents = [make_agent(team if i % 2 else other_team, f"Agent {i}") for i in range(size)]
    refs = [a.pk if i % 3 == 0 else (a.slug if i % 3 == 1 else f"{a.team.slug}/{a.slug}") for i, a in enumerate(agents)]
    with django_assert_num_queries(1):
        found = selectors.agents_for_team_bulk(team=team, refs=refs)
    assert {a.pk for a in found.values()} == {a.pk for a in agents}
    pairs = [(a, "1.0.0") for a in found.values()] + [(a, None) for a in found.values()]
    with django_assert_num_queries(1):
        versions = selectors.versions_for_agents_bulk(pairs=pairs)
    assert len(versions) == 2 * size and all(v.version == "1.0.0" for v in versions.values())
