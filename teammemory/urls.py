from django.urls import path

from teammemory import views

urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
]
