from rest_framework import permissions

from crucible import access


def write_action(view) -> str:
    """What a write through ``view`` needs: ``access.WRITE`` unless the view says otherwise
    (``write_action = access.READ`` for a query sent as a POST body, ``access.MANAGE`` for keys)."""
    return getattr(view, "write_action", access.WRITE)


def changes_url_object(view) -> bool:
    """Whether the request changes the object named in the URL (then the object's team decides),
    rather than acting for the active team (create, or a team action such as installing a public
    agent). Only views that load and check that object before their handler runs
    (``TeamScopedMixin``) say so; for any other view every write needs the active team."""
    if not getattr(view, "checks_url_object", False):
        return False
    kwargs = getattr(view, "kwargs", None) or {}
    lookup = getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", None)
    return bool(lookup and lookup in kwargs and getattr(view, "action", None) not in getattr(view, "team_actions", ()))


class TeamRolePermission(permissions.BasePermission):
    """The one write rule of the API (``crucible.access``), applied to every view.

    Authenticated callers only. Reads need any role (the queryset scoping of
    ``crucible.api.viewsets.TeamScopedMixin`` has made other teams' objects 404). A write to the
    object of the URL needs the view's ``write_action`` in the object's team (checked when the
    base viewset loads the object, before the handler runs); any other write needs it in the
    active team. A refusal is a 403 whose message names the role needed."""

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if request.META.get(access.TEAM_HEADER):
            access.active_team(request)  # a header naming no team of the caller's: 403, on a read too
        if request.method in permissions.SAFE_METHODS or changes_url_object(view):
            return True
        access.acting_team_for(request, write_action(view))
        return True

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS or not changes_url_object(view):
            return True
        access.check(request, access.team_id_of(obj, getattr(view, "team_field", "team")), write_action(view))
        return True
