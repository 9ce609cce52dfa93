from django.urls import path

from observability import views

urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
]
