"""Serializer fields with one rule for the whole API: money goes out as a decimal string with
8 places (``MoneyField``) and comes in as sent, for the service to round and check
(``MoneyInputField``)."""

from __future__ import annotations

from rest_framework import serializers

from crucible import money


class MoneyField(serializers.DecimalField):
    """USD as a decimal string with 8 decimal places (see ``crucible.money``), read-only."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "USD, a decimal string with 8 decimal places.")
        super().__init__(max_digits=None, decimal_places=money.PLACES, coerce_to_string=True, read_only=True, **kwargs)


class MoneyInputField(serializers.DecimalField):
    """An amount as sent (a JSON number, or its text with ``allow_text``), passed on unrounded:
    the service rounds it and checks its bounds (``crucible.validation.money``). ``max_digits``,
    ``decimal_places`` and the bounds given document the schema."""

    def __init__(self, *, allow_text: bool = False, **kwargs):
        kwargs.setdefault("max_digits", None)
        super().__init__(**kwargs)
        self.allow_text = allow_text

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float, str)):
            self.fail("invalid")
        if isinstance(data, str) and (not self.allow_text or len(data) > 100):
            self.fail("invalid")
        return data
