from django.apps import AppConfig


class CrucibleConfig(AppConfig):
    name = "crucible"
    verbose_name = "Crucible: teams and access"
