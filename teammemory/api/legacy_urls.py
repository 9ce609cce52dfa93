"""Routes of the earlier implementation, kept for clients written against it. ``team_id`` is the
team's id or its slug; a team the caller is not in answers 404."""

from django.urls import path

from teammemory.api import views

urlpatterns = [
    path("team/insights/<str:team_id>", views.LegacyInsightsView.as_view(), name="legacy-team-insights"),
    path("team/suggest-stack/<str:team_id>", views.LegacySuggestStackView.as_view(), name="legacy-team-suggest-stack"),
    path(
        "team/recommendations/<str:team_id>",
        views.LegacyRecommendationsView.as_view(),
        name="legacy-team-recommendations",
    ),
]
