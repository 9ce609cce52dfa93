from django.urls import path

from observability import redaction_views, views

urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("agents/<path:name>/", views.AgentView.as_view(), name="agent"),
    path("bottlenecks/", views.BottlenecksView.as_view(), name="bottlenecks"),
    path("recommendations/", views.RecommendationsView.as_view(), name="recommendations"),
    path("executions/", views.ExecutionListView.as_view(), name="executions"),
    path("redaction/", redaction_views.RedactionRulesView.as_view(), name="redaction-rules"),
    path("redaction/<int:pk>/", redaction_views.RedactionRuleChangeView.as_view(), name="redaction-rule-change"),
]
