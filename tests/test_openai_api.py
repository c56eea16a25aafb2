"""The OpenAI collector against mock Costs and Usage APIs in their real shapes.

Rates are set by hand in :func:`price` (USD per million tokens: gpt-x-mini input
1.00, cache read 0.10, output 4.00), so each expected dollar figure is worked out in
a comment. Unix times: 2026-01-01 00:00 UTC is 1767225600; a day is 86400 s.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx
import pytest

from collectors import COLLECTOR_TYPES, PLANNED_TYPES
from collectors.base import (
    CollectorError,
    Price,
    RecordBatch,
    Tokens,
)
from collectors.http import ApiAuthError, ApiFormatError
from collectors.openai_api import OpenAICollector, line_item_model
from qoins_tui.refresh import run_refresh
from qoins_tui.store import MonthQuery, Store
from tests.api_mocks import PagedApi, Pages, by_key, run_collector
from tests.conftest import make_settings
from tests.keyrings import MemoryKeyring, use_keyring

KEY = "sk-admin-T3stOnlyKeyForQoins"
JAN_1 = 1767225600
DAY = 86400
NOW = dt.datetime(2026, 1, 3, 12, 0, tzinfo=dt.UTC)
RATES = {"gpt-x-mini": (Decimal("1.00"), Decimal("0.10"), Decimal("4.00"))}


def price(
    provider: str, model: str, day: dt.date, tokens: Tokens, long_context: bool
) -> Price | None:
    rates = RATES.get(model) if provider == "openai" else None
    if rates is None:
        return None
    per_input, per_cache_read, per_output = rates
    cost = (
        tokens.input * per_input
        + tokens.cache_read * per_cache_read
        + tokens.output * per_output
    ) / 1_000_000
    return Price(cost, "hand rates")


def wire(body: Any) -> bytes:
    """JSON text with each Decimal written as a plain number, as the API sends
    dollar amounts."""
    text = json.dumps(body, default=lambda value: f"@{value}@")
    return re.sub(r'"@([-+0-9.eE]+)@"', r"\1", text).encode()


def bucket(day: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    start = JAN_1 + day * DAY
    return {
        "object": "bucket",
        "start_time": start,
        "end_time": start + DAY,
        "results": results,
    }


def cost(value: str, line_item: str | None, project: str | None) -> dict[str, Any]:
    return {
        "object": "organization.costs.result",
        "amount": {"value": Decimal(value), "currency": "usd"},
        "line_item": line_item,
        "project_id": project,
    }


def usage(model: str, input_tokens: int, cached: int, output: int) -> dict[str, Any]:
    return {
        "object": "organization.usage.completions.result",
        "input_tokens": input_tokens,
        "input_cached_tokens": cached,
        "output_tokens": output,
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        "num_model_requests": 14,
        "project_id": "proj_demo1",
        "user_id": None,
        "api_key_id": None,
        "model": model,
        "batch": None,
    }


def page(data: list[Any], cursor: str | None = None) -> dict[str, Any]:
    return {
        "object": "page",
        "data": data,
        "has_more": cursor is not None,
        "next_page": cursor,
    }


COST_PAGES = {
    None: page(
        [
            bucket(
                0,
                [
                    cost("3.42", "gpt-x, input", "proj_demo1"),
                    cost("1.08", "gpt-x, output", "proj_demo1"),
                ],
            )
        ],
        cursor="costs_2",
    ),
    "costs_2": page([bucket(1, [cost("0.50", "web search tool calls", None)])]),
}
USAGE_PAGES = {
    None: page([bucket(0, [usage("gpt-x-mini", 12000, 8000, 900)])], cursor="use_2"),
    "use_2": page([bucket(1, [usage("gpt-unknown", 1000, 0, 100)])]),
}


class MockOpenAI(PagedApi):
    """The Costs and the Usage API, answering dollar amounts as JSON numbers."""

    def __init__(self, costs: Pages = COST_PAGES, usages: Pages = USAGE_PAGES) -> None:
        super().__init__(
            {
                "/v1/organization/costs": costs,
                "/v1/organization/usage/completions": usages,
            },
            wire,
        )


def collect(
    api: Any,
    *,
    settings: Mapping[str, Any] | None = None,
    state: Mapping[str, str] | None = None,
    now: dt.datetime = NOW,
    secrets: Mapping[str, str] | None = None,
) -> RecordBatch:
    return run_collector(
        OpenAICollector,
        api,
        key=KEY,
        price=price,
        settings=settings,
        state=state,
        now=now,
        secrets=secrets,
    )


def test_costs_from_every_page_are_billed_charges() -> None:
    batch = collect(MockOpenAI())

    billed = [c for c in batch.charges if c.cost_basis == "billed"]
    # 3.42 + 1.08 on Jan 1, 0.50 on Jan 2: 5.00 in all.
    assert sum(c.billed_cost or 0 for c in billed) == Decimal("5.00")
    charges = by_key(batch)
    input_cost = charges["cost:2026-01-01:proj_demo1:gpt-x, input"]
    assert input_cost.billed_cost == Decimal("3.42")
    assert input_cost.currency == "USD"
    assert input_cost.provider == "OpenAI"
    assert input_cost.service == "gpt-x, input"
    assert input_cost.model == "gpt-x"
    assert input_cost.account == "proj_demo1"
    assert input_cost.charge_date == dt.date(2026, 1, 1)
    assert input_cost.period_start is None
    tool = charges["cost:2026-01-02::web search tool calls"]
    assert tool.model is None
    assert tool.account is None
    assert tool.charge_date == dt.date(2026, 1, 2)


def test_usage_takes_cached_input_out_of_input_and_prices_it() -> None:
    charges = by_key(collect(MockOpenAI()))

    mini = charges["usage:2026-01-01:proj_demo1:gpt-x-mini"]
    # 12,000 input of which 8,000 cached: 4,000 uncached.
    assert mini.input_tokens == 4000
    assert mini.cache_read_tokens == 8000
    assert mini.output_tokens == 900
    assert mini.quantity == Decimal(12900)
    assert mini.unit == "tokens"
    # 4,000 × 1.00 + 8,000 × 0.10 + 900 × 4.00 = 4,000 + 800 + 3,600 = 8,400 per
    # million: $0.0084.
    assert mini.billed_cost == Decimal("0.0084")
    assert mini.cost_basis == "estimated"
    assert mini.price_version == "hand rates"
    assert mini.service == "gpt-x-mini"
    assert mini.charge_date == dt.date(2026, 1, 1)


def test_an_unknown_model_is_unpriced_with_its_tokens_kept() -> None:
    charges = by_key(collect(MockOpenAI()))

    unknown = charges["usage:2026-01-02:proj_demo1:gpt-unknown"]
    assert unknown.cost_basis == "unpriced"
    assert unknown.billed_cost is None
    assert unknown.price_version is None
    assert (unknown.input_tokens, unknown.cache_read_tokens) == (1000, 0)
    assert unknown.output_tokens == 100


def test_requests_carry_the_key_and_the_documented_parameters() -> None:
    api = MockOpenAI()

    batch = collect(api)

    assert len(api.requests) == 4
    assert all(r.headers["Authorization"] == f"Bearer {KEY}" for r in api.requests)
    costs = api.first("/v1/organization/costs")
    assert costs.url.host == "api.openai.com"
    assert costs.url.params["start_time"] == str(JAN_1)
    assert costs.url.params["end_time"] == str(int(NOW.timestamp()))
    assert costs.url.params["bucket_width"] == "1d"
    assert costs.url.params["limit"] == "180"
    assert costs.url.params.get_list("group_by[]") == ["project_id", "line_item"]
    usage_request = api.first("/v1/organization/usage/completions")
    assert usage_request.url.params["limit"] == "31"
    assert usage_request.url.params.get_list("group_by[]") == ["model", "project_id"]
    assert batch.read == 5


def test_base_url_points_requests_elsewhere() -> None:
    api = MockOpenAI()

    collect(api, settings={"since": "2026-01-01", "base_url": "https://proxy.test/oa"})

    assert str(api.requests[0].url).startswith(
        "https://proxy.test/oa/v1/organization/costs?"
    )


def test_the_first_run_reads_from_since_and_the_next_from_three_days_back() -> None:
    first_api = MockOpenAI()
    first = collect(first_api, now=dt.datetime(2026, 1, 20, 8, tzinfo=dt.UTC))

    assert first.replaces_since == dt.date(2026, 1, 1)
    assert first.state["complete_through"] == "2026-01-20"
    assert first_api.requests[0].url.params["start_time"] == str(JAN_1)

    second_api = MockOpenAI()
    second = collect(
        second_api,
        state=first.state,
        now=dt.datetime(2026, 1, 25, 8, tzinfo=dt.UTC),
    )

    # 2026-01-20 less the default three days: 2026-01-17, 16 days after Jan 1.
    assert second.replaces_since == dt.date(2026, 1, 17)
    assert second_api.requests[0].url.params["start_time"] == str(JAN_1 + 16 * DAY)
    assert second.state["complete_through"] == "2026-01-25"


def test_a_reread_never_starts_before_since() -> None:
    state = {"complete_through": "2026-01-02", "since": "2026-01-01"}

    batch = collect(MockOpenAI(), state=state, settings={"since": "2026-01-01"})

    assert batch.replaces_since == dt.date(2026, 1, 1)


def test_reread_days_sets_how_far_back_a_later_run_reads() -> None:
    state = {"complete_through": "2026-01-20", "since": "2026-01-01"}
    settings = {"since": "2026-01-01", "reread_days": 7}

    batch = collect(
        MockOpenAI(),
        state=state,
        settings=settings,
        now=dt.datetime(2026, 1, 25, tzinfo=dt.UTC),
    )

    # 2026-01-20 less seven days.
    assert batch.replaces_since == dt.date(2026, 1, 13)


def test_a_changed_since_makes_the_next_run_a_first_run() -> None:
    state = {"complete_through": "2026-01-20", "since": "2026-01-10"}

    batch = collect(MockOpenAI(), state=state, settings={"since": "2025-12-01"})

    assert batch.replaces_since == dt.date(2025, 12, 1)


def test_without_since_the_first_run_reads_from_two_months_back() -> None:
    api = MockOpenAI()

    batch = collect(api, settings={}, now=dt.datetime(2026, 3, 15, tzinfo=dt.UTC))

    assert batch.replaces_since == dt.date(2026, 1, 1)
    assert api.requests[0].url.params["start_time"] == str(JAN_1)


def test_a_since_in_the_future_fails_with_the_date() -> None:
    with pytest.raises(CollectorError, match=r"since: 2026-02-01 is after today"):
        collect(MockOpenAI(), settings={"since": "2026-02-01"})


def test_without_a_key_nothing_is_requested() -> None:
    api = MockOpenAI()

    with pytest.raises(CollectorError, match="no API key") as caught:
        collect(api, secrets={})

    assert "qoins keys set openai" in str(caught.value)
    assert api.requests == []


def test_a_project_key_is_refused_with_the_key_kind_needed() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        body = {
            "error": {
                "message": f"Incorrect API key provided: {KEY[:12]}****Qoins. "
                "You need an admin key.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
        }
        return httpx.Response(401, json=body)

    with pytest.raises(ApiAuthError) as caught:
        collect(refuse)

    message = str(caught.value)
    assert message.startswith(
        "GET https://api.openai.com/v1/organization/costs answered 401"
    )
    assert "an admin key (sk-admin-…) from an organization owner" in message
    assert KEY not in message
    assert "T3stOnly" not in message


def test_has_more_without_next_page_fails_the_source() -> None:
    broken: Pages = {None: {**page([bucket(0, [])]), "has_more": True}}

    with pytest.raises(ApiFormatError, match="next_page"):
        collect(MockOpenAI(costs=broken))


def test_more_cached_than_input_is_a_data_error() -> None:
    odd: Pages = {None: page([bucket(0, [usage("gpt-x-mini", 100, 200, 0)])])}

    with pytest.raises(ApiFormatError, match="input_cached_tokens"):
        collect(MockOpenAI(usages=odd))


@pytest.mark.parametrize(
    ("line_item", "model"),
    [
        ("gpt-4o, input", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18, cached input", "gpt-4o-mini-2024-07-18"),
        ("web search tool calls", None),
        ("File search tool calls, storage", None),
    ],
)
def test_the_model_is_read_from_model_kind_line_items(
    line_item: str, model: str | None
) -> None:
    assert line_item_model(line_item) == model


def test_settings_are_checked_with_the_config() -> None:
    assert OpenAICollector.check_settings({"since": "2026-13-01"}) is not None
    assert OpenAICollector.check_settings({"reread_days": 3, "timeout": 30}) is None


def test_the_type_is_registered() -> None:
    assert COLLECTOR_TYPES["openai"] is OpenAICollector
    assert "openai" not in PLANNED_TYPES


def test_a_refresh_stores_bills_and_lets_them_win_over_estimates(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring = MemoryKeyring()
    keyring.set_password("qoins", "openai", KEY)
    use_keyring(monkeypatch, keyring)
    settings = make_settings(
        "services:\n  openai:\n    since: 2026-01-01\n"
        "prices:\n  gpt-x-mini:\n    provider: openai\n"
        "    input: 1.00\n    cache_read: 0.10\n    output: 4.00\n"
    )

    (result,) = run_refresh(
        settings, store, now=NOW, only=["openai"], transport=MockOpenAI().transport()
    )

    assert result.ok, result.error
    assert result.counts.counted == 5
    # Both days have bills, so they count and the estimates do not: 3.42 + 1.08 on
    # Jan 1 and 0.50 on Jan 2.
    days = store.daily_spend(
        MonthQuery(dt.date(2026, 1, 1), dt.date(2026, 2, 1), "UTC", "USD")
    )
    assert days == {
        dt.date(2026, 1, 1): Decimal("4.50"),
        dt.date(2026, 1, 2): Decimal("0.50"),
    }


def test_case_c12_every_page_of_the_costs_is_read() -> None:
    """CASES.md C12: two pages of the Costs API, in the case's exact text."""
    costs = {
        None: json.loads(
            '{"data":[{"start_time":1748736000,"results":[{"amount":{"value":4.00,'
            '"currency":"usd"}}]},{"start_time":1748822400,"results":[{"amount":'
            '{"value":6.00,"currency":"usd"}}]}],"has_more":true,"next_page":"page_2"}',
            parse_float=Decimal,
        ),
        "page_2": json.loads(
            '{"data":[{"start_time":1748908800,"results":[{"amount":{"value":5.50,'
            '"currency":"usd"}}]}],"has_more":false,"next_page":null}',
            parse_float=Decimal,
        ),
    }
    api = MockOpenAI(costs=costs, usages={None: page([])})

    batch = collect(
        api,
        settings={"since": "2025-06-01"},
        now=dt.datetime(2025, 6, 4, 12, 0, tzinfo=dt.UTC),
    )

    # 4.00 + 6.00 + 5.50 = 15.50 over 2025-06-01 to 2025-06-03 (UTC).
    assert sum(c.billed_cost or 0 for c in batch.charges) == Decimal("15.50")
    days = sorted(str(c.charge_date) for c in batch.charges)
    assert days == ["2025-06-01", "2025-06-02", "2025-06-03"]
    cost_requests = [r for r in api.requests if r.url.path == "/v1/organization/costs"]
    assert [r.url.params.get("page") for r in cost_requests] == [None, "page_2"]
