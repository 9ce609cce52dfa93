from django.apps import AppConfig


class CrucibleConfig(AppConfig):
    name = "crucible"
    verbose_name = "Crucible: teams and access"

    def ready(self):
        from django.contrib.auth.signals import user_login_failed
        from django.core.signals import request_finished, request_started

        from crucible import checks  # noqa: F401  (registers the deploy checks)
        from crucible.auth import on_login_failed
        from crucible.dbhealth import note_request_done, skip_check_of_busy_connections

        user_login_failed.connect(on_login_failed, dispatch_uid="crucible-login-failed")
        # after Django's own close_old_connections receivers (connected when django.db loads)
        request_started.connect(skip_check_of_busy_connections, dispatch_uid="crucible-db-health-start")
        request_finished.connect(note_request_done, dispatch_uid="crucible-db-health-done")
