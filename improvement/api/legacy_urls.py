"""Routes of the earlier implementation, kept for clients written against it."""

from django.urls import path

from improvement.api import legacy_views

urlpatterns = [
    path("improve/test-variant", legacy_views.TestVariantView.as_view(), name="improve-test-variant"),
    path("improve/report/<str:name>", legacy_views.ReportView.as_view(), name="improve-report"),
]
