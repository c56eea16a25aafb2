"""The one refresh core: runs each source's collector into the store, apart.

Both callers use it: ``qoins --refresh`` from cron and the app's background worker,
which only wraps it. A source that fails is recorded with its error and the others
still refresh; nothing a failed source had stored is lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors import COLLECTOR_TYPES, DETECTED_TYPES
from collectors.base import (
    BulkCollector,
    CollectorError,
    RecordCollector,
    SourceContext,
)
from collectors.cursor import CursorCollector
from collectors.focus import FocusCollector
from qoins_tui.config import Settings, SourceConfig, resolved_settings
from qoins_tui.errors import MissingSecretError, QoinsError, StoreError
from qoins_tui.fx import RatesResult, fetch_rates
from qoins_tui.pricing import PriceBook
from qoins_tui.store import Counts, RefreshRecord, Store

logger = logging.getLogger(__name__)

SUBSCRIPTIONS = "subscriptions"
IMPORT_PREFIX = "import:"
NO_KEY = "no_key"
"""The refresh log's status of a source that failed for want of its key."""
CURSOR_IMPORTS = "cursor"
"""The source imported Cursor exports share when no entry has ``type: cursor``."""


@dataclass(frozen=True)
class SourceResult:
    source: str
    title: str
    ok: bool
    counts: Counts = field(default_factory=Counts)
    error: str | None = None
    elapsed_s: float = 0.0

    def summary(self) -> str:
        """One line for stderr: what was read, counted and skipped, or why it failed."""
        c = self.counts
        if not self.ok:
            # Errors raised for the source name it first, for other places.
            error = (self.error or "").removeprefix(f"{self.source}: ")
            return f"{self.source}: failed: {error}"
        parts = [f"{c.read} read"]
        if c.files_read or c.files_skipped:
            parts.insert(0, f"{c.files_read} files read, {c.files_skipped} unchanged")
        parts.append(f"{c.new} new, {c.changed} changed")
        for label, value in (
            ("duplicate", c.duplicate),
            ("malformed", c.malformed),
            ("skipped", c.skipped),
            ("unpriced", c.unpriced),
        ):
            if value:
                parts.append(f"{value} {label}")
        return f"{self.source}: ok: {', '.join(parts)} ({self.elapsed_s:.1f} s)"


@dataclass(frozen=True)
class Progress:
    """Sent before each source starts and once at the end (``source`` None)."""

    done: int
    total: int
    source: str | None
    title: str | None = None


ProgressCallback = Callable[[Progress], None]


def planned_sources(settings: Settings) -> list[SourceConfig]:
    """Configured sources in config order, detected agent logs, then subscriptions."""
    sources = [s for s in settings.sources if s.setting("enabled", True) is not False]
    configured_types = {s.type for s in settings.sources}
    names = {s.name for s in settings.sources}
    for collector in DETECTED_TYPES:
        known = collector.type in configured_types or collector.type in names
        if not known and collector.detect():
            sources.append(SourceConfig(collector.type, collector.type, detected=True))
    if settings.subscriptions_declared and SUBSCRIPTIONS not in names:
        sources.append(SourceConfig(SUBSCRIPTIONS, SUBSCRIPTIONS))
    return sources


def run_refresh(
    settings: Settings,
    store: Store,
    *,
    now: dt.datetime | None = None,
    progress: ProgressCallback | None = None,
    on_result: Callable[[SourceResult], None] | None = None,
    only: Sequence[str] | None = None,
    transport: Any = None,
    sleep: Callable[[float], None] | None = None,
    on_rates: Callable[[RatesResult], None] | None = None,
) -> list[SourceResult]:
    """Refresh every planned source (or those named in ``only``), one after another,
    then the exchange rates the stored charges need.

    ``progress`` hears before each source starts; ``on_result`` as each one ends;
    ``on_rates`` when exchange rates were fetched or their fetch failed (which is
    no source's failure: the stored rates stay in use).
    ``transport`` (an ``httpx.BaseTransport``) replaces the network for HTTP sources
    and the exchange rates; ``sleep`` replaces how sources wait between retries
    (tests record the waits).
    """
    now = now or dt.datetime.now(dt.UTC)
    store.schema_version()
    sources = planned_sources(settings)
    if only:
        sources = [s for s in sources if s.name in only]
    prices = PriceBook(settings.prices)
    results = []
    for index, source in enumerate(sources):
        title = _title(source)
        if progress:
            progress(Progress(index, len(sources), source.name, title))
        result = refresh_source(
            settings,
            store,
            source,
            now=now,
            prices=prices,
            transport=transport,
            sleep=sleep,
        )
        results.append(result)
        if on_result:
            on_result(result)
    budget = settings.budget
    needed = store.rates_needed(budget.timezone, budget.currency, budget.rates)
    rates = (
        fetch_rates(store, settings, needed, now=now, transport=transport)
        if needed
        else None
    )
    if rates is not None and on_rates:
        on_rates(rates)
    if progress:
        progress(Progress(len(sources), len(sources), None))
    return results


