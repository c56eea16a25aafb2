"""OpenAI's organization Costs and Usage APIs: billed dollars, and usage to price.

Calls ``GET /v1/organization/costs`` (dollars per UTC day by project and line item)
and ``GET /v1/organization/usage/completions`` (tokens per UTC day by model and
project). Both need an admin key (``sk-admin-…``), which only an organization owner
can create, with read access to usage; project keys are refused.

Costs are billed charges; amounts are JSON numbers in dollars, read as Decimal.
Usage becomes estimated charges priced from the price table, unpriced where the
table does not know the model. OpenAI's ``input_tokens`` includes the cached
input, so the cached part is taken out and stored as cache reads. Batch requests
are priced at standard rates; on days the Costs API covers, its billed figures,
which carry the batch discount, are what counts.
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

DEFAULT_BASE_URL = "https://api.openai.com"
COSTS_PATH = "/v1/organization/costs"
USAGE_PATH = "/v1/organization/usage/completions"
AUTH_HINT = (
    "an admin key (sk-admin-…) from an organization owner, with read access to usage"
)
PROVIDER = "OpenAI"
CATEGORY = "AI and Machine Learning"
COSTS_PAGE_DAYS = 180
USAGE_PAGE_DAYS = 31


class OpenAICollector(DailyReportCollector):
    """OpenAI API spend: the Costs API's bills and the Usage API's estimates."""

    type = "openai"
    title = "OpenAI API"
    account_label = "Project"
    default_base_url = DEFAULT_BASE_URL
    auth_hint = AUTH_HINT

    def headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"}

    def read(self, client: ApiClient, window: ReadWindow) -> list[Charge]:
        span = {
            "start_time": int(window.start.timestamp()),
            "end_time": int(window.end.timestamp()),
            "bucket_width": "1d",
        }
        costs = client.read_pages(
            COSTS_PATH,
            {
                **span,
                "group_by[]": ["project_id", "line_item"],
                "limit": COSTS_PAGE_DAYS,
            },
            cost_charges,
        )
        usage = client.read_pages(
            USAGE_PATH,
            {**span, "group_by[]": ["model", "project_id"], "limit": USAGE_PAGE_DAYS},
            self._usage_charges,
        )
        return costs + usage

    def _usage_charges(self, bucket: Any) -> list[Charge]:
        day = bucket_day(bucket)
        return [
            usage_charge(result, day, self.context.price)
            for result in bucket["results"]
        ]


def bucket_day(bucket: Any) -> dt.date:
    """The UTC day a daily bucket starts on (``start_time`` in Unix seconds)."""
    start_time = bucket["start_time"]
    if isinstance(start_time, bool) or not isinstance(start_time, int):
        raise TypeError(f"start_time {start_time!r} is not Unix seconds")
    return dt.datetime.fromtimestamp(start_time, dt.UTC).date()


def line_item_model(line_item: str) -> str | None:
    """The model of a line item shaped ``model, kind`` (``gpt-4o, input``); model
    names hold no spaces, which tells them from items such as tool calls."""
    model, comma, kind = line_item.rpartition(", ")
    if comma and model and kind and " " not in model:
        return model
    return None


def cost_charges(bucket: Any) -> list[Charge]:
    """A Costs API bucket's results as billed charges."""
    day = bucket_day(bucket)
    charges = []
    for result in bucket["results"]:
        amount = result["amount"]
        line_item = to_text(result.get("line_item"))
        project_id = to_text(result.get("project_id"))
        currency = to_text(amount["currency"])
        if currency is None:
            raise ValueError("an amount has no currency")
        charges.append(
            Charge(
                record_key=f"cost:{day.isoformat()}:{project_id or ''}:"
                f"{line_item or ''}",
                provider=PROVIDER,
                service=line_item or "OpenAI API",
                service_category=CATEGORY,
                model=line_item_model(line_item) if line_item else None,
                billed_cost=to_decimal(amount["value"]),
                currency=currency.upper(),
                charge_date=day,
                cost_basis="billed",
                account=project_id,
            )
        )
    return charges


def usage_charge(result: Any, day: dt.date, price: PriceTokens) -> Charge:
    """A Usage API result as a charge estimated from the price table, or unpriced
    (tokens kept, no cost) when the table does not know the model."""
    input_tokens = to_count(result.get("input_tokens"))
    cached = to_count(result.get("input_cached_tokens"))
    if cached > input_tokens:
        raise ValueError(
            f"input_cached_tokens ({cached}) exceeds input_tokens ({input_tokens})"
        )
    tokens = Tokens(
        input=input_tokens - cached,
        cache_read=cached,
        output=to_count(result.get("output_tokens")),
    )
    model = to_text(result.get("model"))
    project_id = to_text(result.get("project_id"))
    priced = price("openai", model, day, tokens, False) if model else None
    return usage_estimate(
        f"usage:{day.isoformat()}:{project_id or ''}:{model or ''}",
        PROVIDER,
        "OpenAI API",
        CATEGORY,
        model,
        day,
        tokens,
        priced,
        account=project_id,
    )
