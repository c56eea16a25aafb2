"""Exchange rates: the European Central Bank's reference rates, kept in the store
with their day, and the rate that converts a charge into the budget currency on the
charge's own day.

The ECB publishes, on every TARGET business day at around 16:00 Frankfurt time, how
much of some thirty currencies one euro buys. Two of its files are read:
``eurofxref-hist-90d.xml`` (the last 90 days, XML only) for a refresh that needs
recent days, and ``eurofxref-hist.zip`` (every day since 1999 as one zipped CSV, far
smaller than the same history in XML) when older charges need rates. The daily
file is not used: the 90-day file also fills the days a missed refresh skipped.

A rate for a charge: a fixed rate from ``budget.rates`` wins on every day; otherwise
the newest stored rate on or before the charge's day (a weekend or holiday takes the
last business day's, never a later day's), directly, the other way round, or
through one intermediate currency (USD→JPY is JPY per EUR ÷ USD per EUR). A charge
dated before every stored rate of its currency has none, and stays unconverted.

Fetching is not a source: :func:`fetch_rates` reports a failure as a
:class:`RatesResult` and never raises it, and the stored rates stay in use.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import os
import re
import time
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from collectors.http import CONNECT_TIMEOUT_S, READ_TIMEOUT_S

if TYPE_CHECKING:
    from qoins_tui.config import Settings
    from qoins_tui.store import Store

logger = logging.getLogger(__name__)

ECB = "ecb"
"""The ``origin`` of rates fetched from the ECB in the store."""
EURO = "EUR"
ECB_URL = "https://www.ecb.europa.eu/stats/eurofxref"
URL_VARIABLE = "QOINS_ECB_URL"
"""Replaces :data:`ECB_URL`, the folder both files are fetched from."""
RECENT_FILE = "eurofxref-hist-90d.xml"
HISTORY_FILE = "eurofxref-hist.zip"
RECENT_DAYS = 60
"""A refresh whose oldest missing day is at most this old reads the 90-day file,
which surely reaches back to the business day before it; older days take the
history."""
FIRST_DAY = dt.date(1999, 1, 4)
"""The ECB's first reference rates; no file reaches further back."""
FRANKFURT = ZoneInfo("Europe/Berlin")
PUBLISHED_AT = dt.time(16, 0)
"""When the ECB publishes a business day's rates, Frankfurt time (give or take)."""

_CODE = re.compile(r"[A-Z]{3}")
_MISSING = frozenset({"", "N/A"})


class RatesError(Exception):
    """A fetch that brought no usable rates: no answer, an error status, or a file
    that is not one of the ECB's."""


@dataclass(frozen=True)
class Rate:
    day: dt.date
    base: str
    quote: str
    rate: Decimal
    """One unit of ``base`` in ``quote``; the ECB's base is always EUR."""


@dataclass(frozen=True)
class Conversion:
    rate: Decimal
    """One unit of the charge's currency in the budget currency."""
    as_of: dt.date | None
    """The oldest day of the stored rates it was made from; None for a fixed rate."""


@dataclass(frozen=True)
class _Path:
    """A rate as a fraction, divided once at the end so a crossing rounds once."""

    num: Decimal
    den: Decimal
    as_of: dt.date

    def then(self, other: _Path) -> _Path:
        return _Path(
            self.num * other.num, self.den * other.den, min(self.as_of, other.as_of)
        )


