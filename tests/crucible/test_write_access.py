"""Write access, one table: every write that changes an object of team A, through the API and the
pages, for every role. The rule (``crucible.access``): a write to an object needs the action's
role (member for WRITE, admin for MANAGE) in the object's team; another team's object is 404
(it is not in the caller's read scope); a team where the caller's role is too low is 403, and
the message names the role needed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client
from rest_framework.test import APIClient

from crucible import access, services
from crucible.models import ApiKey, Role
from improvement import services as improvement_services
from improvement.models import Experiment, Status, Variant
from marketplace import services as marketplace_services
from marketplace.models import Agent, AgentVersion, Installation

pytestmark = pytest.mark.django_db


@dataclass
class World:
    team_a: object
    team_b: object
    agent: Agent
    version: AgentVersion
    installation: Installation
    experiment: Experiment
    variant: Variant
    key: ApiKey


@pytest.fixture
def world(make_team, make_user):
    team_a, team_b = make_team("Acme", slug="acme"), make_team("Globex", slug="globex")
    owner = make_user("owner-a", team=team_a, role=Role.OWNER)
    agent = marketplace_services.agent_create(
        team=team_a, name="Reviewer", system_prompt="Review.", visibility="private", created_by=owner
    )
    version = marketplace_services.version_publish(agent=agent, system_prompt="Review, v2.", published_by=owner)
    installation, _ = marketplace_services.agent_install(agent=agent, team=team_a, user=owner)
    experiment = improvement_services.experiment_create(
        team=team_a,
        name="checkout",
        status=Status.RUNNING,
        variants=[{"name": "control", "prompt": "A", "is_control": True}, {"name": "b", "prompt": "B"}],
    )
    key, _ = services.api_key_create(team=team_a, name="ci", created_by=owner)
    return World(
        team_a=team_a,
        team_b=team_b,
        agent=agent,
        version=version,
        installation=installation,
        experiment=experiment,
        variant=experiment.variants.order_by("id").last(),
        key=key,
    )


# Callers: (role in team A, role in team B, API key of team A with this role, team acted for).
CALLERS = {
    "owner": (Role.OWNER, None, None, "acme"),
    "admin": (Role.ADMIN, None, None, "acme"),
    "member": (Role.MEMBER, None, None, "acme"),
    "viewer": (Role.VIEWER, None, None, "acme"),
    "member_key": (None, None, Role.MEMBER, None),
    "viewer_key": (None, None, Role.VIEWER, None),
    "other_team": (None, Role.OWNER, None, "globex"),
    # Two teams: the object's team decides, not the team the caller acts for.
    "viewer_acting_for_b_where_member": (Role.VIEWER, Role.MEMBER, None, "globex"),
    "member_acting_for_b_where_viewer": (Role.MEMBER, Role.VIEWER, None, "globex"),
}


def caller(world, make_user, who, page=False) -> tuple[APIClient | Client, dict]:
    role_a, role_b, key_role, acting = CALLERS[who]
    client = Client() if page else APIClient()
    if key_role is not None:
        _, raw = services.api_key_create(team=world.team_a, name=f"{who} key", role=key_role)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client, {}
    user = make_user(who)
    if role_a:
        services.membership_set(team=world.team_a, user=user, role=role_a)
    if role_b:
        services.membership_set(team=world.team_b, user=user, role=role_b)
    client.force_login(user)
    session = client.session
    session[access.SESSION_KEY] = world.team_a.pk if acting == "acme" else world.team_b.pk
    session.save()
    return client, {"HTTP_X_CRUCIBLE_TEAM": acting}


@dataclass
class Write:
    name: str
    method: str
    url: Callable[[World], str]
    body: Callable[[World], dict] | None
    ok: int
    action: str = access.WRITE
    page: bool = False
    field: bool = False  # the object is picked by an input field; the write acts for the active team
    changed: Callable[[World], bool] | None = None


WRITES = [
    # API: objects named in the URL
    Write(
        "api agent update",
        "patch",
        lambda w: f"/api/v1/marketplace/agents/{w.agent.pk}/",
        lambda w: {"summary": "changed"},
        200,
        changed=lambda w: Agent.objects.get(pk=w.agent.pk).summary == "changed",
    ),
    Write(
        "api version yank",
        "post",
        lambda w: f"/api/v1/marketplace/versions/{w.version.pk}/yank/",
        lambda w: {"reason": "broken"},
        200,
        changed=lambda w: AgentVersion.objects.get(pk=w.version.pk).is_yanked,
    ),
    Write(
        "api installation upgrade",
        "patch",
        lambda w: f"/api/v1/marketplace/installs/{w.installation.pk}/",
        lambda w: {},
        200,
    ),
    Write(
        "api installation uninstall",
        "delete",
        lambda w: f"/api/v1/marketplace/installs/{w.installation.pk}/",
        None,
        204,
        changed=lambda w: Installation.objects.get(pk=w.installation.pk).uninstalled_at is not None,
    ),
    Write(
        "api experiment update",
        "patch",
        lambda w: f"/api/v1/improvement/experiments/{w.experiment.pk}/",
        lambda w: {"description": "changed"},
        200,
        changed=lambda w: Experiment.objects.get(pk=w.experiment.pk).description == "changed",
    ),
    Write(
        "api experiment pause",
        "post",
        lambda w: f"/api/v1/improvement/experiments/{w.experiment.pk}/pause/",
        None,
        200,
        changed=lambda w: Experiment.objects.get(pk=w.experiment.pk).status == Status.PAUSED,
    ),
    Write(
        "api variant update",
        "patch",
        lambda w: f"/api/v1/improvement/variants/{w.variant.pk}/",
        lambda w: {"name": "renamed"},
        200,
        changed=lambda w: Variant.objects.get(pk=w.variant.pk).name == "renamed",
    ),
    Write(
        "api variant retire",
        "post",
        lambda w: f"/api/v1/improvement/variants/{w.variant.pk}/retire/",
        None,
        200,
        changed=lambda w: Variant.objects.get(pk=w.variant.pk).retired_at is not None,
    ),
    Write(
        "api key revoke",
        "post",
        lambda w: f"/api/v1/api-keys/{w.key.pk}/revoke/",
        None,
        200,
        action=access.MANAGE,
        changed=lambda w: ApiKey.objects.get(pk=w.key.pk).revoked_at is not None,
    ),
    # API: objects picked by an input field (TeamObjectField)
    Write(
        "api version publish (agent field)",
        "post",
        lambda w: "/api/v1/marketplace/versions/",
        lambda w: {"agent": w.agent.pk, "system_prompt": "Review, v3."},
        201,
        field=True,
        changed=lambda w: AgentVersion.objects.filter(agent=w.agent).count() == 3,
    ),
    Write(
        "api variant create (experiment field)",
        "post",
        lambda w: "/api/v1/improvement/variants/",
        lambda w: {"experiment": w.experiment.pk, "name": "c", "prompt": "C"},
        201,
        field=True,
        changed=lambda w: Variant.objects.filter(experiment=w.experiment, name="c").exists(),
    ),
    # Pages
    Write(
        "page agent edit",
        "post",
        lambda w: f"/marketplace/agents/{w.agent.pk}/edit/",
        lambda w: {"name": "Reviewer", "summary": "changed", "category": "other", "visibility": "private"},
        302,
        page=True,
        changed=lambda w: Agent.objects.get(pk=w.agent.pk).summary == "changed",
    ),
    Write(
        "page version yank",
        "post",
        lambda w: f"/marketplace/agents/{w.agent.pk}/versions/{w.version.pk}/yank/",
        lambda w: {"reason": "broken"},
        302,
        page=True,
        changed=lambda w: AgentVersion.objects.get(pk=w.version.pk).is_yanked,
    ),
    Write(
        "page experiment pause",
        "post",
        lambda w: f"/improvement/experiments/{w.experiment.pk}/pause/",
        lambda w: {},
        302,
        page=True,
        changed=lambda w: Experiment.objects.get(pk=w.experiment.pk).status == Status.PAUSED,
    ),
    Write(
        "page variant retire",
        "post",
        lambda w: f"/improvement/variants/{w.variant.pk}/retire/",
        lambda w: {},
        302,
        page=True,
        changed=lambda w: Variant.objects.get(pk=w.variant.pk).retired_at is not None,
    ),
    Write(
        "page key revoke",
        "post",
        lambda w: f"/settings/api-keys/{w.key.pk}/revoke/",
        lambda w: {},
        302,
        action=access.MANAGE,
        page=True,
        changed=lambda w: ApiKey.objects.get(pk=w.key.pk).revoked_at is not None,
    ),
]

ROLE_RANK = {None: -1, Role.VIEWER: 0, Role.MEMBER: 1, Role.ADMIN: 2, Role.OWNER: 3}
NEEDED = {access.WRITE: Role.MEMBER, access.MANAGE: Role.ADMIN}

# Objects listed for the active team only (experiment pages, API keys on the API): acting for
# team B, team A's object is not there (404), whatever the role in team A.
OF_THE_ACTIVE_TEAM_ONLY = {"page experiment pause", "page variant retire", "api key revoke"}


def expected(write: Write, who: str) -> int:
    role_a, role_b, key_role, acting = CALLERS[who]
    role = key_role or role_a
    needed = ROLE_RANK[NEEDED[write.action]]
    if write.field:
        # A create acts for the active team (member there), and the object the field picks must
        # be readable (else a field error) and writable in its own team.
        acting_role = key_role or (role_a if acting == "acme" else role_b)
        if ROLE_RANK[acting_role] < needed:
            return 403
        if role is None:
            return 400
    if role is None:
        return 404  # not readable: another team's object looks like no object
    if acting == "globex" and write.name in OF_THE_ACTIVE_TEAM_ONLY:
        return 404
    if ROLE_RANK[role] < ROLE_RANK[NEEDED[write.action]]:
        return 403
    return write.ok


CASES = [
    pytest.param(write, who, id=f"{write.name}-{who}")
    for write in WRITES
    for who in CALLERS
    if not (write.page and CALLERS[who][2])  # pages are for people, not keys
]


@pytest.mark.parametrize("write, who", CASES)
def test_write_access_table(world, make_user, write, who):
    client, headers = caller(world, make_user, who, write.page)
    kwargs = {"format": "json"} if not write.page else {}
    body = write.body(world) if write.body else None
    response = getattr(client, write.method)(write.url(world), body, **kwargs, **headers)
    want = expected(write, who)
    assert response.status_code == want, (response.status_code, response.content[:300])
    if write.changed is not None:
        assert write.changed(world) is (want == write.ok)
    if want == 403 and not write.page:
        # The message names the role the write needs (issue 15: not always "member").
        needed = NEEDED[write.action]
        assert f"'{needed}' role" in response.json()["message"], response.json()


def test_every_write_of_the_table_is_refused_to_anonymous_callers(world):
    for write in WRITES:
        client = Client() if write.page else APIClient()
        response = getattr(client, write.method)(write.url(world), write.body(world) if write.body else None)
        assert response.status_code in (401, 302), write.name


def test_a_member_refused_key_creation_is_told_it_needs_the_admin_role(client_for, member):
    """Issue 15: the refusal named the 'member' role, which the member has."""
    response = client_for(member).post("/api/v1/api-keys/", {"name": "ci"}, format="json")
    assert response.status_code == 403
    message = response.json()["message"]
    assert "'admin' role" in message and "'member'" in message.split(";")[1]
    assert not ApiKey.objects.exists()