def refresh_source(
    settings: Settings,
    store: Store,
    source: SourceConfig,
    *,
    now: dt.datetime,
    prices: PriceBook | None = None,
    files: Sequence[Path] | None = None,
    transport: Any = None,
    sleep: Callable[[float], None] | None = None,
) -> SourceResult:
    """Run one source into the store and log it.

    A source's own fault is recorded and returned, never raised; a store that cannot
    be opened or written raises :class:`StoreError`, since no source can land then.
    """
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC)
    title = _title(source)
    counts = Counts()
    error = None
    status = "failed"
    try:
        counts = _collect(
            settings,
            store,
            source,
            now,
            prices or PriceBook(settings.prices),
            files,
            transport,
            sleep,
        )
        if counts.problems:
            error = "; ".join(counts.problems)
    except StoreError:
        raise
    except MissingSecretError as exc:
        error, status = exc.message, NO_KEY
    except QoinsError as exc:
        error = exc.message
    except CollectorError as exc:
        error = str(exc)
    except Exception as exc:  # a collector's bug must not stop the other sources
        logger.debug("source %s failed", source.name, exc_info=True)
        error = f"unexpected {type(exc).__name__}: {exc} (run with -v for details)"
    result = SourceResult(
        source=source.name,
        title=title,
        ok=error is None,
        counts=counts,
        error=error,
        elapsed_s=time.perf_counter() - started,
    )
    store.record_refresh(
        RefreshRecord(
            source=source.name,
            kind=source.type,
            started_at=started_at,
            finished_at=dt.datetime.now(dt.UTC),
            status="ok" if result.ok else status,
            counts=counts,
            error=error,
        )
    )
    return result


def _collect(
    settings: Settings,
    store: Store,
    source: SourceConfig,
    now: dt.datetime,
    prices: PriceBook,
    files: Sequence[Path] | None,
    transport: Any,
    sleep: Callable[[float], None] | None,
) -> Counts:
    if source.error:
        raise QoinsError(source.error)
    kind = COLLECTOR_TYPES[source.type]
    extra: dict[str, object] = {}
    if source.type == SUBSCRIPTIONS:
        extra["subscriptions"] = settings.subscriptions
    if files is not None:
        extra["files"] = [str(p) for p in files]
    secret_keys = kind.secret_keys
    secrets: dict[str, str] = {}
    if secret_keys:
        # Only sources with keys pay for importing the keyring and its D-Bus client.
        from qoins_tui.keys import source_secrets

        secrets = source_secrets(source.name, secret_keys, source.settings)
    context = SourceContext(
        name=source.name,
        settings=resolved_settings(source, leave_out=secret_keys),
        now=now,
        zone=settings.budget.zone,
        extra=extra,
        secrets=secrets,
        state=(
            store.source_state(source.name) if issubclass(kind, RecordCollector) else {}
        ),
        price=prices.price_tokens,
        transport=transport,
        **({"sleep": sleep} if sleep is not None else {}),
    )
    collector = kind(context)
    if isinstance(collector, RecordCollector):
        return store.write_records(source.name, collector.collect())
    assert isinstance(collector, BulkCollector)
    every = collector.files()
    changed, unchanged = store.changed_files(source.name, every)
    billing = (
        source.setting("billing", "api") if "billing" in kind.settings_keys else None
    )
    counts = store.write_bulk(
        source.name, collector, changed, price=prices, billing=billing, now=now
    )
    counts.files_skipped += unchanged
    return counts


def import_files(
    settings: Settings,
    store: Store,
    paths: Sequence[Path],
    *,
    now: dt.datetime | None = None,
    fmt: str = FocusCollector.type,
) -> list[SourceResult]:
    """Import export files of one format (``focus`` or ``cursor``) once.

    A FOCUS file is a source of its own. Cursor exports all land in one source, so
    that exports covering the same days count each request once: see
    :func:`cursor_import_source`.
    """
    now = now or dt.datetime.now(dt.UTC)
    results = []
    for path in paths:
        resolved = path.resolve()
        if fmt == CursorCollector.type:
            source = cursor_import_source(settings)
        else:
            source = SourceConfig(
                name=f"{IMPORT_PREFIX}{resolved}",
                type=FocusCollector.type,
                settings={},
            )
        results.append(
            refresh_source(settings, store, source, now=now, files=[resolved])
        )
    return results


def cursor_import_source(settings: Settings) -> SourceConfig:
    """Where imported Cursor exports land: the first ``type: cursor`` entry under
    ``services``, else a source named ``cursor`` (which a later ``services.cursor``
    entry takes over, history included)."""
    configured = (s for s in settings.sources if s.type == CursorCollector.type)
    return next(
        configured, SourceConfig(CURSOR_IMPORTS, CursorCollector.type, settings={})
    )


def _title(source: SourceConfig) -> str:
    kind = COLLECTOR_TYPES.get(source.type)
    return kind.title if kind is not None else source.type
