"""Routes of the earlier implementation, kept for clients written against it (mounted at /api/)."""

from django.urls import path

from marketplace.api import legacy_views

urlpatterns = [
    path(
        "marketplace/create-agent", legacy_views.LegacyCreateAgentView.as_view(), name="marketplace-legacy-create-agent"
    ),
    path("marketplace/search", legacy_views.LegacySearchView.as_view(), name="marketplace-legacy-search"),
    path("marketplace/install/<path:ref>", legacy_views.LegacyInstallView.as_view(), name="marketplace-legacy-install"),
    path("marketplace/rate/<path:ref>", legacy_views.LegacyRateView.as_view(), name="marketplace-legacy-rate"),
]
