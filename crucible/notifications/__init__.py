"""Notifications: events published by every app, delivered in the app, by e-mail and by webhook.

    from crucible.notifications import notification_publish
    notification_publish(team=team, kind="alert.firing", title="...", body="...", url="/alerts/3/",
                         payload={...}, dedupe_key=f"alert-transition:{transition.pk}")

See ``services.notification_publish`` and docs/webhooks.md.
"""

from __future__ import annotations


def __getattr__(name: str):
    # Lazy: crucible.models imports this package's models while the app registry loads.
    if name == "notification_publish":
        from crucible.notifications.services import notification_publish

        return notification_publish
    raise AttributeError(name)
