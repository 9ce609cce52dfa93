"""Routes of the earlier implementation, kept for clients written against it (mounted at /api/).
The URL names are those the routes always had."""

from django.urls import path

from legacy import views

urlpatterns = [
    # marketplace
    path("marketplace/create-agent", views.LegacyCreateAgentView.as_view(), name="marketplace-legacy-create-agent"),
    path("marketplace/search", views.LegacySearchView.as_view(), name="marketplace-legacy-search"),
    path("marketplace/install/<path:ref>", views.LegacyInstallView.as_view(), name="marketplace-legacy-install"),
    path("marketplace/rate/<path:ref>", views.LegacyRateView.as_view(), name="marketplace-legacy-rate"),
    # team memory: team_id is the team's id or its slug; a team the caller is not in answers 404
    path("team/insights/<str:team_id>", views.LegacyInsightsView.as_view(), name="legacy-team-insights"),
    path("team/suggest-stack/<str:team_id>", views.LegacySuggestStackView.as_view(), name="legacy-team-suggest-stack"),
    path(
        "team/recommendations/<str:team_id>",
        views.LegacyRecommendationsView.as_view(),
        name="legacy-team-recommendations",
    ),
    # observability
    path("dashboard/agents", views.LegacyDashboardView.as_view(), name="observability-legacy-dashboard-agents"),
    # improvement
    path("improve/test-variant", views.TestVariantView.as_view(), name="improve-test-variant"),
    path("improve/report/<str:name>", views.ReportView.as_view(), name="improve-report"),
]
