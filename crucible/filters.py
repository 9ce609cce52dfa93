"""Filters shared by the FilterSets of every app."""

from __future__ import annotations

import datetime as dt

from django import forms as django_forms
from django.core.exceptions import ValidationError
from django_filters import fields, widgets
from django_filters import rest_framework as filters

from crucible.limits import BIGINT_MAX


class UtcIsoDateTimeField(fields.IsoDateTimeField):
    """An ISO 8601 date and time, converted to UTC. Python accepts offsets up to ±23:59 but
    PostgreSQL only ±15:59, and ``0001-01-01T00:00+23:59`` is in year 0 once in UTC: such values
    are a form error (400 on the API, the filter form's message on a page), not a database error."""

    default_error_messages = {"range": "Enter a date and time between the years 1 and 9999 (in UTC)."}

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["range"], code="range") from None


class IsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class IdFilter(filters.NumberFilter):
    """An object id: a whole number from 1 to the largest bigint. Anything else is a 400 naming the
    filter (a larger number used to reach PostgreSQL, which refused it without naming the filter).
    The bounds are in the OpenAPI schema (``crucible.api.schema.BoundedFilterExtension``)."""

    field_class = django_forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(*args, **kwargs)


class AnyBooleanWidget(widgets.BooleanWidget):
    """django-filter's true/false select, with "Any" for the empty choice: it reads "no filter",
    where django-filter's "Unknown" read like a value of the field."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.choices = [("", "Any"), ("true", "Yes"), ("false", "No")]


class BooleanFilter(filters.BooleanFilter):
    """A yes/no filter (``true``/``false`` in the API); pages show it as Any / Yes / No."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", AnyBooleanWidget)
        super().__init__(*args, **kwargs)
