"""The worker's jobs for notifications (procrastinate), and how they are deferred.

Webhook retries are scheduled jobs (``schedule_in``) chosen by ``delivery.retry_delay``; e-mails
use procrastinate's own retry strategy. ``lock`` keeps one attempt of a delivery running at a
time; a job rerun after a killed worker finds the delivery's state in its row.
"""

from __future__ import annotations

from procrastinate import RetryStrategy
from procrastinate.contrib.django import app

from crucible.notifications import delivery

QUEUE = "notifications"


@app.task(name="notifications.webhook_deliver", queue=QUEUE)
def webhook_deliver(delivery_id: int, manual: bool = False) -> str:
    return delivery.webhook_delivery_attempt(delivery_id=delivery_id, manual=manual)


@app.task(
    name="notifications.email_send",
    queue=QUEUE,
    retry=RetryStrategy(max_attempts=8, exponential_wait=5),
)
def email_send(email_id: int) -> str:
    return delivery.email_delivery_send(email_id=email_id)


def webhook_delivery_defer(*, delivery_id: int, manual: bool = False, delay_seconds: float = 0) -> None:
    options = {"lock": f"webhook-delivery:{delivery_id}"}
    if delay_seconds:
        options["schedule_in"] = {"seconds": delay_seconds}
    webhook_deliver.configure(**options).defer(delivery_id=delivery_id, manual=manual)


def email_delivery_defer(*, email_id: int) -> None:
    email_send.configure(lock=f"email-delivery:{email_id}").defer(email_id=email_id)
