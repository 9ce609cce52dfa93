"""Base classes every app's viewsets build on."""

from __future__ import annotations

from rest_framework import viewsets

from crucible import access


class TeamScopedMixin:
    """Limit ``get_queryset`` to the caller's teams (others' objects answer 404) and hand the
    active team to writes.

    Subclasses define ``base_queryset()`` (with ``select_related``/``prefetch_related``) and
    ``team_field`` when the team is not the model's ``team`` field. Public objects of other
    teams (marketplace agents) are added by overriding ``scope_queryset``.
    """

    team_field = "team"

    def base_queryset(self):
        raise NotImplementedError

    def scope_queryset(self, queryset):
        return queryset.filter(**{f"{self.team_field}__in": access.readable_team_ids(self.request)})

    def get_queryset(self):
        return self.scope_queryset(self.base_queryset())

    @property
    def team(self):
        return access.active_team(self.request)


class TeamScopedReadOnlyViewSet(TeamScopedMixin, viewsets.ReadOnlyModelViewSet):
    pass


class TeamScopedModelViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    pass
