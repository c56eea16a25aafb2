"""Both API sources end to end: mock APIs in their real shapes, through the refresh
core, into a store on disk.

The mocks and response builders are those of ``test_openai_api`` and
``test_anthropic_api``. Bills are written in dollars here; Anthropic's cost report
sends cents, so a $2.00 bill goes out as ``"200.00"``. Each provider's usage
estimate, :attr:`Api.estimate`, costs $0.90 at the prices in :data:`SETTINGS`,
worked out beside it. Waits between retries are recorded, never slept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from collectors.http import ATTEMPTS
from qoins_tui.refresh import SourceResult, run_refresh
from qoins_tui.store import MonthQuery, Store
from tests import test_anthropic_api as an
from tests import test_openai_api as oa
from tests.api_mocks import Pages
from tests.conftest import make_settings
from tests.keyrings import MemoryKeyring, use_keyring

Handler = Callable[[httpx.Request], httpx.Response]
Body = dict[str, Any]

NOW = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=1)
JANUARY = MonthQuery(dt.date(2026, 1, 1), dt.date(2026, 2, 1), "UTC", "USD")
SETTINGS = make_settings(
    "services:\n"
    "  openai:\n    since: 2026-01-01\n"
    "  anthropic:\n    since: 2026-01-01\n"
    "prices:\n"
    "  gpt-x-mini:\n    provider: openai\n"
    "    input: 1.00\n    cache_read: 0.10\n    output: 4.00\n"
    "  claude-x:\n    provider: anthropic\n"
    "    input: 3.00\n    cache_read: 0.30\n    cache_write_5m: 3.75\n"
    "    cache_write_1h: 6.00\n    output: 15.00\n"
)


def jan(day: int) -> dt.date:
    return dt.date(2026, 1, day)


@dataclass(frozen=True)
class Api:
    """What the tests need of one provider: its mock, its shapes and its wording."""

    name: str
    key: str
    host: str
    cost_path: str
    usage_path: str
    start_param: str
    start_of: Callable[[dt.date], str]
    """The start parameter of a read from a day."""
    mock: Callable[[Pages, Pages], Handler]
    page: Callable[..., Body]
    bill: Callable[[int, str], Body]
    """A cost bucket: a day (0 is Jan 1) with one line item of so many dollars."""
    estimate: Callable[[int], Body]
    """A usage bucket of a day whose tokens cost $0.90."""
    error: Callable[[int], Body]
    """The provider's error body for a status."""
    server_error: str
    """The message of its 500 body."""
    key_kind: str
    """How a refused key's message names the key needed."""


OPENAI_500 = "The server had an error while processing your request. Sorry about that!"
ANTHROPIC_500 = "Internal server error"


