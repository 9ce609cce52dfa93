from django.apps import AppConfig


class CrucibleConfig(AppConfig):
    name = "crucible"
    verbose_name = "Crucible: teams and access"

    def ready(self):
        from django.contrib.auth.signals import user_login_failed

        from crucible import checks  # noqa: F401  (registers the deploy checks)
        from crucible.auth import on_login_failed

        user_login_failed.connect(on_login_failed, dispatch_uid="crucible-login-failed")
