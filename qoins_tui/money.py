"""How money, percentages and token counts read on screen; only here is rounding."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "KRW": "₩"}
WHOLE_UNITS = frozenset({"JPY", "KRW"})
"""Currencies without minor units, shown without decimals."""


def format_money(amount: Decimal, currency: str) -> str:
    """``$1,234.56``, ``-€3.20``, ``¥3,000``, ``CHF 12.00``: rounded half up."""
    places = Decimal(1) if currency in WHOLE_UNITS else Decimal("0.01")
    rounded = amount.quantize(places, rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)
    digits = f"{abs(rounded):,.{0 if currency in WHOLE_UNITS else 2}f}"
    symbol = SYMBOLS.get(currency)
    text = f"{symbol}{digits}" if symbol else f"{currency} {digits}"
    return f"-{text}" if rounded < 0 else text


def format_percent(value: Decimal | None) -> str:
    """Whole percent, rounded half up; an en dash when there is nothing to compare."""
    if value is None:
        return "–"
    return f"{value.quantize(Decimal(1), rounding=ROUND_HALF_UP)}%"


def format_change(value: Decimal | None) -> str:
    """``↗ +15%``, ``↘ -8%`` or ``→ 0%`` against the previous month."""
    if value is None:
        return "no earlier month"
    whole = value.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    arrow = "↗" if whole > 0 else "↘" if whole < 0 else "→"
    sign = "+" if whole > 0 else ""
    return f"{arrow} {sign}{whole}%"


def format_tokens(count: int) -> str:
    """``950``, ``12.3K``, ``1.2M``, ``3.4B``."""
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if abs(count) >= size:
            return f"{Decimal(count) / size:.1f}{suffix}"
    return str(count)
