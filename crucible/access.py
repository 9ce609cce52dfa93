"""Who is asking, for which team, with which role.

A request reaches teams in one of two ways:
- an API key (``request.auth`` is an ``ApiKey``): exactly the key's team, with the key's role;
- a logged-in user: every team the user is a member of, with the membership's role. Pages and
  session API calls act for the *active* team, chosen with the team switcher (stored in the
  session) or, for API calls, named by the ``X-Crucible-Team`` header (a team slug).

Reads are scoped with ``readable_team_ids`` (objects of other teams are simply not in the
queryset, so they answer 404). Writes go through one mechanism, ``restrict`` / ``object_for`` /
``acting_team_for`` with an action (READ, WRITE, MANAGE), which the base viewset
(``crucible.api.viewsets``), the API permission, the page mixin (``crucible.pages``) and the
input fields (``crucible.api.fields``) apply: views hold no role checks.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from crucible.models import ApiKey, Membership, Role, Team, role_at_least

SESSION_KEY = "active_team_id"
TEAM_HEADER = "HTTP_X_CRUCIBLE_TEAM"


def is_api_path(path: str) -> bool:
    """Whether a path is the REST API's (the middleware and the team header tell them apart)."""
    return path.startswith("/api/")


def _django_request(request):
    return getattr(request, "_request", request)


def api_key_of(request) -> ApiKey | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, ApiKey) else None


def roles(request) -> dict[int, str]:
    """{team_id: role} for everything the caller may read. Cached on the request."""
    base = _django_request(request)
    key = api_key_of(request)
    cache_name = f"_crucible_roles_{key.pk if key else 'user'}"
    cached = getattr(base, cache_name, None)
    if cached is not None:
        return cached
    if key is not None:
        result = {key.team_id: key.role}
    else:
        result, base._crucible_teams = {}, {}
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            # The teams come with the roles, in name order: the active team and the team switcher
            # read them from here (one query a page, not three).
            memberships = Membership.objects.filter(user=user).select_related("team").order_by("team__name", "team")
            for membership in memberships:
                result[membership.team_id] = membership.role
                base._crucible_teams[membership.team_id] = membership.team
    setattr(base, cache_name, result)
    return result


def my_teams(request) -> list[Team]:
    """The teams of the logged-in user, by name (none for an API key: it acts for its team)."""
    if api_key_of(request) is not None:
        return []
    roles(request)
    return list(_django_request(request)._crucible_teams.values())


def readable_team_ids(request) -> list[int]:
    return list(roles(request).keys())


def role_for(request, team_id: int) -> str | None:
    return roles(request).get(team_id)


def active_team(request) -> Team | None:
    """The team the caller acts for (writes land here)."""
    base = _django_request(request)
    key = api_key_of(request)
    if key is not None:
        return key.team
    cached = getattr(base, "_crucible_active_team", False)
    if cached is not False:
        return cached
    teams = my_teams(request)
    team = None
    # The header is the API's (pages act for the team switcher's team, and their error pages
    # read the active team too).
    wanted_slug = base.META.get(TEAM_HEADER) if is_api_path(base.path) else None
    if wanted_slug and teams:
        team = next((t for t in teams if t.slug == wanted_slug), None)
        if team is None:
            # Not the session's team instead: a write would land in a team the caller did not name.
            raise PermissionDenied(f"The X-Crucible-Team header names no team of yours: '{wanted_slug[:100]}'.")
    if team is None and hasattr(base, "session"):
        wanted = base.session.get(SESSION_KEY)
        team = next((t for t in teams if t.pk == wanted), None)
    if team is None and teams:
        team = teams[0]  # the first by name
    base._crucible_active_team = team
    return team


# --- write access: one mechanism, in the spirit of NetBox's RestrictedQuerySet.restrict() -------
#
# An action needs a minimum role in the team whose data it changes: READ any role, WRITE member or
# above, MANAGE (API keys) admin or above. That team is the object's own team for a change to an
# object named in the URL, and the acting team for what is created (or done) on the team's behalf.
READ, WRITE, MANAGE = "read", "write", "manage"
ACTION_ROLES = {READ: Role.VIEWER, WRITE: Role.MEMBER, MANAGE: Role.ADMIN}


def team_ids(request, action: str = READ) -> list[int]:
    """Ids of the teams where the caller may ``action``."""
    minimum = ACTION_ROLES[action]
    return [team_id for team_id, role in roles(request).items() if role_at_least(role, minimum)]


def restrict(queryset, request, action: str = READ, *, team_field: str = "team"):
    """The rows of ``queryset`` that belong to a team where the caller may ``action``
    (``team_field``: the path to the row's team, e.g. ``agent__team`` for a version)."""
    return queryset.filter(**{f"{team_field}__in": team_ids(request, action)})


def team_id_of(obj, team_field: str = "team") -> int:
    """The id of the team ``obj`` belongs to, following ``team_field`` (``agent__team``)."""
    *path, last = team_field.split("__")
    for name in path:
        obj = getattr(obj, name)
    return getattr(obj, f"{last}_id")


def can(request, team_id: int, action: str = WRITE) -> bool:
    """Whether the caller may ``action`` in the team (for pages that show or hide a button)."""
    return role_at_least(role_for(request, team_id), ACTION_ROLES[action])


def check(request, team_id: int, action: str = WRITE) -> None:
    """Raise PermissionDenied (403) unless the caller may ``action`` in the team; the message
    names the role the action needs and the caller's role."""
    role = role_for(request, team_id)
    if role is None:
        raise PermissionDenied("You are not a member of this team.")
    needed = ACTION_ROLES[action]
    if not role_at_least(role, needed):
        raise PermissionDenied(f"This needs the '{needed}' role or above; your role in this team is '{role}'.")


def object_for(request, queryset, action: str = WRITE, *, team_field: str = "team", **lookup):
    """The object of ``queryset`` matching ``lookup``, for ``action``. ``queryset`` is what the
    caller may read: an object outside it is 404 (another team's object looks like no object);
    one the caller reads but may not ``action`` in its team is 403."""
    obj = get_object_or_404(queryset, **lookup)
    check(request, team_id_of(obj, team_field), action)
    return obj


def acting_team_for(request, action: str = WRITE) -> Team:
    """The team the caller acts for, when it may ``action`` there (403 otherwise): the team
    that what is created belongs to."""
    team = active_team(request)
    if team is None:
        raise PermissionDenied("You are not a member of any team.")
    check(request, team.pk, action)
    return team


def set_active_team(request, team_id: int) -> bool:
    if team_id not in roles(request):
        return False
    request.session[SESSION_KEY] = team_id
    base = _django_request(request)
    if hasattr(base, "_crucible_active_team"):
        del base._crucible_active_team
    return True


def actor_user(request):
    """The person behind a request: the logged-in user, or the user who created the API key."""
    key = api_key_of(request)
    if key is not None:
        return key.created_by
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None
