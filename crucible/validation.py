"""The validation kit: one error collector and typed checks, used by the services of every app.

Services own the domain rules; input serializers and forms only shape input (JSON types,
required keys) and hand the values to a service, which checks them all and reports every bad
field at once under the name the caller sent, nested ones as dotted paths
(``variants.2.weight``, ``events.3.cost``)::

    from crucible import limits, validation as v

    errors = v.Errors()
    name = errors.check("name", v.text, data.get("name"), max_length=limits.NAME_CHARS, required=True)
    cost = errors.check("cost", v.money, data.get("cost"), places=6, high=limits.MAX_COST)
    for i, item in enumerate(items):
        errors.at("items", i).check("weight", v.number, item.get("weight"), low=0, high=1000)
    errors.raise_if_any()  # one ValidationError: {"name": [...], "items.2.weight": [...]}

A check is a plain function ``check(value, **rules) -> clean value`` that raises ``Invalid``
with a message for the person who sent the value. ``Errors.check`` returns None when the check
failed, so the caller can go on and find the next bad field. The API turns the raised
``ValidationError`` into the one error shape ``{code, message, fields}``.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from crucible import limits


class Invalid(ValueError):
    """A check refused a value; ``message`` is for the person who sent it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


MISSING = object()


class Errors:
    """Every bad field of one request (or of one item of a batch), by public name.

    ``at(*parts)`` gives a view that writes into the same collection under a prefix, for nested
    input. ``raise_if_any()`` raises one Django ``ValidationError`` naming all of them."""

    def __init__(self, *, _fields: dict[str, list[str]] | None = None, _prefix: str = ""):
        self.fields: dict[str, list[str]] = {} if _fields is None else _fields
        self.prefix = _prefix

    # --- collecting ---

    def name(self, field: str | int | None = None) -> str:
        """The public name of ``field`` under this collector's prefix."""
        if field is None or field == "":
            return self.prefix.rstrip(".") or "non_field_errors"
        return f"{self.prefix}{field}"

    def add(self, field: str | int | None, message: str) -> None:
        self.fields.setdefault(self.name(field), []).append(str(message))

    def at(self, *parts) -> Errors:
        """A view for a nested object: ``errors.at("variants", 2).add("weight", ...)`` names
        ``variants.2.weight``."""
        prefix = self.prefix + "".join(f"{part}." for part in parts)
        return Errors(_fields=self.fields, _prefix=prefix)

    def check(self, field: str | int | None, fn, *args, **kwargs):
        """``fn(*args, **kwargs)``; on ``Invalid`` the message is filed under ``field`` and None is
        returned. A Django ``ValidationError`` raised by ``fn`` is merged with its own field
        names (under this collector's prefix)."""
        try:
            return fn(*args, **kwargs)
        except Invalid as exc:
            self.add(field, exc.message)
        except ValidationError as exc:
            self.merge(exc, field=field)
        return None

    def merge(self, error, *, field: str | int | None = None) -> None:
        """Add the messages of a ``ValidationError`` (its field names under this prefix; a
        message without a field goes to ``field``), or of another ``Errors``, or of a dict
        ``{name: message or [messages]}``."""
        if isinstance(error, Errors):
            items = error.fields.items()
        elif isinstance(error, ValidationError):
            if hasattr(error, "error_dict"):
                items = error.message_dict.items()
            else:
                items = [(None, error.messages)]
        else:
            items = error.items()
        for name, messages in items:
            if isinstance(messages, (str, Invalid)):
                messages = [messages]
            target = field if name in (None, "non_field_errors", "__all__") else name
            for message in messages:
                self.add(target, getattr(message, "message", message))

    # --- reading ---

    def __bool__(self) -> bool:
        if not self.fields or not self.prefix:
            return bool(self.fields)
        prefix = self.prefix
        return any(name == prefix.rstrip(".") or name.startswith(prefix) for name in self.fields)

    def __contains__(self, field) -> bool:
        return self.name(field) in self.fields

    def as_dict(self) -> dict[str, list[str]]:
        return {name: list(messages) for name, messages in self.fields.items()}

    def first(self) -> tuple[str, str] | None:
        """(field, message) of the first error filed, or None."""
        for name, messages in self.fields.items():
            return name, messages[0]
        return None

    def raise_if_any(self) -> None:
        if self.fields:
            raise ValidationError({name: list(messages) for name, messages in self.fields.items()})


# --- typed checks ----------------------------------------------------------------------------


def _missing(value) -> bool:
    return value is None or value is MISSING


