from django.urls import path

from teammemory import views

urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("builds/", views.BuildListView.as_view(), name="build-list"),
    path("builds/<int:pk>/", views.BuildDetailView.as_view(), name="build-detail"),
    path("recommendations/experiment/", views.RecommendationExperimentView.as_view(), name="recommendation-experiment"),
    path("suggest/", views.SuggestView.as_view(), name="suggest"),
]
