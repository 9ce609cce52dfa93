"""Serializer fields with one rule for the whole API."""

from __future__ import annotations

from rest_framework import serializers

from crucible import money


class MoneyField(serializers.DecimalField):
    """USD as a decimal string with 8 decimal places (see ``crucible.money``), read-only."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "USD, a decimal string with 8 decimal places.")
        super().__init__(max_digits=None, decimal_places=money.PLACES, coerce_to_string=True, read_only=True, **kwargs)
