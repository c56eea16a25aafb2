"""The small interface every collector implements, and the charge record they produce.

Collectors come in two kinds. A :class:`RecordCollector` yields :class:`Charge`
objects (HTTP APIs, the config's subscriptions). A :class:`BulkCollector` is for
files too large for a Python object per row (FOCUS exports, agent log folders): it
lists its files and declares a :class:`BulkSpec`, a SELECT over ``$files`` that the
store runs inside DuckDB. Collectors know their formats; they import no database
module and nothing of the UI.
"""

from __future__ import annotations

import datetime as dt
import glob
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

CostBasis = Literal["billed", "estimated", "unpriced"]


class CollectorError(Exception):
    """A source that cannot be read as configured; its message says what to fix.

    The refresh core records it as that source's failure; the others still run.
    """


@dataclass(frozen=True)
class Charge:
    """One amount a provider bills, in the charge table's vocabulary (DESIGN.md)."""

    record_key: str
    provider: str
    service: str
    billed_cost: Decimal | None
    currency: str
    charge_date: dt.date | None = None
    period_start: dt.datetime | None = None
    period_end: dt.datetime | None = None
    service_category: str | None = None
    sku: str | None = None
    model: str | None = None
    list_cost: Decimal | None = None
    charge_category: str = "Usage"
    quantity: Decimal | None = None
    unit: str | None = None
    input_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_5m_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    output_tokens: int | None = None
    cost_basis: CostBasis = "billed"
    price_version: str | None = None
    billing: str | None = None
    origin: str | None = None
    repository: str | None = None
    account: str | None = None
    resource_id: str | None = None
    tags: Mapping[str, str] | None = None
    member: str | None = None


@dataclass(frozen=True)
class Tokens:
    """Token counts of one request or one aggregate, Anthropic's convention:
    ``input`` excludes cache reads and writes."""

    input: int = 0
    cache_read: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    output: int = 0

    @property
    def total(self) -> int:
        return (
            self.input
            + self.cache_read
            + self.cache_write_5m
            + self.cache_write_1h
            + self.output
        )


@dataclass(frozen=True)
class Price:
    """What a price table says some tokens cost, and which table said it."""

    cost: Decimal
    version: str


PriceTokens = Callable[[str, str, dt.date, Tokens, bool], Price | None]
"""``(provider, model, day, tokens, long_context) -> Price`` or None when the model
has no price. ``long_context`` prices the tokens at the model's long-context tier
(for aggregates whose requests are known to be past it); otherwise base rates."""


def _no_prices(
    provider: str, model: str, day: dt.date, tokens: Tokens, long_context: bool
) -> Price | None:
    return None


@dataclass(frozen=True)
class SourceContext:
    """What a collector is told about its run: its entry, the clock and the zone."""

    name: str
    settings: Mapping[str, Any]
    now: dt.datetime
    zone: ZoneInfo
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Parsed config a collector needs beyond its own entry (subscriptions)."""
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The source's keys by field (``api_key``), from the keyring or ``${VAR}``.
    Never put one in a charge, a message or a log line."""
    state: Mapping[str, str] = field(default_factory=dict)
    """What the source's last successful run left (see ``RecordBatch.state``)."""
    price: PriceTokens = _no_prices
    """Prices tokens for record sources that report usage without money."""
    transport: Any = None
    """An ``httpx.BaseTransport`` HTTP sources use instead of the network (tests)."""
    sleep: Callable[[float], None] = time.sleep
    """How HTTP sources wait between retries (tests pass a recorder)."""


@dataclass(frozen=True)
class RecordBatch:
    """Charges from a record source and which stored rows they replace.

    ``replaces_all`` means the read is the source's whole truth (rows it no longer
    yields are removed); ``replaces_since`` means it is the whole truth from that
    UTC day on (stored rows dated on or after it that it no longer yields are
    removed: a provider's recent days can still change); otherwise only rows with
    the same record keys change. ``state`` is kept when the batch lands and handed
    back in the next run's ``SourceContext.state`` (how far a source has read).
    ``skipped`` counts the rows read that are no charge (a request the provider did
    not bill).
    """

    charges: list[Charge]
    replaces_all: bool = False
    replaces_since: dt.date | None = None
    read: int = 0
    skipped: int = 0
    state: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BulkSpec:
    """A bulk read the store runs in DuckDB over the changed files.

    ``select`` reads the files named in ``params`` and yields, for ``target ==
    "charges"``, the charge table's columns plus ``filename`` and ``problem`` (why a
    row cannot be taken; a file with one such row is refused whole); for ``target ==
    "usage"``, one row per log line with the columns of :data:`USAGE_COLUMNS`.
    """

    target: Literal["charges", "usage"]
    select: str
    ordered: bool = False
    """True when the SELECT relies on reading each file's lines in order (a window
    over the scan); otherwise DuckDB may read out of order, which is faster."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """The named parameters the SELECT uses, such as ``files``: the paths as strings,
    spelled as the reader's ``filename`` column will give them back."""
    provider: str = ""
    """For usage: the price table's provider id (``anthropic``, ``openai``)."""
    provider_name: str = ""
    """For usage: the provider as the app shows it (``Anthropic``)."""
    service_category: str = "AI and Machine Learning"


