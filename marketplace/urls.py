from django.urls import path

from marketplace import views

urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
]
