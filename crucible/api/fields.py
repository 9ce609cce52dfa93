"""Serializer fields with one rule for the whole API: money goes out as a decimal string with
8 places (``MoneyField``) and comes in as sent, for the service to round and check
(``MoneyInputField``); an object picked for a write goes through ``crucible.access``
(``TeamObjectField``)."""

from __future__ import annotations

from rest_framework import serializers

from crucible import access, money


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


class TeamObjectField(serializers.IntegerField):
    """An object by id, for ``action`` on it (default ``access.WRITE``): "an agent of a team where
    I may write". An id outside what the caller may read is a field error (400, ``not_found``
    says so, as for an id that does not exist); an object the caller reads but may not ``action``
    in its team is 403. Needs ``request`` in the serializer's context. The value is the object.

    Example: ``agent = TeamObjectField(queryset=Agent.objects.all(), not_found="No agent of your
    teams has this id.")``; ``team_field="agent__team"`` for a model without its own ``team``."""

    def __init__(self, *, queryset, action=access.WRITE, team_field="team", not_found="No such object.", **kwargs):
        kwargs.setdefault("min_value", 1)
        super().__init__(**kwargs)
        self.queryset = queryset
        self.action = action
        self.team_field = team_field
        self.not_found = not_found

    def to_internal_value(self, data):
        if not isinstance(data, int) or isinstance(data, bool):
            self.fail("invalid")  # a JSON integer only, not "5" or true
        return super().to_internal_value(data)

    def run_validation(self, data=serializers.empty):
        pk = super().run_validation(data)  # a whole number within the limits
        if pk is None:
            return None
        if not 1 <= pk < 2**63:  # no row has such an id (and PostgreSQL's bigint ends there)
            raise serializers.ValidationError(self.not_found)
        request = self.context["request"]
        readable = access.restrict(self.queryset.all(), request, access.READ, team_field=self.team_field)
        obj = readable.filter(pk=pk).first()
        if obj is None:
            raise serializers.ValidationError(self.not_found)
        access.check(request, access.team_id_of(obj, self.team_field), self.action)
        return obj

    def to_representation(self, value):
        return getattr(value, "pk", value)
