"""Anthropic's Admin API cost report and usage report: billed dollars, and usage to
price.

Calls ``GET /v1/organizations/cost_report`` (dollars per UTC day by workspace and
description) and ``GET /v1/organizations/usage_report/messages`` (tokens per UTC
day by model, workspace and context window), with an Admin API key
(``sk-ant-admin…``), which an organization admin creates in the Console; ordinary
API keys are refused. Priority Tier costs never appear in the cost report.

Cost report amounts are decimal strings in cents (``"412.5"`` is $4.125), read as
``Decimal`` and divided by 100. Usage becomes estimated charges priced from the
price table, unpriced where the table does not know the model. Anthropic's
``uncached_input_tokens`` already excludes cache reads and writes; 5-minute and
1-hour cache writes are priced apart, and requests in the 200k-1M context window at
the long-context rates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from collectors.base import Charge, PriceTokens, Tokens
from collectors.http import (
    ApiClient,
    DailyReportCollector,
    ReadWindow,
    to_count,
    to_decimal,
    to_text,
    usage_estimate,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
COST_PATH = "/v1/organizations/cost_report"
USAGE_PATH = "/v1/organizations/usage_report/messages"
AUTH_HINT = "an Admin API key (sk-ant-admin…), which an organization admin creates"
PROVIDER = "Anthropic"
CATEGORY = "AI and Machine Learning"
PAGE_DAYS = 31
LONG_CONTEXT_WINDOW = "200k-1M"
COST_KEY_FIELDS = (
    "workspace_id",
    "description",
    "model",
    "token_type",
    "cost_type",
    "service_tier",
    "context_window",
    "inference_geo",
)
"""A cost result's dimensions besides its day: together they tell results apart."""


class AnthropicCollector(DailyReportCollector):
    """Anthropic API spend: the cost report's bills and the usage report's estimates."""

    type = "anthropic"
    title = "Anthropic API"
    account_label = "Workspace"
    caveat = (
        "Anthropic's cost report leaves out Priority Tier costs, so these figures "
        "do too."
    )
    default_base_url = DEFAULT_BASE_URL
    auth_hint = AUTH_HINT

    def headers(self, key: str) -> dict[str, str]:
        return {"x-api-key": key, "anthropic-version": API_VERSION}

    def read(self, client: ApiClient, window: ReadWindow) -> list[Charge]:
        span = {
            "starting_at": rfc3339(window.start),
            "ending_at": rfc3339(window.end),
            "bucket_width": "1d",
            "limit": PAGE_DAYS,
        }
        costs = client.read_pages(
            COST_PATH,
            {**span, "group_by[]": ["workspace_id", "description"]},
            cost_charges,
        )
        usage = client.read_pages(
            USAGE_PATH,
            {**span, "group_by[]": ["model", "workspace_id", "context_window"]},
            self._usage_charges,
        )
        return costs + usage

    def _usage_charges(self, bucket: Any) -> list[Charge]:
        day = bucket_day(bucket)
        return [
            usage_charge(result, day, self.context.price)
            for result in bucket["results"]
        ]


def rfc3339(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def bucket_day(bucket: Any) -> dt.date:
    """The UTC day a daily bucket starts on (``starting_at``, RFC 3339)."""
    starting_at = bucket["starting_at"]
    if not isinstance(starting_at, str):
        raise TypeError(f"starting_at {starting_at!r} is not an RFC 3339 time")
    start = dt.datetime.fromisoformat(starting_at)
    if start.tzinfo is None:
        raise ValueError(f"starting_at {starting_at!r} has no UTC offset")
    return start.astimezone(dt.UTC).date()


def cost_charges(bucket: Any) -> list[Charge]:
    """A cost report bucket's results as billed charges."""
    day = bucket_day(bucket)
    charges = []
    for result in bucket["results"]:
        dimensions = {name: to_text(result.get(name)) for name in COST_KEY_FIELDS}
        currency = to_text(result.get("currency")) or "USD"
        key = ":".join(dimensions[name] or "" for name in COST_KEY_FIELDS)
        charges.append(
            Charge(
                record_key=f"cost:{day.isoformat()}:{key}",
                provider=PROVIDER,
                service=dimensions["description"]
                or dimensions["model"]
                or "Anthropic API",
                service_category=CATEGORY,
                model=dimensions["model"],
                billed_cost=to_decimal(result["amount"]) / 100,
                currency=currency.upper(),
                charge_date=day,
                cost_basis="billed",
                account=dimensions["workspace_id"],
            )
        )
    return charges


def cache_writes(result: Any) -> tuple[int, int]:
    """5-minute and 1-hour cache write tokens, from the nested ``cache_creation``
    object or its flattened form."""
    nested = result.get("cache_creation")
    if nested is None:
        return (
            to_count(result.get("cache_creation_5m_input_tokens")),
            to_count(result.get("cache_creation_1h_input_tokens")),
        )
    if not isinstance(nested, dict):
        raise TypeError("cache_creation is not an object")
    return (
        to_count(nested.get("ephemeral_5m_input_tokens")),
        to_count(nested.get("ephemeral_1h_input_tokens")),
    )


def usage_charge(result: Any, day: dt.date, price: PriceTokens) -> Charge:
    """A usage report result as a charge estimated from the price table, or
    unpriced (tokens kept, no cost) when the table does not know the model."""
    write_5m, write_1h = cache_writes(result)
    tokens = Tokens(
        input=to_count(result.get("uncached_input_tokens")),
        cache_read=to_count(result.get("cache_read_input_tokens")),
        cache_write_5m=write_5m,
        cache_write_1h=write_1h,
        output=to_count(result.get("output_tokens")),
    )
    model = to_text(result.get("model"))
    workspace_id = to_text(result.get("workspace_id"))
    context_window = to_text(result.get("context_window"))
    long_context = context_window == LONG_CONTEXT_WINDOW
    priced = price("anthropic", model, day, tokens, long_context) if model else None
    return usage_estimate(
        f"usage:{day.isoformat()}:{workspace_id or ''}:{model or ''}:"
        f"{context_window or ''}",
        PROVIDER,
        "Anthropic API",
        CATEGORY,
        model,
        day,
        tokens,
        priced,
        account=workspace_id,
    )
