"""Routes of the earlier implementation, kept for clients written against it."""

from django.urls import path

from observability.api.views import LegacyDashboardView

urlpatterns = [
    path("dashboard/agents", LegacyDashboardView.as_view(), name="observability-legacy-dashboard-agents"),
]
