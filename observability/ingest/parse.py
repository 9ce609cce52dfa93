"""Ingest, step 0: the events of a batch request body."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from crucible import validation as v


def batch_events(data) -> list:
    """The events of a batch request body ``{"events": [...]}``; ValidationError naming every
    problem of the body itself (then nothing is stored)."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": 'The body must be a JSON object: {"events": [...]}.'})
    errors = v.Errors()
    for name in sorted(str(key) for key in data if key != "events"):
        errors.add(name, "Unknown field.")
    events = data.get("events")
    if not isinstance(events, list):
        errors.add("events", "This field is required and must be a list of events.")
    elif not events:
        errors.add("events", "Send at least one event.")
    errors.raise_if_any()
    return events
