from django.apps import AppConfig


class CrucibleConfig(AppConfig):
    name = "crucible"
    verbose_name = "Crucible: teams and access"

    def ready(self):
        from crucible import checks  # noqa: F401  (registers the deploy checks)
