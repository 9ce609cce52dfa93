from django.urls import path

from marketplace import views, views_evidence

urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("installed/", views.InstalledView.as_view(), name="installed"),
    path("agents/new/", views.AgentCreateView.as_view(), name="agent-create"),
    path("agents/<int:pk>/", views.AgentDetailView.as_view(), name="agent-detail"),
    path("agents/<int:pk>/edit/", views.AgentEditView.as_view(), name="agent-edit"),
    path("agents/<int:pk>/versions/new/", views.VersionCreateView.as_view(), name="version-create"),
    path(
        "agents/<int:pk>/versions/<int:version_pk>/", views_evidence.VersionDetailView.as_view(), name="version-detail"
    ),
    path("evidence-sharing/", views_evidence.EvidenceSharingView.as_view(), name="evidence-sharing"),
    path("agents/<int:pk>/versions/<int:version_pk>/yank/", views.YankView.as_view(), name="version-yank"),
    path("agents/<int:pk>/versions/<int:version_pk>/unyank/", views.UnyankView.as_view(), name="version-unyank"),
    path("agents/<int:pk>/install/", views.InstallView.as_view(), name="agent-install"),
    path("agents/<int:pk>/upgrade/", views.UpgradeView.as_view(), name="agent-upgrade"),
    path("agents/<int:pk>/uninstall/", views.UninstallView.as_view(), name="agent-uninstall"),
    path("agents/<int:pk>/fork/", views.ForkView.as_view(), name="agent-fork"),
    path("agents/<int:pk>/diff/", views.VersionDiffView.as_view(), name="version-diff"),
    path("agents/<int:pk>/rate/", views.RateView.as_view(), name="agent-rate"),
    path("agents/<int:pk>/report/", views.ReportView.as_view(), name="agent-report"),
]
