from django.urls import path

from alerts import views

urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("rules/new/", views.RuleCreateView.as_view(), name="rule-create"),
    path("rules/from-finding/", views.RuleFromFindingView.as_view(), name="rule-from-finding"),
    path("rules/<int:pk>/", views.RuleDetailView.as_view(), name="rule-detail"),
    path("rules/<int:pk>/edit/", views.RuleEditView.as_view(), name="rule-edit"),
    path("rules/<int:pk>/mute/", views.RuleMuteView.as_view(), name="rule-mute"),
    path("rules/<int:pk>/delete/", views.RuleDeleteView.as_view(), name="rule-delete"),
]
