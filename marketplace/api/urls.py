from django.urls import path
from rest_framework.routers import DefaultRouter

from marketplace.api import installs, views
from marketplace.api.evidence import EvidenceSharingView

router = DefaultRouter()
router.register("agents", views.AgentViewSet, basename="agent")
router.register("versions", views.AgentVersionViewSet, basename="version")
router.register("installs", installs.InstallationViewSet, basename="installation")
router.register("ratings", installs.RatingViewSet, basename="rating")

urlpatterns = [
    path("evidence-sharing/", EvidenceSharingView.as_view(), name="evidence-sharing"),
    *router.urls,
]
