from django.urls import path
from rest_framework.routers import DefaultRouter

from observability.api import redaction, views

router = DefaultRouter()
router.register("executions", views.ExecutionViewSet, basename="execution")
router.register("prices", views.ModelPriceViewSet, basename="price")
router.register("redaction-rules", redaction.RedactionRuleViewSet, basename="redaction-rule")

urlpatterns = [
    path("ingest/", views.IngestView.as_view(), name="ingest"),
    path("spans/", views.SpanIngestView.as_view(), name="spans"),
    path("otlp/v1/traces", views.OtlpTracesView.as_view(), name="otlp-traces"),
    path("dashboard/", views.DashboardView.as_view(), name="dashboard"),
    path("agents/<path:name>/", views.AgentDetailView.as_view(), name="agent-detail"),
    path("bottlenecks/", views.BottlenecksView.as_view(), name="bottlenecks"),
    path("regressions/", views.RegressionsView.as_view(), name="regressions"),
    path("recommendations/", views.RecommendationsView.as_view(), name="recommendations"),
    *router.urls,
]
