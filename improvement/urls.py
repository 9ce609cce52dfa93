from django.urls import path

from improvement import views

urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
]
