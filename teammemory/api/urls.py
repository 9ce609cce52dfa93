from django.urls import path
from rest_framework.routers import DefaultRouter

from teammemory.api import views

router = DefaultRouter()
router.register("builds", views.BuildViewSet, basename="build")

urlpatterns = router.urls + [
    path("insights/", views.InsightsView.as_view(), name="insights"),
    path("suggestions/", views.SuggestionsView.as_view(), name="suggestions"),
    path("recommendations/", views.RecommendationsView.as_view(), name="recommendations"),
    path(
        "recommendations/experiment/",
        views.RecommendationExperimentView.as_view(),
        name="recommendation-experiment",
    ),
]
