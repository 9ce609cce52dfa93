from django.urls import path

from observability import execution_views, redaction_views, views

urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("agents/<path:name>/", views.AgentView.as_view(), name="agent"),
    path("bottlenecks/", views.BottlenecksView.as_view(), name="bottlenecks"),
    path("recommendations/", views.RecommendationsView.as_view(), name="recommendations"),
    path("executions/", views.ExecutionListView.as_view(), name="executions"),
    path("executions/export/", execution_views.ExecutionExportView.as_view(), name="executions-export"),
    path("executions/<int:pk>/", execution_views.ExecutionDetailView.as_view(), name="execution"),
    path("live/", execution_views.LiveView.as_view(), name="live"),
    path("redaction/", redaction_views.RedactionRulesView.as_view(), name="redaction-rules"),
    path("redaction/<int:pk>/", redaction_views.RedactionRuleChangeView.as_view(), name="redaction-rule-change"),
]
