from django.urls import path

from crucible.notifications import views

urlpatterns = [
    path("", views.InboxView.as_view(), name="index"),
    path("read/", views.MarkReadView.as_view(), name="read"),
    path("read-all/", views.MarkReadView.as_view(all_of_them=True), name="read-all"),
    path("subscriptions/", views.SubscriptionView.as_view(), name="subscriptions"),
    path("webhooks/", views.WebhookListView.as_view(), name="webhooks"),
    path("webhooks/<int:pk>/", views.WebhookDetailView.as_view(), name="webhook"),
    path("webhooks/<int:pk>/edit/", views.WebhookActionView.as_view(verb="update"), name="webhook-update"),
    path("webhooks/<int:pk>/enable/", views.WebhookActionView.as_view(verb="enable"), name="webhook-enable"),
    path("webhooks/<int:pk>/disable/", views.WebhookActionView.as_view(verb="disable"), name="webhook-disable"),
    path("webhooks/<int:pk>/test/", views.WebhookActionView.as_view(verb="test"), name="webhook-test"),
    path("webhooks/<int:pk>/delete/", views.WebhookActionView.as_view(verb="delete"), name="webhook-delete"),
    path("deliveries/<int:pk>/", views.DeliveryDetailView.as_view(), name="delivery"),
    path("deliveries/<int:pk>/redeliver/", views.RedeliverView.as_view(), name="delivery-redeliver"),
]