class RateBook:
    """Stored rates by pair, each pair's days in order, for the newest rate on or
    before a day."""

    def __init__(self, rates: Iterable[Rate]) -> None:
        points: dict[tuple[str, str], list[tuple[dt.date, Decimal]]] = defaultdict(list)
        for r in rates:
            points[(r.base, r.quote)].append((r.day, r.rate))
        self._days: dict[tuple[str, str], list[dt.date]] = {}
        self._rates: dict[tuple[str, str], list[Decimal]] = {}
        self._links: dict[str, set[str]] = defaultdict(set)
        for pair, series in points.items():
            series.sort()
            self._days[pair] = [day for day, _ in series]
            self._rates[pair] = [rate for _, rate in series]
            self._links[pair[0]].add(pair[1])
            self._links[pair[1]].add(pair[0])

    def convert(self, currency: str, target: str, day: dt.date) -> Conversion | None:
        """``currency`` in ``target`` on ``day``: of the direct rate and those through
        one intermediate currency, the one made of the newest rates (EUR's on a tie),
        or None when no stored rate on or before ``day`` leads there."""
        found: list[tuple[_Path, int, bool]] = []
        direct = self._step(currency, target, day)
        if direct is not None:
            found.append((direct, 0, True))
        shared = self._links.get(currency, set()) & self._links.get(target, set())
        for via in sorted(shared):
            first = self._step(currency, via, day)
            second = self._step(via, target, day)
            if first is not None and second is not None:
                found.append((first.then(second), -1, via == EURO))
        if not found:
            return None
        path = max(found, key=lambda f: (f[0].as_of, f[1], f[2]))[0]
        return Conversion(path.num / path.den, path.as_of)

    def _step(self, base: str, quote: str, day: dt.date) -> _Path | None:
        """One unit of ``base`` in ``quote`` from the newest rate on or before
        ``day`` stored either way round (the newer one, or the direct on a tie)."""
        best: _Path | None = None
        for pair, inverse in (((base, quote), False), ((quote, base), True)):
            days = self._days.get(pair, [])
            index = bisect_right(days, day)
            if index == 0:
                continue
            on = days[index - 1]
            rate = self._rates[pair][index - 1]
            step = (
                _Path(Decimal(1), rate, on) if inverse else _Path(rate, Decimal(1), on)
            )
            if best is None or on > best.as_of:
                best = step
        return best


def conversion(
    currency: str,
    target: str,
    day: dt.date,
    *,
    fixed: Mapping[str, Decimal],
    book: RateBook,
) -> Conversion | None:
    """The rate of a charge in ``currency`` on ``day`` into ``target``: the fixed
    rate from the config on every day, else the stored rates'."""
    if currency in fixed:
        return Conversion(fixed[currency], None)
    return book.convert(currency, target, day)


# -- the ECB's calendar ----------------------------------------------------------------


