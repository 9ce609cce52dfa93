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


def is_production() -> bool:
    """Debug off and a secret key of its own: a deployment, not a laptop."""
    from crucible.settings import _DEV_SECRET

    return not settings.DEBUG and settings.SECRET_KEY != _DEV_SECRET


def published_password_errors() -> list[Error]:
    from crucible.demo import accounts_with_published_passwords

    names = accounts_with_published_passwords()
    if not names:
        return []
    return [
        Error(
            f"Accounts with a published demo password exist: {', '.join(names)}.",
            hint=(
                "Their passwords are in the README. Change them (manage.py changepassword NAME) or "
                "delete the accounts before serving with production settings."
            ),
            id="crucible.E002",
        )
    ]


@register(Tags.security, Tags.database, deploy=True)
def no_published_passwords_in_production(app_configs, databases=None, **kwargs):
    """``check --deploy --database default`` with production settings: no demo password works."""
    if not databases or "default" not in databases or not is_production():
        return []
    return published_password_errors()


def refuse_to_serve_with_published_passwords() -> None:
    """Called when the WSGI application is built: a production configuration does not start while
    a demo account's published password still logs in."""
    import logging

    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError

    if not is_production():
        return
    try:
        errors = published_password_errors()
    except DatabaseError:  # an unreachable database must not stop the server: it answers 503
        logging.getLogger(__name__).warning("Could not check for published demo passwords (database down).")
        return
    if errors:
        raise ImproperlyConfigured(f"{errors[0].msg} {errors[0].hint} ({errors[0].id})")
