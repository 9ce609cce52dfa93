"""Isolation and permission matrix, generated from the OpenAPI schema and the URL configuration.

For every API operation (schema paths x methods) and every page (named, non-admin URL
patterns), with objects of team A made by the registry in ``registry.py``:

- an anonymous caller gets 401 (API) or a redirect to the login page (pages);
- a revoked key of team A gets 401;
- a user or key of team B gets exactly what it gets for an object that does not exist (404 on
  reads; never a 2xx on A's objects), lists show none of A's rows, and A's data is unchanged;
- a viewer of team A and a read-only key cannot write (403) and change nothing;
- as a positive control, team A's own owner/key reads each object (so the 404s above are about
  access, not about ids that point nowhere).

New endpoints are covered automatically; anything deliberately different is in an allow-list
below, with the reason.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.hardening import discovery
from tests.hardening.registry import MARKER, snapshot, values_for_operation, values_for_route

pytestmark = pytest.mark.django_db

# --- allow-lists (each entry says why) ---------------------------------------------------------

# Operations an anonymous caller may use. None so far: every API operation needs a key or session.
API_PUBLIC: set[tuple[str, str]] = set()

# POSTs a viewer (read-only role) may make because they are queries with a body and write
# nothing (checked: team A's data stays unchanged).
VIEWER_MAY_POST = {
    ("post", "/api/team/suggest-stack/{team_id}"),  # stack suggestion from past builds
    ("post", "/api/v1/teammemory/suggestions/"),
}

# Operations on objects another team legitimately sees: reviews of a public agent are public
# (team A's rating is of a public agent of a third team; ratings need an installing team other
# than the publisher, so a rating can never be of a private agent), and model prices are global
# reference data. Another team may read these and report a review; it still cannot change them
# (team A's data is checked unchanged).
CROSS_TEAM_READABLE = {
    ("get", "/api/v1/marketplace/ratings/{id}/"),
    ("delete", "/api/v1/marketplace/ratings/{id}/"),
    ("post", "/api/v1/marketplace/ratings/{id}/report/"),
    ("get", "/api/v1/observability/prices/{id}/"),
}
# Lists that show other teams' rows by design (same reason: public reviews).
CROSS_TEAM_LISTS = {("get", "/api/v1/marketplace/ratings/")}

# Reads an API key may not make although the key's team owns the object: keys never see other
# keys (crucible.api.views.ApiKeyViewSet), so a leaked key cannot enumerate its siblings.
KEY_CANNOT_READ = {("get", "/api/v1/api-keys/{id}/")}

# Pages anyone may open without logging in.
PUBLIC_PAGES = {"login", "logout", "healthz"}
# Page POSTs that a viewer may make: they change the viewer's session, or are queries.
VIEWER_PAGE_POSTS = {"team-switch", "teammemory:suggest"}
# Pages that look a name up and show "no data" for any name they do not know (200 for A's name
# and for a made-up one alike); they must still show nothing of team A.
PAGES_BY_NAME = {"observability:agent"}


def _scrub(text: str, values: dict) -> str:
    for value in values.values():
        text = text.replace(str(value), "<param>")
    return text


def nonexistent(value):
    return 987654321 if isinstance(value, int) else "no-such-thing-987654321"


# --- API -----------------------------------------------------------------------------------------

OPS = discovery.operations()


def op_params(op):
    return pytest.param(op, id=op.id)


def _request(client, op, path, body=True):
    kwargs = {"format": "json"}
    data = {} if (body and op.has_body) else None
    return discovery.read(getattr(client, op.method)(path, data, **kwargs))  # an export streams


def _path_for(world, op):
    return values_for_operation(world, op)


def test_the_schema_has_operations():
    # The matrix below is generated from this list; an empty one would make it pass vacuously.
    assert len(OPS) >= 5
    assert any(op.is_write for op in OPS)


@pytest.mark.parametrize("op", [op_params(op) for op in OPS if op.params])
def test_every_path_parameter_can_be_filled(world, op):
    values = _path_for(world, op)
    assert values is not None, (
        f"{op.id}: no object of team A for parameters {op.params}; add a factory for the view's model "
        "to tests/hardening/registry.py"
    )


def test_every_api_route_is_in_the_schema():
    """The matrix reads the schema; an API route missing from it would not be tested."""
    covered = set()
    for op in OPS:
        match = discovery.resolve_template(op.path)
        if match is not None:
            covered.add(match.view_name)
    # Routers' browsable roots and the schema/docs views are not API operations.
    not_operations = {"schema", "api-docs"}
    missing = [
        r.route
        for r in discovery.api_routes()
        if r.name not in covered and r.name not in not_operations and not (r.name or "").endswith("api-root")
    ]
    assert missing == []


def test_api_roots_need_credentials_and_the_public_docs_hold_no_data(world, caller):
    """The URL-conf API routes that are not schema operations: router roots need credentials;
    the schema and Swagger UI are public (drf-spectacular's default SERVE_PERMISSIONS):
    they describe the API and must carry no team's data."""
    from django.urls import reverse

    roots = sorted(r.name for r in discovery.api_routes() if (r.name or "").endswith("api-root"))
    assert len(roots) >= 5
    for name in roots:
        url = reverse(name)
        assert caller("anonymous").get(url).status_code == 401, name
        assert caller("revoked_key").get(url).status_code == 401, name
        assert caller("owner_key").get(url).status_code == 200, name
    for name in ("schema", "api-docs"):
        response = caller("anonymous").get(reverse(name))
        assert response.status_code == 200, name
        assert MARKER not in response.content.decode(errors="replace")


@pytest.mark.parametrize("op", [op_params(op) for op in OPS if (op.method, op.path) not in API_PUBLIC])
@pytest.mark.parametrize("who", ["anonymous", "revoked_key"])
def test_api_needs_valid_credentials(world, caller, op, who):
    values = _path_for(world, op)
    if values is None:
        pytest.fail(f"cannot fill {op.params}")
    before = snapshot(world.team_a) if op.is_write else None
    response = _request(caller(who), op, discovery.fill(op.path, values))
    assert response.status_code == 401, response.content[:300]
    assert response.json()["code"] in {"not_authenticated", "authentication_failed"}
    if op.is_write:
        assert snapshot(world.team_a) == before


@pytest.mark.parametrize("op", [op_params(op) for op in OPS])
@pytest.mark.parametrize("who", ["other_team_user", "other_team_key"])
def test_other_team_cannot_see_or_touch_team_a(world, caller, op, who):
    values = _path_for(world, op)
    if values is None:
        pytest.fail(f"cannot fill {op.params}")
    client = caller(who)
    before = snapshot(world.team_a) if op.is_write else None
    response = _request(client, op, discovery.fill(op.path, values))
    assert response.status_code < 500, response.content[:500]
    body = _scrub(response.content.decode(errors="replace"), values)  # an echo of the asked-for name is no leak
    key = (op.method, op.path)
    if op.params and key not in CROSS_TEAM_READABLE:
        # Same answer as for an id that does not exist: no existence oracle, no access.
        ghost_values = {k: nonexistent(v) for k, v in values.items()}
        ghost = _request(client, op, discovery.fill(op.path, ghost_values))
        assert response.status_code == ghost.status_code, (response.status_code, body[:300])
        if 200 <= response.status_code < 300:
            # Only lookups by name may answer 2xx for a name they do not know (the legacy report
            # says "need more data"); then the answer must not differ from a made-up name's.
            assert body == _scrub(ghost.content.decode(errors="replace"), ghost_values), body[:300]
            assert op.method == "get", body[:300]
        elif op.method == "get":
            assert response.status_code == 404, body[:300]
    if key not in CROSS_TEAM_READABLE and key not in CROSS_TEAM_LISTS:
        assert MARKER not in body, f"team A's data leaked to team B: {body[:500]}"
    if op.is_write and key in CROSS_TEAM_READABLE and op.method != "post":
        assert response.status_code in (403, 404), body[:300]
    if op.is_write:
        assert snapshot(world.team_a) == before


WRITE_OPS = [op for op in OPS if op.is_write and (op.method, op.path) not in VIEWER_MAY_POST]


@pytest.mark.parametrize("op", [op_params(op) for op in WRITE_OPS])
@pytest.mark.parametrize("who", ["viewer_user", "viewer_key"])
def test_viewers_cannot_write(world, caller, op, who):
    values = _path_for(world, op)
    if values is None:
        pytest.fail(f"cannot fill {op.params}")
    before = snapshot(world.team_a)
    response = _request(caller(who), op, discovery.fill(op.path, values))
    assert response.status_code == 403, response.content[:300]
    assert response.json()["code"] == "permission_denied"
    assert snapshot(world.team_a) == before


@pytest.mark.parametrize("op", [op_params(op) for op in OPS if (op.method, op.path) in VIEWER_MAY_POST])
@pytest.mark.parametrize("who", ["viewer_user", "viewer_key"])
def test_viewer_queries_write_nothing(world, caller, op, who):
    values = _path_for(world, op)
    before = snapshot(world.team_a)
    response = _request(caller(who), op, discovery.fill(op.path, values))
    assert response.status_code < 500
    assert snapshot(world.team_a) == before


@pytest.mark.parametrize("op", [op_params(op) for op in OPS if op.method == "get" and op.params])
@pytest.mark.parametrize("who", ["owner_user", "owner_key"])
def test_team_a_reads_its_own_objects(world, caller, op, who):
    """Positive control: the ids the matrix uses are real, so B's 404 means 'not yours'."""
    if who == "owner_key" and (op.method, op.path) in KEY_CANNOT_READ:
        pytest.skip("API keys deliberately cannot read this (see KEY_CANNOT_READ)")
    values = _path_for(world, op)
    if values is None:
        pytest.fail(f"cannot fill {op.params}")
    response = _request(caller(who), op, discovery.fill(op.path, values))
    assert response.status_code == 200, response.content[:300]


# --- pages -------------------------------------------------------------------------------------

PAGES = [r for r in discovery.page_routes() if r.name not in PUBLIC_PAGES]


def test_every_page_is_named():
    """A page without a name cannot be reversed, so the matrix would miss it."""
    assert [r.route for r in discovery.page_routes() if not r.name] == []


def page_url(world, route):
    if not route.params:
        return reverse(route.name), {}
    values = values_for_route(world, route.name, route.params, route.view_class)
    if values is None:
        pytest.fail(f"page {route.name}: cannot fill {route.params}; add a factory in registry.py")
    return reverse(route.name, kwargs=values), values


def page_param(route):
    return pytest.param(route, id=route.name)


@pytest.mark.parametrize("route", [page_param(r) for r in PAGES])
def test_pages_send_anonymous_callers_to_login(world, client, route):
    url, _ = page_url(world, route)
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code == 302, (method, response.status_code)
        assert response["Location"].startswith(reverse("login")), response["Location"]


@pytest.mark.parametrize("route", [page_param(r) for r in PAGES if r.params])
def test_pages_of_team_a_objects_are_404_for_team_b(world, client, route):
    client.force_login(world.owner_b)
    url, values = page_url(world, route)
    ghost_url = reverse(route.name, kwargs={k: nonexistent(v) for k, v in values.items()})
    before = snapshot(world.team_a)
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        ghost = getattr(client, method)(ghost_url)
        assert response.status_code == ghost.status_code, (method, response.status_code, ghost.status_code)
        allowed = (200, 404, 405) if route.name in PAGES_BY_NAME and method == "get" else (404, 405)
        assert response.status_code in allowed, (method, response.status_code)
        assert MARKER not in _scrub(response.content.decode(errors="replace"), values)
    assert snapshot(world.team_a) == before


@pytest.mark.parametrize("route", [page_param(r) for r in PAGES if r.name not in VIEWER_PAGE_POSTS])
def test_viewers_cannot_post_pages(world, client, route):
    client.force_login(world.viewer_a)
    url, _ = page_url(world, route)
    before = snapshot(world.team_a)
    response = client.post(url, {"name": "viewer was here", "role": "member"})
    assert response.status_code in (403, 405), response.status_code
    assert snapshot(world.team_a) == before


def test_a_list_page_of_team_b_shows_nothing_of_team_a(world, client):
    client.force_login(world.owner_b)
    for route in PAGES:
        if route.params:
            continue
        response = discovery.read(client.get(reverse(route.name)))
        assert MARKER not in response.content.decode(errors="replace"), route.name
