"""How numbers are shown to people: one rule for each kind of figure, used by the template filters
(``{% load crucible_format %}``) and by Python code that builds text (home cards, chart hovers).

- ``EMPTY`` ("—") stands for every missing figure (None, "", NaN, infinity).
- ``number``: thousands separators, ``digits`` decimals (0 by default): 12,345 and 1,234.5.
- ``duration`` (milliseconds): whole ms under 1 s ("<1 ms" for less than half a millisecond),
  then seconds, minutes and hours with one decimal: 850 ms, 2.4 s, 3.1 min, 1.5 h.
- ``money`` (USD): two decimals from $1 up ($1,234.57), four decimals below ($0.0123); an amount
  above zero that rounds to nothing is "<$0.0001".
- ``percent``: a share or a rate (0.4321) with one decimal: 43.2%.
- ``percent_change``: a relative change ((new - old) / old), signed: +12.5%.
- ``points``: a difference of two percentages, in percentage points, signed: +4.1 pts. "pts" is
  used for nothing else.
- ``signed``: a difference of plain numbers, signed: +1.5.
"""

from __future__ import annotations

import json
import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

EMPTY = "—"
_SMALLEST_CENT_FRACTION = Decimal("0.0001")


def _number_or_none(value) -> float | None:
    """A finite float, or None for a missing figure. Text that is not a number raises ValueError."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        value = int(value)
    number = float(value)
    return number if math.isfinite(number) else None


def _shown(value, render) -> str:
    try:
        number = _number_or_none(value)
    except (TypeError, ValueError):
        return str(value)
    return EMPTY if number is None else render(number)


def _fixed(number: float, digits: int, *, sign: bool = False) -> str:
    text = f"{number:{'+' if sign else ''},.{int(digits)}f}"
    # "-0" and "+0.0" say a direction that rounding erased (a text of no digit but zeros is zero).
    if not text.strip("+-0.,"):
        text = f"{0:,.{int(digits)}f}"
    return text


def number(value, digits=0) -> str:
    return _shown(value, lambda n: _fixed(n, digits))


def signed(value, digits=1) -> str:
    return _shown(value, lambda n: _fixed(n, digits, sign=True))


def percent(value, digits=1) -> str:
    return _shown(value, lambda n: f"{_fixed(n * 100, digits)}%")


def percent_change(value, digits=1) -> str:
    return _shown(value, lambda n: f"{_fixed(n * 100, digits, sign=True)}%")


def points(value, digits=1) -> str:
    return _shown(value, lambda n: f"{_fixed(n * 100, digits, sign=True)} pts")


_DURATION_UNITS = [  # (unit, milliseconds in one unit, the next unit starts at this many units)
    ("s", 1000.0, 60),
    ("min", 60_000.0, 60),
    ("h", 3_600_000.0, None),
]


def _duration(ms: float) -> str:
    if 0 < abs(ms) < 0.5:
        return "<1 ms"  # not "0 ms": something took time
    if round(abs(ms)) < 1000:
        return f"{_fixed(ms, 0)} ms"
    for unit, size, limit in _DURATION_UNITS:
        amount = round(ms / size, 1)
        if limit is None or abs(amount) < limit:
            return f"{_fixed(amount, 1)} {unit}"
    raise AssertionError("unreachable: the last unit has no limit")


def duration(value) -> str:
    """Milliseconds for people."""
    return _shown(value, _duration)


def money(value) -> str:
    """US dollars for people (exact Decimal arithmetic, so 0.125 shows as $0.1250)."""
    if value is None or value == "":
        return EMPTY
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    if not amount.is_finite():
        return EMPTY
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount == 0:
        return "$0.00"
    small = amount.quantize(_SMALLEST_CENT_FRACTION, rounding=ROUND_HALF_UP)
    if small == 0:
        return f"<{sign}$0.0001"
    if small < 1:
        return f"{sign}${small:,.4f}"
    return f"{sign}${amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


def or_empty(value):
    """Text or EMPTY: for names, versions and labels that may be missing."""
    if value is None or value == "":
        return EMPTY
    return value


def pretty_json(value) -> str:
    """A JSON document (schemas, model hints) as people read JSON: double quotes, indented."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)
