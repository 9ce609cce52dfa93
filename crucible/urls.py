from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from crucible import views

handler400 = "crucible.views.json_400"
handler404 = "crucible.views.json_404"
handler500 = "crucible.views.json_500"

FEATURE_APPS = views.FEATURE_APPS

# Each app's API first: Django tries patterns in order, and every path under /api/v1/ enters the
# core include and tries all its routes before failing over (a third of resolving /select/).
urlpatterns = [path(f"api/v1/{app}/", include((f"{app}.api.urls", f"{app}-api"))) for app in FEATURE_APPS]
urlpatterns += [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("teams/switch/", views.team_switch, name="team-switch"),
    path("settings/api-keys/", views.api_keys, name="api-keys"),
    path("settings/api-keys/<int:pk>/revoke/", views.api_key_revoke, name="api-key-revoke"),
    path("notifications/", include(("crucible.notifications.urls", "notifications"))),
    path("admin/login/", views.admin_login),  # the admin's own, behind the failed-login limit
    path("admin/", admin.site.urls),
    # API v1: core resources, then one prefix per app.
    path("api/v1/", include(("crucible.api.urls", "crucible-api"))),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    # No ReDoc: it loads fonts, a logo and a search worker from the internet (issue 15, item 11).
    # The browsable API's login, with the same failed-login throttle as /login/ (DRF's own
    # rest_framework.urls would be an unthrottled way to guess passwords).
    path(
        "api-auth/",
        include(
            (
                [
                    path("login/", views.LoginView.as_view(template_name="rest_framework/login.html"), name="login"),
                    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
                ],
                "rest_framework",
            )
        ),
    ),
]

for app in FEATURE_APPS:
    urlpatterns.append(path(f"{app}/", include((f"{app}.urls", app))))

# Routes of the earlier implementation (/api/marketplace/..., /api/team/..., ...): the legacy app.
urlpatterns.append(path("api/", include("legacy.urls")))
