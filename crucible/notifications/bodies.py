"""What a webhook receives: a Standard Webhooks JSON event, or a Slack-compatible message."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from crucible.notifications.models import BodyFormat, Event


def absolute_url(path: str) -> str:
    if not path or "://" in path:
        return path
    return settings.PUBLIC_URL.rstrip("/") + "/" + path.lstrip("/")


def event_data(event: Event) -> dict:
    return {
        "id": str(event.uid),
        "team": event.team.slug,
        "kind": event.kind,
        "title": event.title,
        "body": event.body,
        "url": absolute_url(event.url),
        "payload": event.payload,
        "created_at": event.created_at.isoformat(),
    }


def _slack(event: Event) -> dict:
    text = f"*{event.title}*"
    if event.body:
        text += f"\n{event.body}"
    if event.url:
        text += f"\n<{absolute_url(event.url)}|Open in Crucible>"
    return {"text": text}


def request_body(event: Event, body_format: str) -> str:
    if body_format == BodyFormat.SLACK:
        document = _slack(event)
    else:
        document = {"type": event.kind, "timestamp": event.created_at.isoformat(), "data": event_data(event)}
    return json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":"), ensure_ascii=False)