USAGE_COLUMNS = (
    "filename",
    "kind",
    "record_key",
    "ts",
    "model",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "rank",
    "origin",
    "session_id",
)
"""Columns of a usage read. ``kind`` is ``usage`` for a line that counts, else why it
was skipped (``other``, ``synthetic``, ``error``, ``malformed``, ``negative``); among
lines that share a ``record_key`` the store keeps the highest ``rank``, then the
earliest ``ts``, then the file read first. ``input_tokens``
never includes cached tokens."""


class Collector:
    """Base of both kinds; subclasses set the class attributes."""

    type: ClassVar[str]
    title: ClassVar[str]
    """How the app names the source's kind (``Claude Code logs``)."""
    account_label: ClassVar[str] = "Account"
    """What the source's ``Charge.account`` is called on screen."""
    caveat: ClassVar[str | None] = None
    """What the source's figures leave out, shown beside them."""
    settings_keys: ClassVar[frozenset[str]] = frozenset()
    ignored_keys: ClassVar[frozenset[str]] = frozenset()
    """Keys the seed's example writes that this collector accepts and does not use."""
    secret_keys: ClassVar[tuple[str, ...]] = ()
    """Settings that hold secrets (``api_key``). The refresh core reads each from
    the OS keyring (user ``NAME`` for the first, ``NAME.FIELD`` for others), else
    from the setting's ``${VAR}``, and hands it over in ``SourceContext.secrets``."""

    def __init__(self, context: SourceContext) -> None:
        self.context = context

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> tuple[str, str] | None:
        """(key, problem) for the first wrong setting, or None when all are fine."""
        return None

    @classmethod
    def detect(cls) -> bool:
        """True when its default place holds data: it then needs no config entry."""
        return False


class RecordCollector(Collector):
    def collect(self) -> RecordBatch:
        raise NotImplementedError


class BulkCollector(Collector):
    dedupe_by_content: ClassVar[bool] = False
    """True for exports whose files may arrive twice (imported once, found again in
    a folder, saved under a new name): a file whose exact content already counts is
    not read again."""

    def files(self) -> list[Path]:
        """Every file this source reads now; the store skips the unchanged ones."""
        raise NotImplementedError

    def spec(self, files: list[Path]) -> BulkSpec:
        """The read of ``files``, the changed ones among :meth:`files`."""
        raise NotImplementedError

    def check_file(self, path: Path) -> str | None:
        """Why a file cannot be read as this source's format, or None."""
        return None

    def malformed_lines(self, path: Path) -> list[int]:
        """1-based numbers of the lines a format check rejects, for the refresh log."""
        return []

    def repositories(self, origins: Iterable[str]) -> dict[str, str | None]:
        """The git repository name of each working folder, where one is found."""
        return {}


def files_matching(
    patterns: Iterable[str], *, given: Iterable[str] | None
) -> list[Path]:
    """The files a file source reads: ``given`` (one import's files) when set, else
    every file the ``paths`` globs match (``~`` expanded, ``**`` recursive), each
    once, resolved and sorted. No match fails the source, naming the patterns."""
    if given is not None:
        return [Path(p) for p in given]
    patterns = list(patterns)
    found: dict[str, Path] = {}
    for pattern in patterns:
        for name in sorted(glob.glob(str(Path(pattern).expanduser()), recursive=True)):
            path = Path(name)
            if path.is_file():
                found.setdefault(str(path.resolve()), path.resolve())
    if not found:
        raise CollectorError(
            f"no file matches paths ({', '.join(patterns)}); check the patterns, "
            "or remove them until the first export arrives."
        )
    return sorted(found.values())
