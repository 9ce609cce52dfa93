import datetime as dt
from decimal import Decimal

import pytest

from observability.models import ModelPrice
from observability.pricing import PriceBook

pytestmark = pytest.mark.django_db


def price(pattern, inp, out, *, cached=None, reasoning=None, since="2025-01-01"):
    return ModelPrice.objects.create(
        pattern=pattern,
        input_per_million=inp,
        output_per_million=out,
        cached_input_per_million=cached if cached is not None else inp,
        reasoning_per_million=reasoning if reasoning is not None else out,
        effective_from=since,
    )


def test_most_specific_pattern_wins_and_names_are_case_insensitive():
    ModelPrice.objects.all().delete()
    price("acme-*", "1", "1")
    price("acme-large*", "5", "5")
    price("acme-large-2", "9", "9")
    book = PriceBook.load()
    day = dt.date(2026, 1, 1)
    assert book.find("ACME-Large-2", day).pattern == "acme-large-2"
    assert book.find("acme-large-3", day).pattern == "acme-large*"
    assert book.find("acme-small", day).pattern == "acme-*"
    assert book.find("other", day) is None


def test_effective_dates():
    ModelPrice.objects.all().delete()
    price("m*", "1", "2", since="2025-01-01")
    price("m*", "3", "4", since="2026-06-01")
    book = PriceBook.load()
    assert book.find("m1", dt.date(2026, 5, 31)).input == Decimal("1")
    assert book.find("m1", dt.date(2026, 6, 1)).input == Decimal("3")
    assert book.find("m1", dt.date(2024, 12, 31)) is None  # no price in effect yet: unpriced


def test_every_token_kind_is_priced():
    ModelPrice.objects.all().delete()
    price("r1", "2", "8", cached="0.5", reasoning="16")
    cost = PriceBook.load().cost(
        model="r1",
        on=dt.date(2026, 1, 1),
        input_tokens=1_000_000,
        cached_input_tokens=200_000,
        output_tokens=500_000,
        reasoning_tokens=100_000,
    )
    # 0.8M x 2 + 0.2M x 0.5 + 0.4M x 8 + 0.1M x 16
    assert cost == Decimal("1.6") + Decimal("0.1") + Decimal("3.2") + Decimal("1.6")


def test_seeded_prices_cover_common_models():
    book = PriceBook.load()
    for model in ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash", "o3", "gpt-4.1-nano"]:
        assert book.find(model, dt.date(2026, 1, 1)) is not None, model
    assert book.find("gpt-4o-mini-2024-07-18", dt.date(2026, 1, 1)).pattern == "gpt-4o-mini*"
