"""Handing deliveries to the worker, after the transaction that created them commits."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction


def deliveries_defer(*, webhook_deliveries: Iterable[int] = (), emails: Iterable[int] = (), manual: bool = False):
    webhook_deliveries, emails = list(webhook_deliveries), list(emails)
    if not webhook_deliveries and not emails:
        return

    def defer():
        from crucible.notifications import tasks

        for delivery_id in webhook_deliveries:
            tasks.webhook_delivery_defer(delivery_id=delivery_id, manual=manual)
        for email_id in emails:
            tasks.email_delivery_defer(email_id=email_id)

    transaction.on_commit(defer)
