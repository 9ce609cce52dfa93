"""Strict input fields of the improvement API: JSON numbers, integers and booleans only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crucible.api.fields import MoneyInputField

WEIGHT = {"min_value": 0.0, "max_value": 1000.0}


def _is_number(data) -> bool:
    return isinstance(data, (int, float)) and not isinstance(data, bool)


class Flt(serializers.FloatField):
    """A JSON number only (DRF would also take "0.5" as text)."""

    def to_internal_value(self, data):
        if not _is_number(data):
            self.fail("invalid")
        return super().to_internal_value(data)


class Int(serializers.IntegerField):
    """A JSON integer only."""

    def to_internal_value(self, data):
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class Bool(serializers.BooleanField):
    """true or false only (DRF would also take "yes", 1, "on")."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


@extend_schema_field({"type": "number", "minimum": 0})
class Money(MoneyInputField):
    """A JSON number (not its text), passed on as sent: the service rounds it and checks it."""
