"""The HTTP behaviour every API collector shares: paging, retries, errors, settings.

Every request goes to an ``httpx.MockTransport``; ``sleep`` is a list's ``append``,
so the waits between attempts are recorded, not slept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from collectors import http
from collectors.http import (
    ApiAuthError,
    ApiClient,
    ApiFormatError,
    ApiRateLimited,
    ApiStatusError,
    ApiUnreachable,
    check_api_settings,
    default_since,
    redact,
    retry_after_s,
)

KEY = "sk-admin-Zq81testkeyvalueXy"
BASE_URL = "https://api.example.test"
PATH = "/v1/things"
HINT = "an admin key (sk-admin-…) with read access"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorded:
    """A client over a mock transport, with the requests it sent and its waits."""

    def __init__(self, handler: Handler) -> None:
        self.requests: list[httpx.Request] = []
        self.waits: list[float] = []

        def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return handler(request)

        self.client = ApiClient(
            "demo",
            BASE_URL,
            headers={"Authorization": f"Bearer {KEY}"},
            auth_hint=HINT,
            secrets=[KEY],
            transport=httpx.MockTransport(record),
            sleep=self.waits.append,
        )


def replies(*responses: httpx.Response | Exception) -> Handler:
    """A handler giving ``responses`` in turn (an exception is raised instead)."""
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        reply = queue.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    return handler


def page(data: list[Any], cursor: str | None = None) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "object": "page",
            "data": data,
            "has_more": cursor is not None,
            "next_page": cursor,
        },
    )


def amounts(element: Any) -> list[Decimal]:
    return [Decimal(element["amount"])]


# -- paging ---------------------------------------------------------------------


def test_pages_are_followed_until_the_source_says_it_is_done() -> None:
    sent = Recorded(
        replies(
            page([{"amount": "1.25"}, {"amount": "2.50"}], cursor="c2"),
            page([{"amount": "0.25"}], cursor="c3"),
            page([{"amount": "10.00"}]),
        )
    )

    found = sent.client.read_pages(PATH, {"limit": 2}, amounts)

    # 1.25 + 2.50 + 0.25 + 10.00 = 14.00
    assert sum(found) == Decimal("14.00")
    assert [r.url.params.get("page") for r in sent.requests] == [None, "c2", "c3"]
    assert all(r.url.params["limit"] == "2" for r in sent.requests)


def test_an_empty_page_reads_as_nothing() -> None:
    sent = Recorded(replies(page([])))

    assert sent.client.read_pages(PATH, {}, amounts) == []


def test_has_more_without_a_cursor_raises_instead_of_a_partial_total() -> None:
    body = {"data": [{"amount": "1"}], "has_more": True, "next_page": None}
    sent = Recorded(replies(httpx.Response(200, json=body)))

    with pytest.raises(ApiFormatError) as caught:
        sent.client.read_pages(PATH, {}, amounts)

    assert "GET https://api.example.test/v1/things" in str(caught.value)
    assert "next_page" in str(caught.value)


def test_a_repeated_cursor_raises() -> None:
    sent = Recorded(replies(page([], cursor="c2"), page([], cursor="c2")))

    with pytest.raises(ApiFormatError, match="repeats a cursor"):
        sent.client.read_pages(PATH, {}, amounts)


def test_paging_past_the_cap_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "MAX_PAGES", 3)
    sent = Recorded(replies(*(page([], cursor=f"c{n}") for n in range(1, 5))))

    with pytest.raises(ApiFormatError, match="after 3 pages"):
        sent.client.read_pages(PATH, {}, amounts)
    assert len(sent.requests) == 3


def test_a_page_without_has_more_is_malformed() -> None:
    sent = Recorded(replies(httpx.Response(200, json={"data": []})))

    with pytest.raises(ApiFormatError, match="has_more"):
        sent.client.read_pages(PATH, {}, amounts)


def test_an_element_of_the_wrong_shape_names_the_missing_field() -> None:
    sent = Recorded(replies(page([{"cost": "1"}])))

    with pytest.raises(ApiFormatError) as caught:
        sent.client.read_pages(PATH, {}, amounts)

    assert "GET https://api.example.test/v1/things" in str(caught.value)
    assert "'amount' is missing" in str(caught.value)


def test_json_numbers_with_a_fraction_are_decimals() -> None:
    sent = Recorded(replies(httpx.Response(200, content=b'{"value": 3.42}')))

    body = sent.client.get_json(PATH)

    assert body == {"value": Decimal("3.42")}
    assert isinstance(body["value"], Decimal)


def test_a_body_that_is_not_json_names_source_and_path() -> None:
    html = b"<html><body>Welcome to the proxy</body></html>"
    sent = Recorded(replies(httpx.Response(200, content=html)))

    with pytest.raises(ApiFormatError) as caught:
        sent.client.get_json(PATH, {"start_time": 1})

    message = str(caught.value)
    assert message.startswith("GET https://api.example.test/v1/things answered 200")
    assert "not JSON" in message
    assert "Welcome to the proxy" in message
    assert "start_time" not in message


def test_nan_is_refused_rather_than_read_as_a_float() -> None:
    sent = Recorded(replies(httpx.Response(200, content=b'{"value": NaN}')))

    with pytest.raises(ApiFormatError):
        sent.client.get_json(PATH)


# -- retries ---------------------------------------------------------------------


def test_a_429_waits_as_long_as_retry_after_then_succeeds() -> None:
    limited = httpx.Response(
        429,
        headers={"Retry-After": "7"},
        json={"error": {"message": "Rate limit reached"}},
    )
    sent = Recorded(replies(limited, page([{"amount": "2"}])))

    assert sent.client.read_pages(PATH, {}, amounts) == [Decimal(2)]
    assert sent.waits == [7.0]
    assert len(sent.requests) == 2


def test_a_500_on_every_attempt_fails_after_backing_off() -> None:
    failing = httpx.Response(
        500, json={"error": {"message": "The server had an error"}}
    )
    sent = Recorded(replies(*[failing] * 4))

    with pytest.raises(ApiStatusError) as caught:
        sent.client.get_json(PATH)

    # Four attempts, waiting 1, 2 and 4 seconds between them.
    assert len(sent.requests) == 4
    assert sent.waits == [1.0, 2.0, 4.0]
    message = str(caught.value)
    assert caught.value.status == 500
    assert message.startswith("GET https://api.example.test/v1/things answered 500")
    assert "The server had an error" in message
    assert "after 4 attempts" in message


def test_a_retry_after_longer_than_the_time_left_fails_at_once() -> None:
    limited = httpx.Response(
        429, headers={"Retry-After": "600"}, json={"error": {"message": "Slow down"}}
    )
    sent = Recorded(replies(limited))

    with pytest.raises(ApiRateLimited) as caught:
        sent.client.get_json(PATH)

    assert sent.waits == []
    assert len(sent.requests) == 1
    message = str(caught.value)
    assert "asks to wait 600 s" in message
    assert "120 s" in message
    assert "Slow down" in message


def test_a_refused_connection_is_retried() -> None:
    sent = Recorded(
        replies(httpx.ConnectError("Connection refused"), page([{"amount": "1"}]))
    )

    assert sent.client.read_pages(PATH, {}, amounts) == [Decimal(1)]
    assert sent.waits == [1.0]


def test_a_host_that_never_answers_fails_with_the_host_and_advice() -> None:
    sent = Recorded(replies(*[httpx.ReadTimeout("timed out")] * 4))

    with pytest.raises(ApiUnreachable) as caught:
        sent.client.get_json(PATH)

    message = str(caught.value)
    assert "GET https://api.example.test/v1/things failed (after 4 attempts)" in message
    assert "ReadTimeout" in message
    assert "timeout" in message
    assert sent.waits == [1.0, 2.0, 4.0]


def test_a_client_error_is_not_retried() -> None:
    sent = Recorded(
        replies(httpx.Response(400, json={"error": {"message": "bad group_by"}}))
    )

    with pytest.raises(ApiStatusError, match="400 Bad Request: bad group_by"):
        sent.client.get_json(PATH)
    assert sent.waits == []


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30", 30.0),
        ("Wed, 21 Oct 2026 07:28:00 GMT", 30.0),
        ("Wed, 21 Oct 2026 07:27:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(
    value: str | None, seconds: float | None
) -> None:
    now = dt.datetime(2026, 10, 21, 7, 27, 30, tzinfo=dt.UTC)

    assert retry_after_s(value, now) == seconds


# -- errors and secrets ----------------------------------------------------------


def test_a_401_says_which_key_is_needed_and_never_shows_the_key() -> None:
    body = {
        "error": {
            "message": f"Incorrect API key provided: {KEY}. Check it.",
            "type": "invalid_request_error",
        }
    }
    sent = Recorded(replies(httpx.Response(401, json=body)))

    with pytest.raises(ApiAuthError) as caught:
        sent.client.get_json(PATH)

    message = str(caught.value)
    assert message.startswith(
        "GET https://api.example.test/v1/things answered 401 Unauthorized"
    )
    assert "Incorrect API key provided: sk-admin-[redacted]" in message
    assert HINT in message
    assert "qoins keys set demo" in message
    assert KEY not in message
    assert "Zq81testkeyvalueXy" not in message


def test_a_403_with_anthropics_error_shape_gives_its_message() -> None:
    body = {
        "type": "error",
        "error": {"type": "permission_error", "message": "not an admin key"},
    }
    sent = Recorded(replies(httpx.Response(403, json=body)))

    with pytest.raises(ApiAuthError, match="403 Forbidden: not an admin key"):
        sent.client.get_json(PATH)


def test_a_non_json_error_body_is_shown_as_a_short_excerpt() -> None:
    html = "<html><body><h1>502 Bad Gateway</h1>" + "x" * 500 + "</body></html>"
    sent = Recorded(replies(*[httpx.Response(502, text=html)] * 4))

    with pytest.raises(ApiStatusError) as caught:
        sent.client.get_json(PATH)

    message = str(caught.value)
    assert "<h1>502 Bad Gateway</h1>" in message
    assert "x" * 300 not in message


def test_redact_hides_key_shapes_and_the_given_secrets() -> None:
    text = (
        "keys sk-ant-admin01-AbCdEf123456 and sk-proj-Qwerty987654, "
        "header Bearer abc.def-123, x-api-key: s3cr3t-value, and tok_LITERAL"
    )

    shown = redact(text, ["tok_LITERAL"])

    assert shown == (
        "keys sk-ant-admin01-[redacted] and sk-proj-[redacted], "
        "header Bearer [redacted], x-api-key: [redacted], and [redacted]"
    )


# -- settings ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"since": "2026-02-30"}, "since"),
        ({"since": "last month"}, "since"),
        ({"reread_days": -1}, "reread_days"),
        ({"reread_days": "3"}, "reread_days"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"base_url": "api.openai.com"}, "base_url"),
        ({"base_url": "ftp://api.openai.com"}, "base_url"),
        ({"api_key": 12345}, "api_key"),
    ],
)
def test_wrong_settings_are_named(settings: dict[str, Any], key: str) -> None:
    problem = check_api_settings(settings, "https://api.openai.com")

    assert problem is not None
    assert problem[0] == key


def test_good_settings_and_variables_pass() -> None:
    settings = {
        "api_key": "${OPENAI_ADMIN_KEY}",
        "base_url": "${OPENAI_PROXY}",
        "since": "2025-11-01",
        "reread_days": 0,
        "timeout": Decimal("7.5"),
    }

    assert check_api_settings(settings, "https://api.openai.com") is None


@pytest.mark.parametrize(
    ("today", "since"),
    [
        (dt.date(2026, 3, 15), dt.date(2026, 1, 1)),
        (dt.date(2026, 2, 28), dt.date(2025, 12, 1)),
        (dt.date(2026, 1, 1), dt.date(2025, 11, 1)),
    ],
)
def test_the_default_since_is_two_months_back(today: dt.date, since: dt.date) -> None:
    assert default_since(today) == since
