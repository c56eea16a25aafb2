"""Token prices: the config's per-model overrides first, then genai-prices, offline.

Each distinct (provider, model, day) is looked up once and handed to the store as
complete :class:`~qoins_tui.store.Rates`; the store prices every row in SQL. A model
neither knows stays unpriced: its tokens count, its cost is never $0. Names match
exactly or through an explicit alias; no prefix or fuzzy match, because ``-mini``
and ``-lite`` are different products.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Mapping
from decimal import Decimal
from functools import cache

from collectors.base import Price, Tokens
from qoins_tui.config import PriceOverride
from qoins_tui.store import RATE_FIELDS, Rates

logger = logging.getLogger(__name__)

_GENAI_KEYS = {
    "input": "input_mtok",
    "output": "output_mtok",
    "cache_read": "cache_read_mtok",
    "cache_write_5m": "cache_write_mtok",
    "cache_write_1h": "cache_write_1h_mtok",
}


def complete_rates(
    given: Mapping[str, Decimal | None],
    threshold: int | None,
    tier_given: Mapping[str, Decimal | None],
    version: str,
) -> Rates | None:
    """Fill the kinds a table leaves out the way providers bill them.

    A missing cache-read or 5-minute cache-write rate is the input rate (no cache
    discount), a missing 1-hour rate the 5-minute one. Above the threshold a kind
    without its own tier rate follows the same rule inside the tier.
    """
    if given.get("input") is None or given.get("output") is None:
        return None
    base = _fill(given)
    if threshold is None:
        return Rates(base=base, version=version)
    tier_filled: dict[str, Decimal | None] = {}
    for kind in RATE_FIELDS:
        value = tier_given.get(kind)
        if value is None and given.get(kind) is not None:
            value = base[kind]
        tier_filled[kind] = value
    if tier_filled["input"] is None:
        tier_filled["input"] = base["input"]
    if tier_filled["output"] is None:
        tier_filled["output"] = base["output"]
    return Rates(
        base=base, threshold=threshold, tier=_fill(tier_filled), version=version
    )


def _fill(rates: Mapping[str, Decimal | None]) -> dict[str, Decimal]:
    input_rate = rates["input"]
    assert input_rate is not None
    output_rate = rates["output"]
    assert output_rate is not None
    cache_read = rates.get("cache_read")
    write_5m = rates.get("cache_write_5m")
    write_1h = rates.get("cache_write_1h")
    write_5m = input_rate if write_5m is None else write_5m
    return {
        "input": input_rate,
        "output": output_rate,
        "cache_read": input_rate if cache_read is None else cache_read,
        "cache_write_5m": write_5m,
        "cache_write_1h": write_5m if write_1h is None else write_1h,
    }


class PriceBook:
    """Looks up rates for (provider, model, day): overrides, then genai-prices."""

    def __init__(self, overrides: Iterable[PriceOverride] = ()) -> None:
        self._overrides: dict[str, list[PriceOverride]] = {}
        for override in overrides:
            for name in (override.model, *override.aliases):
                self._overrides.setdefault(name.lower(), []).append(override)
        self._cache: dict[tuple[str, str, dt.date], Rates | None] = {}

    def __call__(self, provider: str, model: str, day: dt.date) -> Rates | None:
        key = (provider, model, day)
        if key not in self._cache:
            self._cache[key] = self._lookup(provider, model, day)
        return self._cache[key]

    def price_tokens(
        self,
        provider: str,
        model: str,
        day: dt.date,
        tokens: Tokens,
        long_context: bool,
    ) -> Price | None:
        """Tokens' cost in USD for record sources: an aggregate of requests (a day's
        usage report) cannot be judged against the per-request tier threshold, so
        the source says whether its requests were past it."""
        rates = self(provider, model, day)
        if rates is None:
            return None
        table = rates.tier if long_context and rates.tier else rates.base
        cost = sum(
            (Decimal(getattr(tokens, kind)) * table[kind] for kind in RATE_FIELDS),
            Decimal(0),
        )
        return Price(cost / 1_000_000, rates.version)

    def _lookup(self, provider: str, model: str, day: dt.date) -> Rates | None:
        override = self._override(provider, model)
        if override is not None:
            return _override_rates(override)
        return _bundled_rates(provider.lower(), model.lower(), day)

    def _override(self, provider: str, model: str) -> PriceOverride | None:
        candidates = self._overrides.get(model.lower(), [])
        for override in candidates:
            if override.provider is None or override.provider == provider.lower():
                return override
        return None


def _override_rates(override: PriceOverride) -> Rates | None:
    given = {kind: getattr(override, kind) for kind in RATE_FIELDS}
    digest = hashlib.sha256(repr(sorted(given.items())).encode()).hexdigest()[:8]
    return complete_rates(
        given, override.tier_threshold, override.tier, f"config override {digest}"
    )


@cache
def _bundled_rates(provider: str, model: str, day: dt.date) -> Rates | None:
    from genai_prices import __version__ as genai_version
    from genai_prices.data_snapshot import get_snapshot
    from genai_prices.types import TieredPrices

    try:
        _, info = get_snapshot().find_provider_model(
            model, None, provider or None, None
        )
    except LookupError:
        logger.info("no price for model %s of provider %s", model, provider)
        return None
    moment = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    prices = info.get_prices(moment)
    given: dict[str, Decimal | None] = {}
    tier: dict[str, Decimal | None] = {}
    threshold = None
    for kind, key in _GENAI_KEYS.items():
        value = getattr(prices, key, None)
        if isinstance(value, TieredPrices):
            given[kind] = value.base
            if value.tiers:
                first = value.tiers[0]
                threshold = (
                    first.start if threshold is None else min(threshold, first.start)
                )
                tier[kind] = first.price
        else:
            given[kind] = value
    return complete_rates(
        given, threshold, tier, f"genai-prices {genai_version} ({info.id})"
    )