def _easter(year: int) -> dt.date:
    """Easter Sunday of the Gregorian calendar (the anonymous algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday) // 451
    month, day = divmod(h + weekday - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def is_business_day(day: dt.date) -> bool:
    """A TARGET business day: not a weekend, New Year's Day, Good Friday, Easter
    Monday, 1 May, or 25 or 26 December."""
    if day.weekday() >= 5:
        return False
    if (day.month, day.day) in ((1, 1), (5, 1), (12, 25), (12, 26)):
        return False
    easter = _easter(day.year)
    return day not in (easter - dt.timedelta(days=2), easter + dt.timedelta(days=1))


def last_business_day(day: dt.date) -> dt.date:
    """``day`` itself when it is a business day, else the one before it."""
    while not is_business_day(day):
        day -= dt.timedelta(days=1)
    return day


def published_through(now: dt.datetime) -> dt.date:
    """The newest business day whose rates the ECB has published at ``now``."""
    local = now.astimezone(FRANKFURT)
    day = local.date()
    if local.time() < PUBLISHED_AT:
        day -= dt.timedelta(days=1)
    return last_business_day(day)


# -- what a refresh must fetch ---------------------------------------------------------


def uncovered_since(
    needed: Mapping[str, tuple[dt.date, dt.date]],
    spans: Mapping[str, tuple[dt.date, dt.date]],
    target: str,
    published: dt.date,
) -> dt.date | None:
    """The oldest day for which the ECB could give rates the store lacks, or None.

    ``needed`` holds the oldest and newest day of the charges in each currency that
    needs stored rates; ``spans`` the oldest and newest day of the stored ECB rates
    of each currency; ``published`` the newest day the ECB has published. Every
    fetch stores every currency of its file, so the days the stored rates span as a
    whole are days the ECB was already asked about: a currency missing there (one
    the ECB does not publish) is not fetched again and again.
    """
    if not spans:
        return min((first for first, _ in needed.values()), default=None)
    asked_from = min(first for first, _ in spans.values())
    asked_to = max(last for _, last in spans.values())
    since: dt.date | None = None
    for currency, (first, last) in needed.items():
        until = last_business_day(min(last, published))
        for code in {currency, target} - {EURO}:
            oldest, newest = spans.get(code, (None, None))
            missing: dt.date | None = None
            if not _reaches(oldest, asked_from, max(first, FIRST_DAY), older=True):
                missing = first
            elif not _reaches(newest, asked_to, until, older=False):
                known = asked_to if newest is None else newest
                missing = max(first, known + dt.timedelta(days=1))
            if missing is not None and (since is None or missing < since):
                since = missing
    return since


def _reaches(own: dt.date | None, asked: dt.date, day: dt.date, *, older: bool) -> bool:
    """Whether a currency's stored rates, or the ECB files fetched before, reach
    ``day`` (from before it when ``older``, else from after it)."""
    edges = (asked,) if own is None else (own, asked)
    return any(edge <= day if older else edge >= day for edge in edges)


# -- the ECB's files -------------------------------------------------------------------


def parse_xml(content: bytes) -> list[Rate]:
    """The rates of an ECB XML file (daily, 90-day or history): a ``Cube`` per day
    with a ``time``, holding a ``Cube`` per currency with its ``rate`` per euro."""
    # ElementTree is loaded only by a refresh that fetches.
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as exc:
        raise RatesError(f"the file is not XML ({exc})") from exc
    rates = []
    for cube in root.iter():
        if _local_name(cube.tag) != "Cube" or "time" not in cube.attrib:
            continue
        day = _day(cube.attrib["time"])
        for leaf in cube:
            rates.append(
                Rate(
                    day,
                    EURO,
                    _code(leaf.get("currency", "")),
                    _rate(leaf.get("rate", "")),
                )
            )
    if not rates:
        raise RatesError("the file holds no dated Cube with rates")
    return rates


def parse_history_zip(content: bytes) -> list[Rate]:
    """The rates of ``eurofxref-hist.zip``: one CSV file, see :func:`parse_csv`."""
    # zipfile is loaded only by a refresh that fetches the history.
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(names) != 1:
                raise RatesError(
                    f"the archive holds {len(names)} CSV files instead of one"
                )
            text = archive.read(names[0]).decode("utf-8-sig")
    except (zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise RatesError(f"the file is not a zip archive of a CSV ({exc})") from exc
    return parse_csv(text)


def parse_csv(text: str) -> list[Rate]:
    """The rates of the ECB's history CSV: ``Date`` and a column per currency, a
    row per business day; ``N/A`` (and the empty column after the trailing comma)
    is no rate."""
    rows = csv.reader(io.StringIO(text))
    header = [cell.strip() for cell in next(rows, [])]
    if not header or header[0] != "Date":
        raise RatesError("the CSV's first column is not Date")
    codes = header[1:]
    rates = []
    for line, row in enumerate(rows, start=2):
        if not "".join(row).strip():
            continue
        try:
            day = _day(row[0].strip())
            for code, cell in zip(codes, row[1:], strict=False):
                value = cell.strip()
                if value not in _MISSING:
                    rates.append(Rate(day, EURO, _code(code), _rate(value)))
        except RatesError as exc:
            raise RatesError(f"line {line}: {exc}") from exc
    if not rates:
        raise RatesError("the CSV holds no rates")
    return rates


def _local_name(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise RatesError(f"{text!r} is not a date YYYY-MM-DD") from exc


def _code(text: str) -> str:
    if not _CODE.fullmatch(text):
        raise RatesError(f"{text!r} is not a currency code")
    return text


def _rate(text: str) -> Decimal:
    try:
        rate = Decimal(text)
    except InvalidOperation as exc:
        raise RatesError(f"rate {text!r} is not a number") from exc
    if not rate.is_finite() or rate <= 0:
        raise RatesError(f"rate {text!r} is not a positive number")
    return rate


# -- the fetch -------------------------------------------------------------------------


@dataclass(frozen=True)
class RatesResult:
    """What a refresh's fetch of exchange rates did, for one line on stderr."""

    ok: bool
    detail: str

    def summary(self) -> str:
        return f"exchange rates: {'ok' if self.ok else 'failed'}: {self.detail}"


