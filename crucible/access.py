"""Who is asking, for which team, with which role.

A request reaches teams in one of two ways:
- an API key (``request.auth`` is an ``ApiKey``): exactly the key's team, with the key's role;
- a logged-in user: every team the user is a member of, with the membership's role. Pages and
  session API calls act for the *active* team, chosen with the team switcher (stored in the
  session) or, for API calls, named by the ``X-Crucible-Team`` header (a team slug).

Every app scopes its querysets with ``readable_team_ids`` and checks writes with
``require_role``; objects of other teams are simply not in the queryset, so they answer 404.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from crucible.models import ApiKey, Membership, Role, Team, role_at_least

SESSION_KEY = "active_team_id"
TEAM_HEADER = "HTTP_X_CRUCIBLE_TEAM"


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
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            result = {}
        else:
            result = dict(Membership.objects.filter(user=user).values_list("team_id", "role"))
    setattr(base, cache_name, result)
    return result


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
    team_roles = roles(request)
    team = None
    wanted_slug = base.META.get(TEAM_HEADER)
    if wanted_slug:
        team = Team.objects.filter(slug=wanted_slug, pk__in=team_roles.keys()).first()
    if team is None and hasattr(base, "session"):
        wanted = base.session.get(SESSION_KEY)
        if wanted in team_roles:
            team = Team.objects.filter(pk=wanted).first()
    if team is None and team_roles:
        team = Team.objects.filter(pk__in=team_roles.keys()).order_by("name").first()
    base._crucible_active_team = team
    return team


def active_role(request) -> str | None:
    team = active_team(request)
    return role_for(request, team.pk) if team else None


def can(request, team_id: int, minimum: str = Role.MEMBER) -> bool:
    return role_at_least(role_for(request, team_id), minimum)


def require_role(request, team_id: int, minimum: str = Role.MEMBER) -> None:
    """Raise PermissionDenied unless the caller holds ``minimum`` or better in the team."""
    role = role_for(request, team_id)
    if role is None:
        raise PermissionDenied("You are not a member of this team.")
    if not role_at_least(role, minimum):
        raise PermissionDenied(f"This needs the '{minimum}' role or above; you are '{role}'.")


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
