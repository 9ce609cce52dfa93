"""System checks of our own, run by ``manage.py check --deploy``."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def secret_key_from_environment(app_configs, **kwargs):
    """Django's W009 accepts our long development key; production must bring its own."""
    from crucible.settings import _DEV_SECRET

    if settings.SECRET_KEY == _DEV_SECRET:
        return [
            Error(
                "SECRET_KEY is the built-in development key.",
                hint="Set CRUCIBLE_SECRET_KEY in the environment (a long random string).",
                id="crucible.E001",
            )
        ]
    return []
