from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts: rules on a team's metrics"
    default_auto_field = "django.db.models.BigAutoField"
