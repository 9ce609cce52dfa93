from django.urls import path

from improvement import views

urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("experiments/new/", views.ExperimentCreateView.as_view(), name="experiment-create"),
    path("experiments/try-version/", views.TryVersionView.as_view(), name="try-version"),
    path("experiments/<int:pk>/", views.ExperimentDetailView.as_view(), name="experiment-detail"),
    path("experiments/<int:pk>/edit/", views.ExperimentEditView.as_view(), name="experiment-edit"),
    path("experiments/<int:pk>/variants/add/", views.VariantAddView.as_view(), name="variant-add"),
    path(
        "experiments/<int:pk>/<str:verb>/",
        views.ExperimentActionView.as_view(),
        name="experiment-action",
        kwargs=None,
    ),
    path("variants/<int:pk>/retire/", views.VariantRetireView.as_view(), name="variant-retire"),
]
