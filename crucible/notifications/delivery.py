"""The worker's side: one webhook request or one e-mail per job, logged, retried, idempotent.

A job first looks at the row: a delivery already succeeded is not sent again (a job run twice,
after a worker was killed, sends at most one more request with the same webhook-id).
"""

from __future__ import annotations

import http.client
import time
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from crucible.notifications import bodies, netguard, services, signing
from crucible.notifications.models import DeliveryStatus, EmailDelivery, WebhookAttempt, WebhookDelivery

MAX_LOGGED_RESPONSE_CHARS = 2000


def retry_delay(*, failures: int, created_at, now) -> timedelta | None:
    """Seconds before the next attempt after ``failures`` failed ones: doubling from the base,
    never past the retry window after the event; None once the window is over."""
    window_end = created_at + timedelta(hours=settings.WEBHOOKS_RETRY_HOURS)
    if now >= window_end:
        return None
    delay = timedelta(seconds=settings.WEBHOOKS_RETRY_BASE_SECONDS * 2 ** max(failures - 1, 0))
    return min(delay, window_end - now)


def _send(delivery: WebhookDelivery) -> tuple[int | None, int, str, str]:
    """(status code, duration ms, error, response excerpt) of one signed request."""
    body = delivery.request_body.encode()
    headers = signing.headers(
        secret=delivery.webhook.secret, message_id=delivery.message_id, timestamp=int(time.time()), body=body
    )
    started = time.monotonic()
    try:
        response = netguard.post(delivery.webhook.url, body=body, headers=headers)
    except netguard.BlockedAddress as exc:
        return None, int((time.monotonic() - started) * 1000), str(exc), ""
    except (OSError, http.client.HTTPException) as exc:
        return None, int((time.monotonic() - started) * 1000), f"{type(exc).__name__}: {exc}"[:500], ""
    excerpt = response.body.decode("utf-8", "replace")[:MAX_LOGGED_RESPONSE_CHARS]
    error = "" if 200 <= response.status < 300 else f"The receiver answered {response.status}."
    return response.status, response.duration_ms, error, excerpt


def webhook_delivery_attempt(*, delivery_id: int, manual: bool = False) -> str:
    """Make one attempt; returns what happened. Schedules the next one on failure."""
    delivery = WebhookDelivery.objects.select_related("webhook__team", "event").filter(pk=delivery_id).first()
    if delivery is None:
        return "gone"
    if not manual and delivery.status != DeliveryStatus.PENDING:
        return f"already {delivery.status}"
    if not manual and not delivery.webhook.is_active:
        return "webhook disabled"
    status_code, duration_ms, error, excerpt = _send(delivery)
    ok = not error
    with transaction.atomic():
        return _record(delivery, manual, status_code, duration_ms, error, excerpt, ok)


def _record(delivery, manual, status_code, duration_ms, error, excerpt, ok) -> str:
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempts=F("attempts") + 1)
    attempts = WebhookDelivery.objects.values_list("attempts", flat=True).get(pk=delivery.pk)
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=attempts,
        manual=manual,
        started_at=now,
        status_code=status_code,
        duration_ms=duration_ms,
        error=error,
        response_excerpt=excerpt,
    )
    changes = {"last_status_code": status_code, "last_duration_ms": duration_ms, "last_error": error}
    failures = services.webhook_failure_count(webhook_id=delivery.webhook_id, failed=not ok)
    if ok:
        changes |= {"status": DeliveryStatus.SUCCEEDED, "delivered_at": now, "next_attempt_at": None}
        outcome = "delivered"
    else:
        delay = retry_delay(failures=attempts, created_at=delivery.created_at, now=now)
        disabled = _disable_if_failing(delivery, failures)
        if delay is None or disabled:
            changes |= {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
            outcome = "failed"
        else:
            changes |= {"status": DeliveryStatus.PENDING, "next_attempt_at": now + delay}
            from crucible.notifications import tasks

            tasks.webhook_delivery_defer(delivery_id=delivery.pk, delay_seconds=delay.total_seconds())
            outcome = "retrying"
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**changes)
    return outcome


def _disable_if_failing(delivery: WebhookDelivery, failures: int) -> bool:
    hook = delivery.webhook
    if failures < settings.WEBHOOKS_DISABLE_AFTER_FAILURES:
        return False
    reason = f"Disabled after {failures} failed requests in a row (last: {delivery.last_error or 'see the log'})."
    changed = (
        type(hook)
        .objects.filter(pk=hook.pk, is_active=True)
        .update(is_active=False, disabled_at=timezone.now(), disabled_reason=reason[:300])
    )
    if changed:
        services.team_admins_notify(
            team=hook.team,
            kind="webhook.disabled",
            title=f"The webhook {hook.name} was disabled",
            body=f"{failures} requests in a row to {hook.url} failed. Fix the receiver, then enable it again.",
            url=f"/notifications/webhooks/{hook.pk}/",
            dedupe_key=f"webhook-disabled:{hook.pk}:{timezone.now().isoformat()}",
        )
    return True


def email_delivery_send(*, email_id: int) -> str:
    email = EmailDelivery.objects.select_related("event__team").filter(pk=email_id).first()
    if email is None:
        return "gone"
    if email.status == DeliveryStatus.SUCCEEDED:
        return "already sent"
    event = email.event
    text = "\n\n".join(part for part in (event.body, bodies.absolute_url(event.url)) if part)
    try:
        send_mail(f"[{event.team.name}] {event.title}", text, None, [email.address])
    except (OSError, Exception) as exc:  # noqa: BLE001 (any backend error: logged on the row, retried)
        EmailDelivery.objects.filter(pk=email.pk).update(attempts=F("attempts") + 1, last_error=str(exc)[:500])
        raise
    EmailDelivery.objects.filter(pk=email.pk).update(
        status=DeliveryStatus.SUCCEEDED, attempts=F("attempts") + 1, sent_at=timezone.now(), last_error=""
    )
    return "sent"
