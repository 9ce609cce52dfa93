from rest_framework import permissions

from crucible import access
from crucible.models import Role


class TeamRolePermission(permissions.BasePermission):
    """Authenticated callers only. Reads need any role in a team; writes need 'member' or above
    in the active team (viewers and read-only keys cannot write). Object checks use the object's
    ``team_id``: a write to another team's object is refused (and the queryset scoping has already
    turned reads of it into 404)."""

    message = "This needs the 'member' role or above."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        required = getattr(view, "required_write_role", Role.MEMBER)
        team = access.active_team(request)
        return team is not None and access.can(request, team.pk, required)

    def has_object_permission(self, request, view, obj):
        team_id = getattr(obj, "team_id", None)
        if team_id is None:
            return True
        if request.method in permissions.SAFE_METHODS:
            return True
        return access.can(request, team_id, getattr(view, "required_write_role", Role.MEMBER))


class IsTeamAdmin(TeamRolePermission):
    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        team = access.active_team(request)
        minimum = Role.VIEWER if request.method in permissions.SAFE_METHODS else Role.ADMIN
        return team is not None and access.can(request, team.pk, minimum)
