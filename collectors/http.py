"""What every HTTP API collector shares: one client, its settings and its read window.

:class:`ApiClient` gives every API source the same behaviour: timeouts, retries with
backoff on 429, 5xx and lost connections (honouring ``Retry-After``, within a bounded
number of attempts and time), cursor paging that never passes a partial read off as
complete, and errors that name the source, the request and the provider's own
message with every secret taken out. Bodies are parsed with money as ``Decimal``.

Errors::

    CollectorError
    └── ApiError              a request to a provider's API gave no usable data
        ├── ApiStatusError    the provider answered with an error status
        │   ├── ApiAuthError      401 or 403: the key is wrong or lacks a permission
        │   └── ApiRateLimited    429 on every attempt, or asking a wait too long
        ├── ApiUnreachable    no answer: refused connection, DNS failure, timeout
        └── ApiFormatError    a body that is not JSON of the expected shape, or
                              paging that would lose data

Daily report sources (OpenAI, Anthropic) also share their settings
(:data:`API_SETTINGS`) and their read window (:func:`read_window`): the first run
reads from ``since``, later ones re-read the last ``reread_days`` days, which
providers still revise.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, TypeVar
from urllib.parse import urlsplit

from collectors.base import (
    Charge,
    CollectorError,
    Price,
    RecordBatch,
    RecordCollector,
    SourceContext,
    Tokens,
)

if TYPE_CHECKING:
    import httpx
    import tenacity

# httpx and tenacity are imported where a request is made: loading them costs
# about a tenth of a second at every start, and many setups have no API source.

logger = logging.getLogger(__name__)

T = TypeVar("T")

CONNECT_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 60.0
ATTEMPTS = 4
RETRY_BUDGET_S = 120.0
"""The most time one request may take from its first attempt to its last retry."""
BACKOFF_MAX_S = 30.0
MAX_PAGES = 500
"""A cursor still running after this many pages is taken for a paging fault."""

_EXCERPT_CHARS = 200

# Key shapes providers echo back in error bodies. The key's kind prefix is kept
# (sk-proj-, sk-ant-admin01-) because it tells the user which kind they used.
_SECRET_SHAPES = re.compile(
    r"(?P<kind>\bsk-(?:ant-)?(?:[a-z]+\d*-)?)[\w*.\-]{4,}"
    r"|(?P<scheme>\bBearer\s+)[^\s\"',;]+"
    r"|(?P<header>\bx-api-key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+",
    re.IGNORECASE,
)


class ApiError(CollectorError):
    """A request to a provider's API gave no usable data."""


class ApiStatusError(ApiError):
    """The provider answered with an error status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ApiAuthError(ApiStatusError):
    """401 or 403: the key is wrong, of the wrong kind, or lacks a permission."""


class ApiRateLimited(ApiStatusError):
    """429 on every attempt, or a 429 whose ``Retry-After`` is longer than the time
    left."""


class ApiUnreachable(ApiError):
    """No answer at all: a refused connection, a failed lookup, a timeout."""


class ApiFormatError(ApiError):
    """A body that is not JSON of the expected shape, or paging that would lose data."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` without anything shaped like a key and without the given secret
    values (shapes first, so a known key keeps its kind prefix)."""

    def hide(match: re.Match[str]) -> str:
        kept = match.group("kind") or match.group("scheme") or match.group("header")
        return f"{kept}[redacted]"

    text = _SECRET_SHAPES.sub(hide, text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


def excerpt(text: str) -> str:
    """A short one-line sample of a body, for messages about bodies that make no
    sense."""
    flat = " ".join(text.split())
    if len(flat) <= _EXCERPT_CHARS:
        return flat
    return flat[:_EXCERPT_CHARS] + "…"


def provider_message(response: httpx.Response) -> str:
    """What the provider says went wrong: the message of a JSON error body
    (``{"error": {"message": ...}}`` and similar shapes), else a text excerpt."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    message = _error_message(body)
    if message:
        return message
    return excerpt(response.text) or "no message in the body"


def _error_message(body: Any) -> str | None:
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    if isinstance(error, str) and error:
        return error
    for key in ("message", "detail", "error_description"):
        if isinstance(body.get(key), str) and body[key]:
            return str(body[key])
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0]
        return first if isinstance(first, str) and first else _error_message(first)
    return None


