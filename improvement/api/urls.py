from rest_framework.routers import DefaultRouter

from improvement.api import rollouts, views

router = DefaultRouter()
router.register("experiments", views.ExperimentViewSet, basename="experiment")
router.register("variants", views.VariantViewSet, basename="variant")
router.register("select", views.SelectViewSet, basename="select")
router.register("results", views.ResultViewSet, basename="result")
router.register("assignments", views.AssignmentViewSet, basename="assignment")
router.register("reports", views.ReportViewSet, basename="report")
router.register("rollouts", rollouts.RolloutViewSet, basename="rollout")

urlpatterns = router.urls
