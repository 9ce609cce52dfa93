"""The one rule for money (USD) in the API: a JSON **string** holding a decimal number with
``PLACES`` (8) decimal places, e.g. ``"0.01250000"``. Stored amounts and their sums are exact (no
column keeps more than 8 places); an average (per execution, per build, per result) is the exact
quotient rounded half-even to 8 places. Inputs accept a number or a string.

Selectors keep money as ``Decimal`` (never float) and serializers declare it with
``crucible.api.fields.MoneyField``; pages show it with the ``money`` filter.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

PLACES = 8
QUANTUM = Decimal(1).scaleb(-PLACES)


def money(value) -> Decimal:
    """An amount as an exact Decimal (None and "" are zero)."""
    if value is None or value == "":
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(str(value))


def money_text(value) -> str | None:
    """The API's text of an amount: ``"0.01250000"`` (None stays None)."""
    if value is None:
        return None
    return str(money(value).quantize(QUANTUM, rounding=ROUND_HALF_EVEN))


def money_average(total, count: int) -> Decimal | None:
    """``total / count`` rounded half-even to 8 places; None when there is nothing to divide by."""
    if not count:
        return None
    return (money(total) / count).quantize(QUANTUM, rounding=ROUND_HALF_EVEN)