def retry_after_s(value: str | None, now: dt.datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (delay seconds or an HTTP
    date), or None when it is absent or unreadable."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - now).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(seconds, 0.0)


def usage_estimate(
    record_key: str,
    provider: str,
    fallback_service: str,
    category: str,
    model: str | None,
    day: dt.date,
    tokens: Tokens,
    priced: Price | None,
    account: str | None,
) -> Charge:
    """A usage report's token counts as a charge estimated at ``priced``, or
    unpriced (tokens kept, no cost) when the price table does not know the model."""
    return Charge(
        record_key=record_key,
        provider=provider,
        service=model or fallback_service,
        service_category=category,
        model=model,
        billed_cost=priced.cost if priced else None,
        currency="USD",
        charge_date=day,
        quantity=Decimal(tokens.total),
        unit="tokens",
        input_tokens=tokens.input,
        cache_read_tokens=tokens.cache_read,
        cache_write_5m_tokens=tokens.cache_write_5m,
        cache_write_1h_tokens=tokens.cache_write_1h,
        output_tokens=tokens.output,
        cost_basis="estimated" if priced else "unpriced",
        price_version=priced.version if priced else None,
        account=account,
    )


def to_decimal(value: Any) -> Decimal:
    """A JSON amount (a number parsed as Decimal, an int, or a numeric string) as
    a Decimal; anything else is a shape error."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise TypeError(f"expected an amount, got {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"amount {value!r} is not a finite number")
    return amount


def to_count(value: Any) -> int:
    """A JSON token or request count; null counts as none."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected a count, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"count {value} is negative")
    return value


def to_text(value: Any) -> str | None:
    """A JSON string field that may be null (an ungrouped dimension)."""
    if value is None or isinstance(value, str):
        return value or None
    raise TypeError(f"expected text, got {type(value).__name__}")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number QOINs accepts")


def _shape_problem(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"a field {exc.args[0]!r} is missing"
    return str(exc) or type(exc).__name__


class ApiClient:
    """An HTTP client for one source: shared timeouts, retries, paging and errors.

    ``sleep`` does the waiting between attempts, so tests record waits instead of
    sleeping; ``transport`` replaces the network in tests. ``auth_hint`` says which
    key kind or permission the API needs, for 401 and 403 answers.
    """

    def __init__(
        self,
        source: str,
        base_url: str,
        *,
        headers: Mapping[str, str],
        auth_hint: str,
        secrets: Iterable[str] = (),
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None],
        timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        import httpx

        self.source = source
        self.auth_hint = auth_hint
        self.timeout_s = timeout_s
        self._secrets = tuple(s for s in secrets if s)
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=base_url,
            headers={"User-Agent": "qoins", **headers},
            timeout=httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)),
            transport=transport,
        )

    @classmethod
    def for_source(
        cls,
        context: SourceContext,
        settings: ApiSettings,
        *,
        headers: Mapping[str, str],
        auth_hint: str,
    ) -> ApiClient:
        """The client of a configured source, its secrets redacted from errors."""
        return cls(
            context.name,
            settings.base_url,
            headers=headers,
            auth_hint=auth_hint,
            secrets=context.secrets.values(),
            transport=context.transport,
            sleep=context.sleep,
            timeout_s=settings.timeout_s,
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """The JSON body of ``GET path``, numbers with a fraction as Decimal."""
        response = self._send(path, params or {})
        if response.status_code in (401, 403):
            raise ApiAuthError(
                f"{self._status_fact(path, response)}. The key must be "
                f"{self.auth_hint}; store it with `qoins keys set {self.source}`, "
                "then refresh.",
                response.status_code,
            )
        if not response.is_success:
            raise ApiStatusError(
                f"{self._status_fact(path, response)}. Check the source's settings "
                "(base_url, since), then refresh.",
                response.status_code,
            )
        try:
            return json.loads(
                response.content, parse_float=Decimal, parse_constant=_reject_constant
            )
        except ValueError as exc:
            sample = self._redact(excerpt(response.text)) or "an empty body"
            raise ApiFormatError(
                f"{self._request(path)} answered {response.status_code} with a body "
                f"that is not JSON ({sample}). Check base_url: it must be the API's "
                "root URL."
            ) from exc

    def read_pages(
        self,
        path: str,
        params: Mapping[str, Any],
        read: Callable[[Any], Iterable[T]],
    ) -> list[T]:
        """Everything a cursor-paged endpoint returns: ``read`` turns each element
        of each page's ``data`` into items.

        Pages are followed through ``next_page`` while ``has_more`` is true. A page
        that says more without a new cursor, or paging past :data:`MAX_PAGES`,
        raises: a partial read must never pass for the whole. So does an element
        ``read`` cannot make sense of (a missing field, a wrong type).
        """
        items: list[T] = []
        query = dict(params)
        cursors: set[str] = set()
        for _ in range(MAX_PAGES):
            page = self.get_json(path, query)
            if not isinstance(page, dict) or not isinstance(page.get("data"), list):
                raise self._format_error(path, "the page has no data list")
            for element in page["data"]:
                try:
                    items.extend(read(element))
                except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    raise self._format_error(path, _shape_problem(exc)) from exc
            has_more = page.get("has_more")
            if not isinstance(has_more, bool):
                raise self._format_error(path, "the page has no has_more flag")
            if not has_more:
                return items
            cursor = page.get("next_page")
            if not isinstance(cursor, str) or not cursor:
                raise self._format_error(
                    path, "has_more is true but next_page gives no cursor"
                )
            if cursor in cursors:
                raise self._format_error(
                    path, "next_page repeats a cursor already followed"
                )
            cursors.add(cursor)
            query["page"] = cursor
        raise self._format_error(path, f"it still has more after {MAX_PAGES} pages")

    def _send(self, path: str, params: Mapping[str, Any]) -> httpx.Response:
        import httpx
        import tenacity

        retried_errors = (
            httpx.TimeoutException,
            httpx.NetworkError,
            httpx.RemoteProtocolError,
        )
        retrying = tenacity.Retrying(
            sleep=lambda seconds: self._sleep(float(seconds)),
            stop=self._should_stop,
            wait=self._wait_s,
            retry=(
                tenacity.retry_if_exception_type(retried_errors)
                | tenacity.retry_if_result(_is_retried)
            ),
            before_sleep=lambda state: self._log_retry(path, state),
            retry_error_callback=lambda state: self._give_up(path, state),
        )
        try:
            response: httpx.Response = retrying(self._client.get, path, params=params)
        except httpx.HTTPError as exc:
            raise self._unreachable(path, exc, attempts=1) from exc
        return response

    def _wait_s(self, state: tenacity.RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            response: httpx.Response = outcome.result()
            asked = retry_after_s(
                response.headers.get("retry-after"), dt.datetime.now(dt.UTC)
            )
            if asked is not None:
                return asked
        return min(2.0 ** (state.attempt_number - 1), BACKOFF_MAX_S)

    def _should_stop(self, state: tenacity.RetryCallState) -> bool:
        return (
            state.attempt_number >= ATTEMPTS
            or _elapsed_s(state) + state.upcoming_sleep > RETRY_BUDGET_S
        )

    def _log_retry(self, path: str, state: tenacity.RetryCallState) -> None:
        outcome = state.outcome
        if outcome is None:
            return
        what = (
            type(outcome.exception()).__name__
            if outcome.failed
            else str(outcome.result().status_code)
        )
        logger.info(
            "%s: GET %s gave %s; attempt %d of %d in %.0f s",
            self.source,
            path,
            what,
            state.attempt_number + 1,
            ATTEMPTS,
            state.upcoming_sleep,
        )

    def _give_up(self, path: str, state: tenacity.RetryCallState) -> NoReturn:
        outcome = state.outcome
        assert outcome is not None
        attempts = state.attempt_number
        if outcome.failed:
            exc = outcome.exception()
            raise self._unreachable(path, exc, attempts) from exc
        response: httpx.Response = outcome.result()
        kind = ApiRateLimited if response.status_code == 429 else ApiStatusError
        fact = self._status_fact(path, response)
        if attempts >= ATTEMPTS:
            raise kind(
                f"{fact} (after {attempts} attempts). The provider is busy or "
                "failing; refresh again in a few minutes.",
                response.status_code,
            )
        left_s = max(RETRY_BUDGET_S - _elapsed_s(state), 0.0)
        asked = retry_after_s(
            response.headers.get("retry-after"), dt.datetime.now(dt.UTC)
        )
        wait = "asks to wait" if asked is not None else "the next attempt would wait"
        raise kind(
            f"{fact}, and {wait} {state.upcoming_sleep:.0f} s, longer than the "
            f"{left_s:.0f} s left of the {RETRY_BUDGET_S:.0f} s QOINs gives one "
            "request; refresh again after that wait.",
            response.status_code,
        )

    def _unreachable(
        self, path: str, exc: BaseException | None, attempts: int
    ) -> ApiUnreachable:
        import httpx

        problem = self._redact(str(exc)) or "no detail"
        tries = f" (after {attempts} attempts)" if attempts > 1 else ""
        advice = "Check the network and the source's base_url, then refresh."
        if isinstance(exc, httpx.TimeoutException):
            advice = (
                f"It timed out after {self.timeout_s:.0f} s; raise the source's "
                "timeout if the provider is slow, then refresh."
            )
        return ApiUnreachable(
            f"{self._request(path)} failed{tries}: "
            f"{type(exc).__name__}: {problem}. {advice}"
        )

    def _format_error(self, path: str, problem: str) -> ApiFormatError:
        return ApiFormatError(
            f"{self._request(path)} answered data QOINs cannot read: "
            f"{self._redact(problem)}. The API may have changed, or base_url points "
            "at something else; check base_url, then refresh."
        )

    def _status_fact(self, path: str, response: httpx.Response) -> str:
        reason = f" {response.reason_phrase}" if response.reason_phrase else ""
        message = self._redact(provider_message(response))
        return (
            f"{self._request(path)} answered {response.status_code}{reason}: "
            f"{message.rstrip('.')}"
        )

    def _request(self, path: str) -> str:
        """The request in words, with the whole URL: a wrong base_url shows."""
        return f"GET {str(self._client.base_url).rstrip('/')}{path}"

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)


def _is_retried(response: httpx.Response) -> bool:
    return response.status_code == 429 or response.status_code >= 500


def _elapsed_s(state: tenacity.RetryCallState) -> float:
    # idle_for sums the waits: it is the elapsed time when sleep is not the wall
    # clock (tests), and never more than the wall clock otherwise.
    return max(state.seconds_since_start or 0.0, state.idle_for)


API_SETTINGS = frozenset({"api_key", "base_url", "since", "reread_days", "timeout"})
"""The settings of a daily report API source."""

REREAD_DAYS = 3
MAX_REREAD_DAYS = 90


class SettingError(ValueError):
    """A setting's value that cannot be used: which key, and what is accepted."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class ApiSettings:
    """The checked settings of a daily report API source."""

    base_url: str
    timeout_s: float
    since: dt.date | None
    """The first day to read on the first run; None for the default."""
    reread_days: int


def parse_api_settings(
    settings: Mapping[str, Any], default_base_url: str
) -> ApiSettings:
    """The source's settings checked and typed; :class:`SettingError` names the
    first wrong one."""
    api_key = settings.get("api_key")
    if api_key is not None and not isinstance(api_key, str):
        raise SettingError(
            "api_key",
            'must be text: a "${VARIABLE}" naming an environment variable that '
            "holds the key.",
        )
    base_url = settings.get("base_url", default_base_url)
    if not isinstance(base_url, str) or not _is_http_url(base_url):
        raise SettingError(
            "base_url",
            f"must be the API's root URL with http or https, such as "
            f"{default_base_url}.",
        )
    timeout_s = settings.get("timeout", READ_TIMEOUT_S)
    if (
        isinstance(timeout_s, bool)
        or not isinstance(timeout_s, int | float | Decimal)
        or not 0 < timeout_s <= 600
    ):
        raise SettingError(
            "timeout", "must be a number of seconds above 0 and at most 600."
        )
    since = settings.get("since")
    if since is not None:
        since = _date_setting(since)
    reread_days = settings.get("reread_days", REREAD_DAYS)
    if (
        isinstance(reread_days, bool)
        or not isinstance(reread_days, int)
        or not 0 <= reread_days <= MAX_REREAD_DAYS
    ):
        raise SettingError(
            "reread_days",
            f"must be a whole number of days from 0 to {MAX_REREAD_DAYS}: how many "
            "days before the last read are read again, since providers revise "
            "recent days.",
        )
    return ApiSettings(base_url, float(timeout_s), since, reread_days)


def check_api_settings(
    settings: Mapping[str, Any], default_base_url: str
) -> tuple[str, str] | None:
    """(key, problem) for the first wrong setting, or None. A ``${VAR}`` value is
    checked when the source runs, once the variable is read."""
    known = {
        key: value
        for key, value in settings.items()
        if not (isinstance(value, str) and "${" in value)
    }
    try:
        parse_api_settings(known, default_base_url)
    except SettingError as exc:
        return (exc.key, exc.problem)
    return None


def source_settings(context: SourceContext, default_base_url: str) -> ApiSettings:
    """The running source's settings, a wrong one failing the source alone."""
    try:
        return parse_api_settings(context.settings, default_base_url)
    except SettingError as exc:
        raise CollectorError(
            f"services.{context.name}.{exc.key}: {exc.problem}"
        ) from exc


def require_key(context: SourceContext, auth_hint: str) -> str:
    """The source's ``api_key`` secret, or an error saying how to provide one."""
    key = context.secrets.get("api_key")
    if not key:
        raise CollectorError(
            f"no API key. It needs {auth_hint}; store it with "
            f"`qoins keys set {context.name}`, or set api_key to a ${{VARIABLE}}."
        )
    return key


def _is_http_url(text: str) -> bool:
    try:
        url = urlsplit(text)
        host = url.hostname
    except ValueError:
        return False
    return url.scheme in ("http", "https") and bool(host)


def _date_setting(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise SettingError(
        "since",
        "must be a date such as 2026-01-01: the first day read on the first refresh.",
    )


def default_since(today: dt.date) -> dt.date:
    """The first day of the month two months before ``today``: the current month
    and the two before it, enough for a budget's history without a long first
    read."""
    months = today.year * 12 + today.month - 1 - 2
    return dt.date(months // 12, months % 12 + 1, 1)


@dataclass(frozen=True)
class ReadWindow:
    """The UTC days a run reads: from ``first_day`` up to ``end`` (now)."""

    first_day: dt.date
    end: dt.datetime
    since_setting: str
    """``since`` as configured (``default`` when unset), kept in the state so a
    changed ``since`` is noticed."""

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first_day, dt.time(), tzinfo=dt.UTC)

    def batch(self, charges: list[Charge], read: int) -> RecordBatch:
        """The run's batch: the whole truth from ``first_day`` on, and the state
        the next run starts from."""
        return RecordBatch(
            charges,
            replaces_since=self.first_day,
            read=read,
            state={
                "complete_through": self.end.date().isoformat(),
                "since": self.since_setting,
            },
        )


def read_window(context: SourceContext, settings: ApiSettings) -> ReadWindow:
    """The days to read: from ``since`` on the first run, later from the day the
    last run completed through, less ``reread_days``, never before ``since``.

    A run whose ``since`` differs from the last run's is a first run again, so
    moving ``since`` back does read the older days.
    """
    end = context.now.astimezone(dt.UTC)
    today = end.date()
    since = settings.since or default_since(today)
    if since > today:
        raise CollectorError(
            f"services.{context.name}.since: {since.isoformat()} is after today "
            f"({today.isoformat()}, UTC); set a day that has passed."
        )
    since_setting = settings.since.isoformat() if settings.since else "default"
    first_day = since
    done = _state_date(context.state.get("complete_through"))
    if done is not None and context.state.get("since") == since_setting:
        reread_from = done - dt.timedelta(days=settings.reread_days)
        first_day = min(max(since, reread_from), today)
    return ReadWindow(first_day=first_day, end=end, since_setting=since_setting)


def _state_date(value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        logger.warning("ignoring a stored read position that is not a date: %r", value)
        return None


class DailyReportCollector(RecordCollector):
    """A provider's daily cost and usage reports read over HTTP with an admin key.

    A run reads the window :func:`read_window` gives and replaces what the source
    stored from its first day on. Subclasses name their API and read its reports.
    """

    secret_keys = ("api_key",)
    settings_keys = API_SETTINGS
    default_base_url: ClassVar[str]
    auth_hint: ClassVar[str]
    """The key a 401, 403 or missing key asks for."""

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> tuple[str, str] | None:
        return check_api_settings(settings, cls.default_base_url)

    def collect(self) -> RecordBatch:
        context = self.context
        settings = source_settings(context, self.default_base_url)
        window = read_window(context, settings)
        key = require_key(context, self.auth_hint)
        with ApiClient.for_source(
            context, settings, headers=self.headers(key), auth_hint=self.auth_hint
        ) as client:
            charges = self.read(client, window)
        return window.batch(charges, read=len(charges))

    def headers(self, key: str) -> dict[str, str]:
        """The request headers that carry ``key``."""
        raise NotImplementedError

    def read(self, client: ApiClient, window: ReadWindow) -> list[Charge]:
        """Every charge of the window: the bills, then the usage estimates."""
        raise NotImplementedError
