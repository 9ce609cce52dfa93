"""Shared helpers for server-rendered pages of every app."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import get_object_or_404, render

from crucible import access


class TeamPageMixin(LoginRequiredMixin):
    """Login required; ``self.team`` is the active team. Writes (POST) go through
    ``crucible.access`` as in the API, before the handler runs, so a page cannot forget them:

    - a page about one object (it defines ``object_queryset()``: the objects the caller may read;
      the object is ``kwargs[pk_url_kwarg]``) needs ``write_action`` in the object's team: 404 when
      the caller cannot read the object, 403 when it may not write in its team;
    - any other page, and a ``team_action`` page (it reads the object and writes for the active
      team: install or rate a public agent), needs ``write_action`` in the active team.

    ``write_action`` is ``access.WRITE`` (member or above) unless the page says otherwise
    (``access.READ`` for a query sent as a form). Handlers get the object from ``get_object()``;
    ``get_object(action)`` also checks a GET (``access.READ``: an edit form opens for the object's
    team only)."""

    write_action = access.WRITE
    team_field = "team"
    pk_url_kwarg = "pk"
    team_action = False

    def object_queryset(self):
        return None

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.team = access.active_team(request)
        if self.team is None:
            return render(request, "crucible/no_team.html", status=403)
        if request.method not in ("GET", "HEAD", "OPTIONS") and self.write_action != access.READ:
            if self.object_queryset() is not None and not self.team_action:
                self.get_object(self.write_action)
            else:
                access.check(request, self.team.pk, self.write_action)
        return super().dispatch(request, *args, **kwargs)

    def get_object(self, action: str | None = None):
        """The object of the page among those the caller may read (404 otherwise); with
        ``action``, 403 unless the caller may ``action`` in the object's team."""
        obj = getattr(self, "_page_object", None)
        if obj is None:
            obj = self._page_object = get_object_or_404(self.object_queryset(), pk=self.kwargs[self.pk_url_kwarg])
        if action is not None:
            access.check(self.request, access.team_id_of(obj, self.team_field), action)
        return obj

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["team"] = self.team
        return context

    @property
    def readable_team_ids(self):
        return access.readable_team_ids(self.request)


def form_add_service_errors(form, exc) -> None:
    """Put a service's ValidationError messages on the form fields they name (the rest on the
    form as a whole): every page form shows a service's errors this one way."""
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, exc.messages)
