"""The Anthropic collector against a mock Admin API in the real report shapes.

Rates are set by hand in :func:`price`, USD per million tokens for claude-x: input
3.00, cache read 0.30, 5-minute cache write 3.75, 1-hour cache write 6.00, output
15.00; past the long-context threshold twice that, except output at 22.50. Each
expected dollar figure is worked out in a comment.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx
import pytest

from collectors import COLLECTOR_TYPES, PLANNED_TYPES
from collectors.anthropic_api import AnthropicCollector
from collectors.base import Price, RecordBatch, Tokens
from collectors.http import ApiAuthError, ApiFormatError
from qoins_tui.analysis import Month
from qoins_tui.refresh import run_refresh
from qoins_tui.services import notes_content
from qoins_tui.store import Store
from qoins_tui.summary import build_summary
from tests.api_mocks import PagedApi, Pages, by_key, run_collector
from tests.conftest import make_settings
from tests.keyrings import MemoryKeyring, use_keyring

KEY = "sk-ant-admin01-T3stOnlyAnthropicKey"
NOW = dt.datetime(2026, 1, 3, 12, 0, tzinfo=dt.UTC)
BASE = {
    "input": Decimal("3.00"),
    "cache_read": Decimal("0.30"),
    "cache_write_5m": Decimal("3.75"),
    "cache_write_1h": Decimal("6.00"),
    "output": Decimal("15.00"),
}
LONG = {
    "input": Decimal("6.00"),
    "cache_read": Decimal("0.60"),
    "cache_write_5m": Decimal("7.50"),
    "cache_write_1h": Decimal("12.00"),
    "output": Decimal("22.50"),
}


def price(
    provider: str, model: str, day: dt.date, tokens: Tokens, long_context: bool
) -> Price | None:
    if provider != "anthropic" or model != "claude-x":
        return None
    rates = LONG if long_context else BASE
    cost = sum(
        (getattr(tokens, kind) * rate for kind, rate in rates.items()), Decimal(0)
    )
    return Price(cost / 1_000_000, "hand rates")


def bucket(day: int, results: list[dict[str, Any]]) -> dict[str, Any]:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=day)
    return {
        "starting_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "ending_at": (start + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "results": results,
    }


def cost(
    cents: str,
    description: str,
    *,
    model: str | None = "claude-x",
    token_type: str | None = "uncached_input_tokens",
    cost_type: str = "tokens",
    workspace: str | None = None,
) -> dict[str, Any]:
    return {
        "amount": cents,
        "currency": "USD",
        "cost_type": cost_type,
        "description": description,
        "model": model,
        "service_tier": "standard" if model else None,
        "token_type": token_type,
        "context_window": "0-200k" if model else None,
        "workspace_id": workspace,
        "inference_geo": None,
    }


def usage(
    model: str,
    *,
    uncached: int,
    cache_read: int = 0,
    write_5m: int = 0,
    write_1h: int = 0,
    output: int = 0,
    window: str = "0-200k",
    flat: bool = False,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "uncached_input_tokens": uncached,
        "cache_read_input_tokens": cache_read,
        "output_tokens": output,
        "server_tool_use": {"web_search_requests": 0},
        "api_key_id": None,
        "workspace_id": "wrkspc_01",
        "model": model,
        "service_tier": None,
        "context_window": window,
        "inference_geo": None,
    }
    if flat:
        result["cache_creation_5m_input_tokens"] = write_5m
        result["cache_creation_1h_input_tokens"] = write_1h
    else:
        result["cache_creation"] = {
            "ephemeral_5m_input_tokens": write_5m,
            "ephemeral_1h_input_tokens": write_1h,
        }
    return result


def page(data: list[Any], cursor: str | None = None) -> dict[str, Any]:
    return {"data": data, "has_more": cursor is not None, "next_page": cursor}


COST_PAGES = {
    None: page(
        [bucket(0, [cost("412.5", "Claude X Usage - Input Tokens")])],
        cursor="page_2",
    ),
    "page_2": page(
        [
            bucket(
                1,
                [
                    cost(
                        "1250",
                        "Claude X Usage - Output Tokens",
                        token_type="output_tokens",
                        workspace="wrkspc_01",
                    ),
                    cost(
                        "100",
                        "Web Search",
                        model=None,
                        token_type=None,
                        cost_type="web_search",
                    ),
                ],
            )
        ]
    ),
}
USAGE_PAGES = {
    None: page(
        [
            bucket(
                0,
                [
                    usage(
                        "claude-x",
                        uncached=20000,
                        cache_read=50000,
                        write_5m=4000,
                        write_1h=1000,
                        output=3000,
                    )
                ],
            )
        ],
        cursor="page_2",
    ),
    "page_2": page(
        [
            bucket(
                1,
                [
                    usage("claude-x", uncached=300000, output=2000, window="200k-1M"),
                    usage("claude-unknown", uncached=700, output=70),
                ],
            )
        ]
    ),
}


class MockAnthropic(PagedApi):
    """The cost report and the messages usage report."""

    def __init__(self, costs: Pages = COST_PAGES, usages: Pages = USAGE_PAGES) -> None:
        super().__init__(
            {
                "/v1/organizations/cost_report": costs,
                "/v1/organizations/usage_report/messages": usages,
            },
            lambda body: json.dumps(body).encode(),
        )


def collect(
    api: Any,
    *,
    settings: Mapping[str, Any] | None = None,
    state: Mapping[str, str] | None = None,
    now: dt.datetime = NOW,
) -> RecordBatch:
    return run_collector(
        AnthropicCollector,
        api,
        key=KEY,
        price=price,
        settings=settings,
        state=state,
        now=now,
    )


def test_cost_report_cents_become_dollars_across_pages() -> None:
    batch = collect(MockAnthropic())

    billed = [c for c in batch.charges if c.cost_basis == "billed"]
    # 412.5 + 1250 + 100 cents = 1762.5 cents = $17.625.
    assert sum(c.billed_cost or 0 for c in billed) == Decimal("17.625")
    charges = by_key(batch)
    input_cost = charges[
        "cost:2026-01-01::Claude X Usage - Input Tokens:claude-x:"
        "uncached_input_tokens:tokens:standard:0-200k:"
    ]
    assert input_cost.billed_cost == Decimal("4.125")
    assert input_cost.currency == "USD"
    assert input_cost.provider == "Anthropic"
    assert input_cost.service == "Claude X Usage - Input Tokens"
    assert input_cost.model == "claude-x"
    assert input_cost.account is None
    assert input_cost.charge_date == dt.date(2026, 1, 1)
    output_cost = next(c for c in billed if c.account == "wrkspc_01")
    assert output_cost.billed_cost == Decimal("12.50")
    assert output_cost.charge_date == dt.date(2026, 1, 2)
    search = next(c for c in billed if c.service == "Web Search")
    assert search.billed_cost == Decimal("1.00")
    assert search.model is None


def test_usage_is_priced_with_both_cache_write_durations() -> None:
    charges = by_key(collect(MockAnthropic()))

    day_one = charges["usage:2026-01-01:wrkspc_01:claude-x:0-200k"]
    assert (day_one.input_tokens, day_one.cache_read_tokens) == (20000, 50000)
    assert (day_one.cache_write_5m_tokens, day_one.cache_write_1h_tokens) == (
        4000,
        1000,
    )
    assert day_one.output_tokens == 3000
    # 20,000 + 50,000 + 4,000 + 1,000 + 3,000 tokens.
    assert day_one.quantity == Decimal(78000)
    # 20,000 × 3.00 + 50,000 × 0.30 + 4,000 × 3.75 + 1,000 × 6.00 + 3,000 × 15.00
    # = 60,000 + 15,000 + 15,000 + 6,000 + 45,000 = 141,000 per million: $0.141.
    assert day_one.billed_cost == Decimal("0.141")
    assert day_one.cost_basis == "estimated"
    assert day_one.price_version == "hand rates"
    assert day_one.account == "wrkspc_01"
    assert day_one.service == "claude-x"


def test_the_long_context_window_is_priced_at_the_tier_rates() -> None:
    charges = by_key(collect(MockAnthropic()))

    long = charges["usage:2026-01-02:wrkspc_01:claude-x:200k-1M"]
    # 300,000 × 6.00 + 2,000 × 22.50 = 1,800,000 + 45,000 per million: $1.845.
    assert long.billed_cost == Decimal("1.845")


def test_an_unknown_model_is_unpriced_with_its_tokens_kept() -> None:
    charges = by_key(collect(MockAnthropic()))

    unknown = charges["usage:2026-01-02:wrkspc_01:claude-unknown:0-200k"]
    assert unknown.cost_basis == "unpriced"
    assert unknown.billed_cost is None
    assert (unknown.input_tokens, unknown.output_tokens) == (700, 70)


def test_both_cache_creation_shapes_give_the_same_charge() -> None:
    def batch_for(flat: bool) -> RecordBatch:
        result = usage(
            "claude-x",
            uncached=10,
            cache_read=20,
            write_5m=30,
            write_1h=40,
            output=50,
            flat=flat,
        )
        return collect(MockAnthropic(usages={None: page([bucket(0, [result])])}))

    nested = batch_for(flat=False)
    flat = batch_for(flat=True)

    assert [c for c in nested.charges if c.cost_basis != "billed"] == [
        c for c in flat.charges if c.cost_basis != "billed"
    ]
    (charge,) = [c for c in flat.charges if c.cost_basis != "billed"]
    assert (charge.cache_write_5m_tokens, charge.cache_write_1h_tokens) == (30, 40)


def test_requests_carry_both_headers_and_the_documented_parameters() -> None:
    api = MockAnthropic()

    batch = collect(api)

    assert len(api.requests) == 4
    assert all(r.headers["x-api-key"] == KEY for r in api.requests)
    assert all(r.headers["anthropic-version"] == "2023-06-01" for r in api.requests)
    costs = api.first("/v1/organizations/cost_report")
    assert costs.url.host == "api.anthropic.com"
    assert costs.url.params["starting_at"] == "2026-01-01T00:00:00Z"
    assert costs.url.params["ending_at"] == "2026-01-03T12:00:00Z"
    assert costs.url.params["bucket_width"] == "1d"
    assert costs.url.params["limit"] == "31"
    assert costs.url.params.get_list("group_by[]") == ["workspace_id", "description"]
    usage_request = api.first("/v1/organizations/usage_report/messages")
    assert usage_request.url.params.get_list("group_by[]") == [
        "model",
        "workspace_id",
        "context_window",
    ]
    assert batch.read == 6


def test_the_first_run_reads_from_since_and_the_next_from_three_days_back() -> None:
    first = collect(MockAnthropic(), now=dt.datetime(2026, 1, 20, 8, tzinfo=dt.UTC))

    assert first.replaces_since == dt.date(2026, 1, 1)
    assert first.state["complete_through"] == "2026-01-20"

    api = MockAnthropic()
    second = collect(
        api, state=first.state, now=dt.datetime(2026, 1, 25, 8, tzinfo=dt.UTC)
    )

    # 2026-01-20 less the default three days.
    assert second.replaces_since == dt.date(2026, 1, 17)
    assert api.requests[0].url.params["starting_at"] == "2026-01-17T00:00:00Z"
    assert api.requests[0].url.params["ending_at"] == "2026-01-25T08:00:00Z"


def test_an_ordinary_key_is_refused_with_the_key_kind_needed() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        body = {
            "type": "error",
            "error": {
                "type": "authentication_error",
                "message": f"invalid x-api-key {KEY}",
            },
        }
        return httpx.Response(401, json=body)

    with pytest.raises(ApiAuthError) as caught:
        collect(refuse)

    message = str(caught.value)
    assert message.startswith(
        "GET https://api.anthropic.com/v1/organizations/cost_report"
    )
    assert "401" in message
    assert "an Admin API key (sk-ant-admin…)" in message
    assert KEY not in message
    assert "T3stOnly" not in message


def test_an_amount_that_is_not_a_number_is_a_clear_error() -> None:
    broken: Pages = {None: page([bucket(0, [cost("four dollars", "Claude X Usage")])])}

    with pytest.raises(ApiFormatError) as caught:
        collect(MockAnthropic(costs=broken))

    url = "https://api.anthropic.com/v1/organizations/cost_report"
    assert f"GET {url}" in str(caught.value)


def test_has_more_without_next_page_fails_the_source() -> None:
    broken: Pages = {None: {**page([]), "has_more": True}}

    with pytest.raises(ApiFormatError, match="next_page"):
        collect(MockAnthropic(usages=broken))


def test_the_source_says_its_figures_leave_out_priority_tier_costs(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyring = MemoryKeyring()
    keyring.set_password("qoins", "anthropic", KEY)
    use_keyring(monkeypatch, keyring)
    settings = make_settings("services:\n  anthropic:\n    since: 2026-01-01\n")
    (result,) = run_refresh(
        settings, store, now=NOW, transport=httpx.MockTransport(MockAnthropic())
    )
    assert result.ok, result.error

    summary = build_summary(store, settings, Month(2026, 1), NOW)
    [row] = summary.sources

    assert notes_content(row).plain.splitlines()[-1] == (
        "• Anthropic's cost report leaves out Priority Tier costs, so these figures "
        "do too."
    )


def test_the_type_is_registered_and_checks_its_settings() -> None:
    assert COLLECTOR_TYPES["anthropic"] is AnthropicCollector
    assert "anthropic" not in PLANNED_TYPES
    assert AnthropicCollector.check_settings({"base_url": "localhost"}) == (
        "base_url",
        "must be the API's root URL with http or https, such as "
        "https://api.anthropic.com.",
    )
