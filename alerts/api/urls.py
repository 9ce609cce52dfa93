from rest_framework.routers import DefaultRouter

from alerts.api import views

router = DefaultRouter()
router.register("rules", views.AlertRuleViewSet, basename="rule")
router.register("transitions", views.AlertTransitionViewSet, basename="transition")

urlpatterns = router.urls
