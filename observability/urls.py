from django.urls import path

from observability import views

urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("agents/<path:name>/", views.AgentView.as_view(), name="agent"),
    path("bottlenecks/", views.BottlenecksView.as_view(), name="bottlenecks"),
    path("recommendations/", views.RecommendationsView.as_view(), name="recommendations"),
    path(
        "recommendations/experiment/",
        views.RecommendationExperimentView.as_view(),
        name="recommendation-experiment",
    ),
    path("executions/", views.ExecutionListView.as_view(), name="executions"),
]
