from rest_framework.routers import DefaultRouter

from crucible.api.views import ApiKeyViewSet, TeamViewSet

router = DefaultRouter()
router.register("teams", TeamViewSet, basename="team")
router.register("api-keys", ApiKeyViewSet, basename="api-key")

urlpatterns = router.urls
