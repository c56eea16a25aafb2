"""Pricing tokens for record sources: usage reports give tokens, not money."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from collectors.base import Tokens
from qoins_tui.config import PriceOverride
from qoins_tui.pricing import PriceBook

DAY = dt.date(2026, 11, 2)
MODEL = PriceOverride(
    model="house-model",
    input=Decimal(3),
    output=Decimal(15),
    cache_read=Decimal("0.3"),
    cache_write_5m=Decimal("3.75"),
    cache_write_1h=Decimal(6),
    tier_threshold=200_000,
    tier={"input": Decimal(6), "output": Decimal("22.5")},
)
USAGE = Tokens(
    input=1000, cache_read=2000, cache_write_5m=400, cache_write_1h=100, output=500
)


def test_tokens_are_priced_per_kind_at_base_rates() -> None:
    book = PriceBook([MODEL])

    price = book.price_tokens("anthropic", "house-model", DAY, USAGE, False)

    # 1000×3 + 2000×0.3 + 400×3.75 + 100×6 + 500×15 = 3000 + 600 + 1500 + 600
    # + 7500 = 13,200 dollars per million tokens → $0.0132.
    assert price is not None
    assert price.cost == Decimal("0.0132")
    assert price.version.startswith("config override ")


def test_long_context_aggregates_take_the_tier_rates() -> None:
    book = PriceBook([MODEL])

    price = book.price_tokens("anthropic", "house-model", DAY, USAGE, True)

    # Tier: input 6 and output 22.5; the cache kinds have no tier rate of their
    # own and keep their base rates (complete_rates):
    # 1000×6 + 2000×0.3 + 400×3.75 + 100×6 + 500×22.5 = 6000 + 600 + 1500 + 600
    # + 11250 = 19,950 → $0.01995.
    assert price is not None
    assert price.cost == Decimal("0.01995")


def test_a_model_without_a_price_is_none_not_zero() -> None:
    book = PriceBook([MODEL])

    assert book.price_tokens("anthropic", "house-model-mini", DAY, USAGE, False) is None
