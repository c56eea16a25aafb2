"""What the tests of the API sources share: a mock API answering each endpoint's
pages by the cursor its ``page`` parameter names, and a collector run on it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from collectors.base import Charge, PriceTokens, RecordBatch, SourceContext
from collectors.http import DailyReportCollector

Pages = Mapping[str | None, Any]
"""An endpoint's pages by the cursor that asks for them (None: the first)."""


class PagedApi:
    """Endpoints by path, each answering the page its ``page`` parameter names;
    ``encode`` turns a page into the response body."""

    def __init__(
        self, pages: Mapping[str, Pages], encode: Callable[[Any], bytes]
    ) -> None:
        self.pages = pages
        self.encode = encode
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        # A base_url with a path of its own (a proxy's) comes before the endpoint's.
        (pages,) = (
            p for path, p in self.pages.items() if request.url.path.endswith(path)
        )
        body = self.encode(pages[request.url.params.get("page")])
        return httpx.Response(200, content=body)

    def first(self, path: str) -> httpx.Request:
        return next(r for r in self.requests if r.url.path == path)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def no_wait(seconds: float) -> None:
    pytest.fail(f"a successful read waited {seconds} s")


def run_collector(
    collector: type[DailyReportCollector],
    api: Any,
    *,
    key: str,
    price: PriceTokens,
    settings: Mapping[str, Any] | None,
    state: Mapping[str, str] | None,
    now: dt.datetime,
    secrets: Mapping[str, str] | None = None,
) -> RecordBatch:
    """One run of ``collector`` against ``api``, reading from 2026-01-01 unless
    ``settings`` say otherwise; a wait for a retry fails the test."""
    context = SourceContext(
        name=collector.type,
        settings={"since": "2026-01-01"} if settings is None else settings,
        now=now,
        zone=ZoneInfo("UTC"),
        secrets={"api_key": key} if secrets is None else secrets,
        state=state or {},
        price=price,
        transport=httpx.MockTransport(api),
        sleep=no_wait,
    )
    return collector(context).collect()


def by_key(batch: RecordBatch) -> dict[str, Charge]:
    return {charge.record_key: charge for charge in batch.charges}