def base_url() -> str:
    return os.environ.get(URL_VARIABLE, ECB_URL).rstrip("/")


def fetch_rates(
    store: Store,
    settings: Settings,
    needed: Mapping[str, tuple[dt.date, dt.date]],
    *,
    now: dt.datetime,
    transport: Any = None,
) -> RatesResult | None:
    """Fetch the ECB's rates into the store when the charges of ``needed`` (each
    currency's oldest and newest local day) lack some; None when nothing is missing.

    The 90-day file serves a refresh whose oldest missing day is recent, the whole
    history one that reaches further back. ``transport`` (an
    ``httpx.BaseTransport``) replaces the network in tests.
    """
    target = settings.budget.currency
    spans = store.rate_spans()
    published = published_through(now)
    since = uncovered_since(needed, spans, target, published)
    if since is None:
        return None
    name = (
        RECENT_FILE
        if since >= published - dt.timedelta(days=RECENT_DAYS)
        else HISTORY_FILE
    )
    url = f"{base_url()}/{name}"
    started = time.perf_counter()
    try:
        rates = _read(name, _download(url, transport), url)
    except RatesError as exc:
        logger.info("exchange rates: %s", exc)
        return RatesResult(False, f"{exc} {_kept(spans, needed)}")
    saved = store.save_rates(rates, fetched_at=now)
    days = sorted({r.day for r in rates})
    detail = (
        f"{saved:,} rates of {len(days)} day{'s' if len(days) != 1 else ''} "
        f"({days[0]} to {days[-1]}) from {name} "
        f"({time.perf_counter() - started:.1f} s)"
    )
    published_codes = {r.quote for r in rates} | {EURO}
    absent = sorted(({target} | set(needed)) - published_codes)
    if absent:
        detail += (
            f"; the ECB publishes no rate for {', '.join(absent)}: set one under "
            "budget.rates in config.yml"
        )
    return RatesResult(True, detail)


def _download(url: str, transport: Any) -> bytes:
    # httpx is loaded only by a refresh that fetches.
    import httpx

    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
    try:
        with httpx.Client(
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": "qoins"},
            follow_redirects=True,
        ) as client:
            response = client.get(url)
    except httpx.TimeoutException as exc:
        raise RatesError(
            f"GET {url} timed out after {READ_TIMEOUT_S:.0f} s ({type(exc).__name__})."
        ) from exc
    except httpx.HTTPError as exc:
        raise RatesError(
            f"GET {url} failed: {type(exc).__name__}: {str(exc) or 'no detail'}."
        ) from exc
    if not response.is_success:
        reason = f" {response.reason_phrase}" if response.reason_phrase else ""
        raise RatesError(f"GET {url} answered {response.status_code}{reason}.")
    return response.content


def _read(name: str, content: bytes, url: str) -> list[Rate]:
    try:
        return (
            parse_history_zip(content) if name == HISTORY_FILE else parse_xml(content)
        )
    except RatesError as exc:
        raise RatesError(
            f"{url} answered a file QOINs cannot read: {exc}. If {URL_VARIABLE} is "
            "set, check that it names the ECB's folder; else the ECB changed its "
            "format."
        ) from exc


def _kept(
    spans: Mapping[str, tuple[dt.date, dt.date]],
    needed: Mapping[str, tuple[dt.date, dt.date]],
) -> str:
    """What the charges use meanwhile, and what to do."""
    newest = max((last for _, last in spans.values()), default=None)
    if newest is None:
        codes = ", ".join(sorted(needed))
        return (
            f"No rates are stored yet, so charges in {codes} stay unconverted; "
            "refresh again once the ECB is reachable, or set fixed rates under "
            "budget.rates in config.yml."
        )
    return (
        f"Kept the stored rates, the newest of {newest}, for the days after it; "
        "refresh again once the ECB is reachable."
    )
