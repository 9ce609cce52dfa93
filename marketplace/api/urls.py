from rest_framework.routers import DefaultRouter

from marketplace.api import views

router = DefaultRouter()
router.register("agents", views.AgentViewSet, basename="agent")
router.register("versions", views.AgentVersionViewSet, basename="version")
router.register("installs", views.InstallationViewSet, basename="installation")
router.register("ratings", views.RatingViewSet, basename="rating")

urlpatterns = router.urls
