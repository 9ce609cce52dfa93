from django.apps import AppConfig


class TeammemoryConfig(AppConfig):
    name = "teammemory"
    verbose_name = "Team memory"
