"""Shared helpers for server-rendered pages of every app."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from crucible import access
from crucible.models import Role


class TeamPageMixin(LoginRequiredMixin):
    """Login required; ``self.team`` is the active team; ``write_role`` guards POST."""

    write_role = Role.MEMBER

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.team = access.active_team(request)
        if self.team is None:
            return render(request, "crucible/no_team.html", status=403)
        if request.method not in ("GET", "HEAD", "OPTIONS") and not access.can(request, self.team.pk, self.write_role):
            raise PermissionDenied("Your role in this team cannot change anything.")
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["team"] = self.team
        return context

    @property
    def readable_team_ids(self):
        return access.readable_team_ids(self.request)
