from rest_framework.routers import DefaultRouter

from crucible.api.views import ApiKeyViewSet, TeamViewSet
from crucible.notifications import api as notification_api

router = DefaultRouter()
router.register("teams", TeamViewSet, basename="team")
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("notifications", notification_api.NotificationViewSet, basename="notification")
router.register("webhooks", notification_api.WebhookViewSet, basename="webhook")
router.register("webhook-deliveries", notification_api.WebhookDeliveryViewSet, basename="webhook-delivery")
router.register("notification-subscriptions", notification_api.SubscriptionViewSet, basename="subscription")

urlpatterns = router.urls
