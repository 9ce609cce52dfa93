"""The base every team-owned viewset builds on."""

from __future__ import annotations

from rest_framework import permissions

from crucible import access
from crucible.api.permissions import changes_url_object


class TeamScopedMixin:
    """Reads: ``get_queryset`` holds the caller's teams' objects only, so another team's object
    answers 404 everywhere. Writes: ``crucible.api.permissions.TeamRolePermission`` with
    ``crucible.access``: a write to the object of the URL needs ``write_action`` (default
    ``access.WRITE``, member or above) in the object's team, 403 otherwise. The object is loaded
    and checked before the handler runs, so an action cannot forget the check; handlers get it
    from ``get_object()``. Any other write needs ``write_action`` in the active team
    (``self.team``), where what is created lands.

    Subclasses define ``base_queryset()`` (with ``select_related``/``prefetch_related``),
    ``team_field`` when the team is not the model's ``team`` field (``agent__team``), and
    ``team_actions``: detail actions that only read the object of the URL and write for the active
    team (installing or rating a public agent). Public objects of other teams (marketplace agents)
    are added by overriding ``scope_queryset``.
    """

    checks_url_object = True
    team_field = "team"
    write_action = access.WRITE
    team_actions: tuple[str, ...] = ()
    # GETs of these actions may read from the read replica (crucible.db_router)
    replica_reads: tuple[str, ...] = ("list", "retrieve")

    def base_queryset(self):
        raise NotImplementedError

    def scope_queryset(self, queryset):
        return access.restrict(queryset, self.request, access.READ, team_field=self.team_field)

    def get_queryset(self):
        return self.scope_queryset(self.base_queryset())

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        handled = request.method.lower() in self.http_method_names and hasattr(self, request.method.lower())
        if request.method not in permissions.SAFE_METHODS and handled and changes_url_object(self):
            self.get_object()  # 404 outside the read scope, 403 without write access to its team
        # A method the view does not handle (TRACE, or PUT where only PATCH is routed) is a 405 from
        # DRF's dispatch; loading the object first gave 404s and, for a session of several
        # traces, a 500.

    def get_object(self):
        if getattr(self, "_checked_object", None) is None:
            self._checked_object = super().get_object()
        return self._checked_object

    @property
    def team(self):
        return access.active_team(self.request)