def openai_error(status: int) -> Body:
    message, kind, code = {
        401: (
            f"Incorrect API key provided: {oa.KEY}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        ),
        429: (
            "Rate limit reached for requests. Please try again in 2s.",
            "requests",
            "rate_limit_exceeded",
        ),
        500: (OPENAI_500, "server_error", None),
    }[status]
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def anthropic_error(status: int) -> Body:
    kind, message = {
        401: ("authentication_error", f"invalid x-api-key {an.KEY}"),
        429: ("rate_limit_error", "Number of requests has exceeded your rate limit"),
        500: ("api_error", ANTHROPIC_500),
    }[status]
    return {"type": "error", "error": {"type": kind, "message": message}}


OPENAI = Api(
    name="openai",
    key=oa.KEY,
    host="api.openai.com",
    cost_path="/v1/organization/costs",
    usage_path="/v1/organization/usage/completions",
    start_param="start_time",
    # Unix seconds: Jan 1 is 1767225600, a day 86400 s.
    start_of=lambda day: str(oa.JAN_1 + (day - jan(1)).days * oa.DAY),
    mock=oa.MockOpenAI,
    page=oa.page,
    bill=lambda day, dollars: oa.bucket(
        day, [oa.cost(dollars, "gpt-x, input", "proj_demo1")]
    ),
    # 500,000 input of which 200,000 cached, 145,000 output: 300,000 × 1.00 +
    # 200,000 × 0.10 + 145,000 × 4.00 = 300,000 + 20,000 + 580,000 per million.
    estimate=lambda day: oa.bucket(
        day, [oa.usage("gpt-x-mini", 500000, 200000, 145000)]
    ),
    error=openai_error,
    server_error=OPENAI_500,
    key_kind="an admin key (sk-admin-…)",
)
ANTHROPIC = Api(
    name="anthropic",
    key=an.KEY,
    host="api.anthropic.com",
    cost_path="/v1/organizations/cost_report",
    usage_path="/v1/organizations/usage_report/messages",
    start_param="starting_at",
    start_of=lambda day: f"{day.isoformat()}T00:00:00Z",
    mock=an.MockAnthropic,
    page=an.page,
    bill=lambda day, dollars: an.bucket(
        day, [an.cost(f"{Decimal(dollars) * 100}", "Claude X Usage - Input Tokens")]
    ),
    # 100,000 × 3.00 + 500,000 × 0.30 + 40,000 × 3.75 + 25,000 × 6.00 + 10,000 ×
    # 15.00 = 300,000 + 150,000 + 150,000 + 150,000 + 150,000 per million.
    estimate=lambda day: an.bucket(
        day,
        [
            an.usage(
                "claude-x",
                uncached=100000,
                cache_read=500000,
                write_5m=40000,
                write_1h=25000,
                output=10000,
            )
        ],
    ),
    error=anthropic_error,
    server_error=ANTHROPIC_500,
    key_kind="an Admin API key (sk-ant-admin…)",
)
APIS = {api.name: api for api in (OPENAI, ANTHROPIC)}


@pytest.fixture(params=list(APIS))
def api(request: pytest.FixtureRequest) -> Api:
    return APIS[request.param]


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    keyring = MemoryKeyring()
    for each in APIS.values():
        keyring.set_password("qoins", each.name, each.key)
    use_keyring(monkeypatch, keyring)


def paged(api: Api) -> Handler:
    """Bills over three pages, the last empty, and estimates over three likewise:
    Jan 1 $2.00 and Jan 2 $0.40, Jan 3 $1.10; estimates on Jan 3 and Jan 4."""
    costs = {
        None: api.page([api.bill(0, "2.00"), api.bill(1, "0.40")], "costs_2"),
        "costs_2": api.page([api.bill(2, "1.10")], "costs_3"),
        "costs_3": api.page([]),
    }
    usages = {
        None: api.page([api.estimate(2)], "use_2"),
        "use_2": api.page([api.estimate(3)], "use_3"),
        "use_3": api.page([]),
    }
    return api.mock(costs, usages)


PAGED_DAYS = {
    jan(1): Decimal("2.00"),
    jan(2): Decimal("0.40"),
    # Billed $1.10 wins over the $0.90 estimate of the same day.
    jan(3): Decimal("1.10"),
    # No bill yet: the estimate counts.
    jan(4): Decimal("0.90"),
}
"""What :func:`paged` stores, by day; $4.40 in all."""


class Recorder:
    """A mock API behind a record of every request, and of every wait asked."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def pages(self, path: str) -> list[str | None]:
        """The cursors requested of ``path``, in order (None: the first page)."""
        return [r.url.params.get("page") for r in self.requests if r.url.path == path]

    def refresh(self, store: Store, now: dt.datetime, *only: str) -> list[SourceResult]:
        return run_refresh(
            SETTINGS,
            store,
            now=now,
            only=only,
            transport=httpx.MockTransport(self),
            sleep=self.sleeps.append,
        )


def answering(
    handler: Handler,
    path: str,
    answer: Callable[[], httpx.Response],
    *,
    cursor: str | None = None,
    times: int | None = None,
) -> Handler:
    """``handler``, except that requests for ``path`` at ``cursor`` get ``answer``
    instead, the first ``times`` of them (None: all)."""
    given = 0

    def handle(request: httpx.Request) -> httpx.Response:
        nonlocal given
        hit = request.url.path == path and request.url.params.get("page") == cursor
        if hit and (times is None or given < times):
            given += 1
            return answer()
        return handler(request)

    return handle


def stored(store: Store) -> dict[str, dict[dt.date, Decimal]]:
    """Spend that counts, by source and day."""
    return store.daily_spend_by_source(JANUARY)


def rows(store: Store) -> list[tuple[Any, ...]]:
    """Every stored charge of the API sources, to show a failure changed none."""
    with store.connect() as con:
        return con.execute(
            "SELECT source, record_key, billed_cost, cost_basis FROM charges "
            "ORDER BY ALL"
        ).fetchall()


@pytest.fixture
def refreshed(api: Api, store: Store, keys: None) -> Store:
    """A store holding the paged read of ``api``, refreshed at NOW."""
    (result,) = Recorder(paged(api)).refresh(store, NOW, api.name)
    assert result.ok, result.error
    assert stored(store) == {api.name: PAGED_DAYS}
    return store


def test_a_reread_replaces_revised_days_and_leaves_closed_days_alone(
    api: Api, store: Store, keys: None
) -> None:
    first = Recorder(
        api.mock(
            {
                None: api.page(
                    [api.bill(0, "2.00"), api.bill(2, "0.30"), api.bill(3, "1.00")]
                )
            },
            {None: api.page([])},
        )
    )
    (result,) = first.refresh(store, NOW, api.name)
    assert result.ok, result.error
    assert stored(store) == {
        api.name: {
            jan(1): Decimal("2.00"),
            jan(3): Decimal("0.30"),
            jan(4): Decimal("1.00"),
        }
    }
    assert first.requests[0].url.params[api.start_param] == api.start_of(jan(1))

    # A day later the provider has withdrawn Jan 3's bill, revised Jan 4 to $1.50
    # and billed Jan 5.
    second = Recorder(
        api.mock(
            {None: api.page([api.bill(3, "1.50"), api.bill(4, "0.75")])},
            {None: api.page([])},
        )
    )
    (result,) = second.refresh(store, LATER, api.name)

    assert result.ok, result.error
    # Jan 4 changed, Jan 5 is new.
    assert (result.counts.new, result.counts.changed) == (1, 1)
    # The last read completed through Jan 5; less three days: Jan 2. Jan 1 is
    # closed, so neither report is asked for it again.
    assert len(second.requests) == 2
    for request in second.requests:
        assert request.url.params[api.start_param] == api.start_of(jan(2))
    # Jan 3 is gone, Jan 4 is $1.50 (not $1.00 + $1.50), and Jan 1 keeps what the
    # first read stored.
    assert stored(store) == {
        api.name: {
            jan(1): Decimal("2.00"),
            jan(4): Decimal("1.50"),
            jan(5): Decimal("0.75"),
        }
    }
    assert store.source_state(api.name)["complete_through"] == "2026-01-06"


def test_every_page_counts_and_an_empty_last_page_ends_the_read(
    api: Api, store: Store, keys: None
) -> None:
    recorder = Recorder(paged(api))

    (result,) = recorder.refresh(store, NOW, api.name)

    assert result.ok, result.error
    assert recorder.pages(api.cost_path) == [None, "costs_2", "costs_3"]
    assert recorder.pages(api.usage_path) == [None, "use_2", "use_3"]
    # Three bills and two estimates.
    assert result.counts.counted == 5
    # $2.00 + $0.40 + $1.10 + $0.90.
    assert sum(stored(store)[api.name].values()) == Decimal("4.40")
    assert stored(store) == {api.name: PAGED_DAYS}
    assert recorder.sleeps == []


def test_a_429_is_waited_out_and_the_read_goes_on(
    api: Api, store: Store, keys: None
) -> None:
    def busy() -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "2"}, json=api.error(429))

    recorder = Recorder(
        answering(paged(api), api.cost_path, busy, cursor="costs_2", times=1)
    )

    (result,) = recorder.refresh(store, NOW, api.name)

    assert result.ok, result.error
    # The second page is asked again after the 2 s Retry-After asks (the backoff
    # alone would have waited 1 s); the first page is not read twice.
    assert recorder.sleeps == [2.0]
    assert recorder.pages(api.cost_path) == [None, "costs_2", "costs_2", "costs_3"]
    assert stored(store) == {api.name: PAGED_DAYS}


def test_a_500_on_every_attempt_fails_the_source_and_keeps_what_was_stored(
    api: Api, refreshed: Store
) -> None:
    before = rows(refreshed)
    state = refreshed.source_state(api.name)

    def broken() -> httpx.Response:
        return httpx.Response(500, json=api.error(500))

    recorder = Recorder(answering(paged(api), api.cost_path, broken))
    (result,) = recorder.refresh(refreshed, LATER, api.name)

    assert not result.ok
    assert result.error is not None
    assert f"GET https://{api.host}{api.cost_path} answered 500" in result.error
    assert api.server_error in result.error
    assert "(after 4 attempts)" in result.error
    assert api.key not in result.error
    # Four attempts (the README's "four attempts") of the first request, backing
    # off 1, 2 and 4 s between them; the usage report is never asked.
    assert ATTEMPTS == 4
    assert len(recorder.requests) == 4
    assert recorder.pages(api.cost_path) == [None] * 4
    assert recorder.sleeps == [1.0, 2.0, 4.0]
    assert rows(refreshed) == before
    assert stored(refreshed) == {api.name: PAGED_DAYS}
    # The read position stays, so the next refresh reads the same days again.
    assert refreshed.source_state(api.name) == state


def test_a_refused_key_fails_saying_which_key_is_needed(
    api: Api, refreshed: Store
) -> None:
    before = rows(refreshed)

    def refused() -> httpx.Response:
        return httpx.Response(401, json=api.error(401))

    recorder = Recorder(answering(paged(api), api.cost_path, refused))
    (result,) = recorder.refresh(refreshed, LATER, api.name)

    assert not result.ok
    assert result.error is not None
    assert f"GET https://{api.host}{api.cost_path} answered 401" in result.error
    assert api.key_kind in result.error
    # The provider's message echoes the key; the error must not.
    assert api.key not in result.error
    assert "T3stOnly" not in result.error
    # A refused key is not retried.
    assert len(recorder.requests) == 1
    assert recorder.sleeps == []
    assert rows(refreshed) == before
    assert stored(refreshed) == {api.name: PAGED_DAYS}


MALFORMED = {
    # A proxy's sign-in page where the API should answer.
    "not JSON": (
        lambda: httpx.Response(
            200,
            headers={"Content-Type": "text/html"},
            text="<html><body>Sign in to continue</body></html>",
        ),
        "is not JSON",
    ),
    # JSON of another shape: the page without its data list.
    "no data": (
        lambda: httpx.Response(200, json={"has_more": False, "next_page": None}),
        "the page has no data list",
    ),
}


@pytest.mark.parametrize("fault", list(MALFORMED))
def test_a_malformed_body_fails_its_source_alone(
    api: Api, refreshed: Store, fault: str
) -> None:
    before = rows(refreshed)
    (other,) = (each for each in APIS.values() if each is not api)
    answer, problem = MALFORMED[fault]
    handlers = {each.host: paged(each) for each in APIS.values()}
    handlers[api.host] = answering(handlers[api.host], api.cost_path, answer)
    recorder = Recorder(lambda request: handlers[request.url.host](request))

    results = recorder.refresh(refreshed, LATER, "openai", "anthropic")

    outcome = {result.source: result for result in results}
    broken = outcome[api.name]
    assert not broken.ok
    assert broken.error is not None
    assert broken.error.startswith(f"GET https://{api.host}{api.cost_path} answered")
    assert problem in broken.error
    assert outcome[other.name].ok, outcome[other.name].error
    # The broken source keeps its rows; the other stores its whole read.
    assert [row for row in rows(refreshed) if row[0] == api.name] == before
    assert stored(refreshed) == {api.name: PAGED_DAYS, other.name: PAGED_DAYS}
