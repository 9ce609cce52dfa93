from django.urls import path, register_converter

from observability import execution_views, redaction_views, trace_views, views
from observability.converters import AnyTextIdConverter

# Session, end-user and trace ids are any text ("/", "%", "?", spaces...): see converters.py.
register_converter(AnyTextIdConverter, "anyid")

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
    path("traces/", trace_views.TraceListView.as_view(), name="traces"),
    path("traces/export/", trace_views.TraceExportView.as_view(), name="traces-export"),
    path("traces/<anyid:trace_id>/", trace_views.TraceView.as_view(), name="trace"),
    path("sessions/", trace_views.SessionListView.as_view(), name="sessions"),
    path("sessions/<anyid:session_id>/", trace_views.SessionView.as_view(), name="session"),
    path("users/", trace_views.EndUserListView.as_view(), name="end-users"),
    path("executions/export/", execution_views.ExecutionExportView.as_view(), name="executions-export"),
    path("executions/<int:pk>/", execution_views.ExecutionDetailView.as_view(), name="execution"),
    path("live/", execution_views.LiveView.as_view(), name="live"),
    path("redaction/", redaction_views.RedactionRulesView.as_view(), name="redaction-rules"),
    path("redaction/<int:pk>/", redaction_views.RedactionRuleChangeView.as_view(), name="redaction-rule-change"),
]
