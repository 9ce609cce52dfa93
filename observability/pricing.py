"""Cost of an execution from ``ModelPrice`` rows.

Token counts follow the OpenTelemetry GenAI conventions: ``input_tokens`` includes cached input
tokens and ``output_tokens`` includes reasoning tokens, so

    cost = (input - cached) * input_price + cached * cached_price
         + (output - reasoning) * output_price + reasoning * reasoning_price   (prices per 1M)

A model that matches no price gives ``None`` (unpriced), never zero.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass
from decimal import Decimal

MILLION = Decimal(1_000_000)
QUANT = Decimal("0.00000001")


@dataclass(frozen=True)
class Price:
    id: int
    pattern: str
    regex: re.Pattern
    specificity: int
    effective_from: dt.date
    input: Decimal
    cached_input: Decimal
    output: Decimal
    reasoning: Decimal


def specificity(pattern: str) -> tuple[int, int]:
    """Exact names first, then the pattern with the most literal characters."""
    wild = any(ch in pattern for ch in "*?[")
    literal = len(pattern.replace("*", "").replace("?", ""))
    return (0 if wild else 1, literal)


class PriceBook:
    """All prices, loaded once (one query) and matched in memory with a per-book cache."""

    def __init__(self, rows):
        prices = []
        for row in rows:
            prices.append(
                Price(
                    id=row.pk,
                    pattern=row.pattern,
                    regex=re.compile(fnmatch.translate(row.pattern.lower())),
                    specificity=specificity(row.pattern),
                    effective_from=row.effective_from,
                    input=row.input_per_million,
                    cached_input=row.cached_input_per_million,
                    output=row.output_per_million,
                    reasoning=row.reasoning_per_million,
                )
            )
        # Most specific first; for the same pattern the latest date first.
        prices.sort(key=lambda p: (p.specificity, p.effective_from), reverse=True)
        self.prices = prices
        self._cache: dict[tuple[str, dt.date], Price | None] = {}

    @classmethod
    def load(cls) -> PriceBook:
        from observability.models import ModelPrice

        return cls(ModelPrice.objects.all())

    def find(self, model: str, on: dt.date) -> Price | None:
        key = (model, on)
        if key in self._cache:
            return self._cache[key]
        name = model.lower()
        found = None
        for price in self.prices:  # most specific in-effect pattern, then latest date
            if price.effective_from <= on and price.regex.match(name):
                found = price
                break
        self._cache[key] = found
        return found

    def cost(
        self,
        *,
        model: str,
        on: dt.date,
        input_tokens: int,
        output_tokens: int,
        cached_input_tokens: int = 0,
        reasoning_tokens: int = 0,
    ) -> Decimal | None:
        if not model:
            return None
        price = self.find(model, on)
        if price is None:
            return None
        total = (
            (input_tokens - cached_input_tokens) * price.input
            + cached_input_tokens * price.cached_input
            + (output_tokens - reasoning_tokens) * price.output
            + reasoning_tokens * price.reasoning
        ) / MILLION
        return total.quantize(QUANT)


# Seeded by migration 0002 (USD per million tokens: input, cached input, output, reasoning).
# List prices as published by the providers; operators correct and extend them in the admin.
DEFAULT_PRICES = [
    ("gpt-4o*", "2.50", "1.25", "10.00", "10.00"),
    ("gpt-4o-mini*", "0.15", "0.075", "0.60", "0.60"),
    ("gpt-4.1*", "2.00", "0.50", "8.00", "8.00"),
    ("gpt-4.1-mini*", "0.40", "0.10", "1.60", "1.60"),
    ("gpt-4.1-nano*", "0.10", "0.025", "0.40", "0.40"),
    ("gpt-5*", "1.25", "0.125", "10.00", "10.00"),
    ("gpt-5-mini*", "0.25", "0.025", "2.00", "2.00"),
    ("gpt-5-nano*", "0.05", "0.005", "0.40", "0.40"),
    ("o3*", "2.00", "0.50", "8.00", "8.00"),
    ("o3-mini*", "1.10", "0.55", "4.40", "4.40"),
    ("o4-mini*", "1.10", "0.275", "4.40", "4.40"),
    ("claude-opus-4*", "15.00", "1.50", "75.00", "75.00"),
    ("claude-sonnet-4*", "3.00", "0.30", "15.00", "15.00"),
    ("claude-3-7-sonnet*", "3.00", "0.30", "15.00", "15.00"),
    ("claude-3-5-sonnet*", "3.00", "0.30", "15.00", "15.00"),
    ("claude-haiku-4*", "1.00", "0.10", "5.00", "5.00"),
    ("claude-3-5-haiku*", "0.80", "0.08", "4.00", "4.00"),
    ("gemini-2.5-pro*", "1.25", "0.31", "10.00", "10.00"),
    ("gemini-2.5-flash*", "0.30", "0.075", "2.50", "2.50"),
    ("gemini-2.0-flash*", "0.10", "0.025", "0.40", "0.40"),
    ("mistral-large*", "2.00", "2.00", "6.00", "6.00"),
    ("mistral-small*", "0.10", "0.10", "0.30", "0.30"),
    ("llama-3.3-70b*", "0.60", "0.60", "0.60", "0.60"),
    ("deepseek-chat*", "0.27", "0.07", "1.10", "1.10"),
    ("deepseek-reasoner*", "0.55", "0.14", "2.19", "2.19"),
]
DEFAULT_EFFECTIVE_FROM = dt.date(2025, 1, 1)


def seed_default_prices(model=None) -> int:
    """Create the default prices that are missing (``model``: the ModelPrice class, or the
    migration's historical one). Returns how many were created."""
    if model is None:
        from observability.models import ModelPrice as model
    created = 0
    for pattern, inp, cached, out, reasoning in DEFAULT_PRICES:
        _, was_created = model.objects.get_or_create(
            pattern=pattern,
            effective_from=DEFAULT_EFFECTIVE_FROM,
            defaults={
                "input_per_million": inp,
                "cached_input_per_million": cached,
                "output_per_million": out,
                "reasoning_per_million": reasoning,
                "notes": "Seeded list price",
            },
        )
        created += was_created
    return created
