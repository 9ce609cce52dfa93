"""The crucible app's worker jobs (procrastinate finds ``<app>.tasks`` modules)."""

from crucible.notifications.tasks import email_send, webhook_deliver  # noqa: F401