def text(
    value,
    *,
    max_length: int,
    required: bool = False,
    strip: bool = True,
    default: str = "",
    min_length: int = 0,
) -> str:
    """A string without NUL characters of at most ``max_length`` characters (after stripping
    surrounding white space when ``strip``). ``required``: not missing nor blank."""
    if _missing(value):
        if required:
            raise Invalid("This field is required.")
        return default
    if not isinstance(value, str):
        raise Invalid("Must be text.")
    if "\x00" in value:
        raise Invalid("Text cannot contain NUL characters.")
    if strip:
        value = value.strip()
    if required and not value.strip():
        raise Invalid("This field may not be blank.")
    if len(value) > max_length:
        raise Invalid(f"At most {max_length} characters.")
    if value and len(value) < min_length:
        raise Invalid(f"At least {min_length} characters.")
    return value


def whole(value, *, low: int | None = None, high: int | None = None, required: bool = False, default=None):
    """A whole number (JSON integer; a float with no fraction is accepted, true/false are not)
    within [low, high]."""
    if _missing(value):
        if required:
            raise Invalid("This field is required.")
        return default
    if isinstance(value, bool):
        raise Invalid("Must be a whole number.")
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise Invalid("Must be a whole number.")
        value = int(value)
    if not isinstance(value, int):
        raise Invalid("Must be a whole number.")
    _bounds(value, low, high)
    return value


def number(value, *, low: float | None = None, high: float | None = None, required: bool = False, default=None):
    """A finite number (JSON number; true/false and numeric text are not) within [low, high]."""
    if _missing(value):
        if required:
            raise Invalid("This field is required.")
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise Invalid("Must be a number.")
    try:
        value = float(value)
    except OverflowError:
        raise Invalid("Must be a finite number.") from None
    if not math.isfinite(value):
        raise Invalid("Must be a finite number.")
    _bounds(value, low, high)
    return value


def money(
    value,
    *,
    places: int = limits.COST_PLACES,
    low: Decimal | int = 0,
    high: Decimal | int = limits.MAX_COST,
    required: bool = False,
    default=None,
    allow_text: bool = True,
) -> Decimal:
    """An amount as a ``Decimal`` rounded to ``places`` (a JSON number, or its text when
    ``allow_text``; never true/false), finite, within [low, high]."""
    if _missing(value):
        if required:
            raise Invalid("This field is required.")
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise Invalid("Must be a number.")
    if isinstance(value, str) and not allow_text:
        raise Invalid("Must be a number.")
    if isinstance(value, str) and len(value) > 100:
        raise Invalid("Must be a number.")
    try:
        amount = Decimal(str(value).strip()) if isinstance(value, str) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Invalid("Must be a number.") from None
    if not amount.is_finite():
        raise Invalid("Must be a finite number.")
    _bounds(amount, low, high)
    try:
        return amount.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:  # more digits than a Decimal context holds
        raise Invalid("Must be a smaller number.") from None


def boolean(value, *, required: bool = True, default=None) -> bool:
    """true or false (not 1, "yes" or "on")."""
    if _missing(value):
        if required:
            raise Invalid("This field is required.")
        return default
    if not isinstance(value, bool):
        raise Invalid("Must be true or false.")
    return value


def choice(value, choices, *, required: bool = True, default=None):
    """One of ``choices`` (compared as given)."""
    if _missing(value):
        if required:
            raise Invalid("This field is required.")
        return default
    if not isinstance(value, str) or value not in choices:
        raise Invalid(f"One of: {', '.join(map(str, choices))}.")
    return value


def timestamp(value, *, required: bool = True, min_year: int = limits.MIN_YEAR, max_year: int = limits.MAX_YEAR):
    """An aware ``datetime`` in UTC from an ISO 8601 string with a time zone (or an aware
    ``datetime``), between the years ``min_year`` and ``max_year`` in UTC."""
    if _missing(value):
        if required:
            raise Invalid("This field is required.")
        return None
    if isinstance(value, str):
        if len(value) > 64 or "\x00" in value:
            raise Invalid("Not a valid ISO 8601 timestamp.")
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise Invalid("Not a valid ISO 8601 timestamp.") from None
    elif not isinstance(value, dt.datetime):
        raise Invalid("Must be an ISO 8601 timestamp string with a time zone.")
    if value.tzinfo is None or value.utcoffset() is None:
        raise Invalid("The timestamp needs a time zone (e.g. 'Z' or '+00:00').")
    try:
        value = value.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise Invalid(f"Must be between the years {min_year} and {max_year}.") from None
    if not min_year <= value.year <= max_year:
        raise Invalid(f"Must be between the years {min_year} and {max_year}.")
    return value


def _bounds(value, low, high) -> None:
    if low is not None and value < low:
        raise Invalid("Must not be negative." if low == 0 else f"Must be at least {_show(low)}.")
    if high is not None and value > high:
        raise Invalid(f"Must be at most {_show(high)}.")


def _show(bound) -> str:
    """A limit as a person reads it: 1000000, 0.5, 10000 (not 1e+06 nor 1E+4)."""
    if isinstance(bound, float) and bound.is_integer():
        bound = int(bound)
    if isinstance(bound, Decimal):
        bound = bound.normalize()
        return f"{bound:f}"
    return str(bound)
