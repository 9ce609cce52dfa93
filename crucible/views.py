from __future__ import annotations

import importlib
import math
from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from crucible import access, replica, services, worker
from crucible.api.exceptions import error_body, suspicious_request_message
from crucible.auth import login_throttled
from crucible.db_router import replica_reads
from crucible.models import ApiKey, Role

FEATURE_APPS = ["marketplace", "teammemory", "observability", "improvement", "alerts"]
NEW_KEY_SESSION = "crucible:new-api-key"


def healthz(request):
    """Liveness and database check for load balancers: 200 when a query succeeds, else 503. The
    background worker's last heartbeat and the read replica's state and lag are shown, but do not
    make the web unhealthy (reads fall back to the primary)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any database failure means "not healthy"
        return JsonResponse(error_body("service_unavailable", "database unreachable"), status=503)
    return JsonResponse(
        {"status": "ok", "database": "ok", "worker": worker.worker_status_shown(), "replica": replica.shown()}
    )


def home_cards(request, team):
    """Each feature app may offer ``<app>.selectors.home_card(team=...)`` -> dict for the home page."""
    cards = []
    for app in FEATURE_APPS:
        try:
            module = importlib.import_module(f"{app}.selectors")
        except ModuleNotFoundError:
            continue
        card = getattr(module, "home_card", None)
        if card is not None:
            cards.append(card(team=team, request=request))
    return cards


@replica_reads
@login_required
@require_safe
def home(request):
    team = access.active_team(request)
    if team is None:
        return render(request, "crucible/no_team.html", status=403)
    return render(request, "crucible/home.html", {"team": team, "cards": home_cards(request, team)})


@login_required
@require_POST
def team_switch(request):
    try:
        team_id = int(request.POST.get("team", ""))
    except ValueError:
        raise Http404("No such team.") from None
    if not access.set_active_team(request, team_id):
        raise Http404("No such team.")
    target = request.POST.get("next") or reverse("home")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("home")
    return redirect(_same_section(target))


def _same_section(target: str) -> str:
    """Where to land after switching team from ``target``: a page of one object (its URL names
    it: an agent, a build, an experiment) belongs to the team left, so go to its section's index."""
    try:
        match = resolve(urlsplit(target).path)
    except Resolver404:
        return reverse("home")
    if match.kwargs and match.namespace in FEATURE_APPS:
        return reverse(f"{match.namespace}:index")
    return target


@login_required
@never_cache
def api_keys(request):
    team = access.active_team(request)
    if team is None:
        return render(request, "crucible/no_team.html", status=403)
    is_admin = access.can(request, team.pk, access.MANAGE)
    if request.method == "POST":
        access.acting_team_for(request, access.MANAGE)
        try:
            _, raw = services.api_key_create(
                team=team,
                name=request.POST.get("name", ""),
                role=request.POST.get("role", Role.MEMBER),
                created_by=request.user,
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            # Post/redirect/get: a reload must not create a second key. The raw key waits in the
            # session until the next page shows it, once.
            request.session[NEW_KEY_SESSION] = raw
        return redirect("api-keys")
    new_key = request.session.pop(NEW_KEY_SESSION, None)
    keys = ApiKey.objects.filter(team=team).select_related("created_by")
    return render(
        request,
        "crucible/api_keys.html",
        {"team": team, "keys": keys, "new_key": new_key, "is_admin": is_admin, "roles": [Role.MEMBER, Role.VIEWER]},
    )


@login_required
@require_POST
def api_key_revoke(request, pk: int):
    key = access.object_for(request, access.restrict(ApiKey.objects.all(), request), access.MANAGE, pk=pk)
    services.api_key_revoke(key=key)
    messages.success(request, f"Key '{key.name}' revoked.")
    return redirect("api-keys")


def _login_throttled_response(request, seconds_left: float, form=None):
    response = render(
        request,
        "registration/login.html",
        {"form": form, "throttled": True, "next": request.POST.get("next", "")},
        status=429,
    )
    response["Retry-After"] = str(max(1, math.ceil(seconds_left)))
    return response


class LoginView(auth_views.LoginView):
    """Django's login, answering 429 without hashing anything while this address or this username
    has used up its failed logins (``crucible.auth``; the backend enforces the same limit)."""

    def post(self, request, *args, **kwargs):
        seconds_left = login_throttled(request=request, username=request.POST.get("username", ""))
        if seconds_left is not None:
            return _login_throttled_response(request, seconds_left, self.get_form())
        return super().post(request, *args, **kwargs)


def admin_login(request):
    """The admin's login with the same limit (its form alone would just say "wrong password")."""
    if request.method == "POST":
        seconds_left = login_throttled(request=request, username=request.POST.get("username", ""))
        if seconds_left is not None:
            return _login_throttled_response(request, seconds_left)
    return admin.site.login(request)


def json_400(request, exception=None):
    """Django's own 400 (e.g. a form body over its field or file limits, read outside a view)."""
    if request.path.startswith("/api/"):
        message = suspicious_request_message(exception) if exception is not None else "Bad request."
        return JsonResponse(error_body("bad_request", message), status=400)
    return render(request, "400.html", status=400)


def json_404(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return render(request, "404.html", status=404)


def json_500(request):
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("server_error", "Something went wrong on our side."), status=500)
    return render(request, "500.html", status=500)
