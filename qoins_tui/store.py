"""The DuckDB store: the only module that speaks SQL.

It owns the schema and its forward migrations, the short-lived connections (no
process keeps the file open longer than one unit of work), the idempotent writes of
record and bulk sources, the refresh log and every query of stored data. A writer
that meets another process's lock waits with backoff and then fails with a message
naming the holder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

import duckdb

from collectors.base import (
    USAGE_COLUMNS,
    BulkCollector,
    BulkSpec,
    Charge,
    RecordBatch,
)
from qoins_tui import fx
from qoins_tui.errors import StoreBusyError, StoreError

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 5
MONEY = "DECIMAL(38,12)"
RATE = "DECIMAL(38,18)"
"""A stored exchange rate, exact as its source wrote it."""
RATE_HEAD = "DECIMAL(38,8)"
RATE_TAIL = "DECIMAL(38,24)"
"""A conversion multiplies an amount (12 places) by its rate in two parts, the
rate's first 8 places and the rest to 24, then adds the products at 20 places:
each product fits DuckDB's 38 digits (up to 10^10 units of the charge's currency
per charge), and a rate such as 1 ÷ 162.8 keeps 24 places instead of the 14 one
product would leave it."""
_HEAD = Decimal("1e-8")

CHARGE_COLUMNS = (
    "record_key",
    "period_start",
    "period_end",
    "charge_date",
    "provider",
    "service",
    "service_category",
    "sku",
    "model",
    "billed_cost",
    "list_cost",
    "currency",
    "charge_category",
    "quantity",
    "unit",
    "input_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "cost_basis",
    "price_version",
    "billing",
    "origin",
    "repository",
    "account",
    "resource_id",
    "tags",
    "member",
    "billing_account",
    "billing_period_start",
)

_MIGRATIONS: dict[int, Sequence[str]] = {
    1: (
        "CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)",
        f"""CREATE TABLE charges (
            source VARCHAR NOT NULL,
            file_id BIGINT,
            record_key VARCHAR,
            period_start TIMESTAMPTZ,
            period_end TIMESTAMPTZ,
            charge_date DATE,
            provider VARCHAR,
            service VARCHAR,
            service_category VARCHAR,
            sku VARCHAR,
            model VARCHAR,
            billed_cost {MONEY},
            list_cost {MONEY},
            currency VARCHAR,
            charge_category VARCHAR,
            quantity {MONEY},
            unit VARCHAR,
            input_tokens BIGINT,
            cache_read_tokens BIGINT,
            cache_write_5m_tokens BIGINT,
            cache_write_1h_tokens BIGINT,
            output_tokens BIGINT,
            cost_basis VARCHAR NOT NULL,
            price_version VARCHAR,
            billing VARCHAR,
            origin VARCHAR,
            repository VARCHAR,
            account VARCHAR,
            resource_id VARCHAR,
            tags JSON,
            member VARCHAR,
            billing_account VARCHAR,
            billing_period_start DATE,
            fingerprint VARCHAR
        )""",
        """CREATE TABLE files (
            file_id BIGINT PRIMARY KEY,
            source VARCHAR NOT NULL,
            path VARCHAR NOT NULL,
            size BIGINT,
            mtime_ns BIGINT,
            inode UBIGINT,
            device UBIGINT,
            read_at TIMESTAMPTZ,
            lines BIGINT,
            malformed BIGINT,
            content_hash VARCHAR,
            UNIQUE (source, path)
        )""",
        "CREATE SEQUENCE file_ids START 1",
        """CREATE TABLE usage_lines (
            source VARCHAR NOT NULL,
            file_id BIGINT NOT NULL,
            record_key VARCHAR NOT NULL,
            ts TIMESTAMPTZ,
            model VARCHAR,
            input_tokens BIGINT,
            cache_read_tokens BIGINT,
            cache_write_5m_tokens BIGINT,
            cache_write_1h_tokens BIGINT,
            output_tokens BIGINT,
            rank DOUBLE,
            origin VARCHAR,
            session_id VARCHAR
        )""",
        """CREATE TABLE refreshes (
            refresh_id BIGINT,
            source VARCHAR NOT NULL,
            kind VARCHAR,
            started_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,
            status VARCHAR NOT NULL,
            read BIGINT DEFAULT 0,
            counted BIGINT DEFAULT 0,
            new BIGINT DEFAULT 0,
            changed BIGINT DEFAULT 0,
            duplicate BIGINT DEFAULT 0,
            malformed BIGINT DEFAULT 0,
            skipped BIGINT DEFAULT 0,
            unpriced BIGINT DEFAULT 0,
            error VARCHAR,
            detail VARCHAR
        )""",
        "CREATE SEQUENCE refresh_ids START 1",
    ),
    2: (
        """CREATE TABLE source_state (
            source VARCHAR NOT NULL,
            key VARCHAR NOT NULL,
            value VARCHAR,
            updated_at TIMESTAMPTZ,
            PRIMARY KEY (source, key)
        )""",
    ),
    3: (
        f"""CREATE TABLE budget_changes (
            change_id BIGINT PRIMARY KEY,
            scope VARCHAR NOT NULL,
            old_amount {MONEY},
            new_amount {MONEY},
            currency VARCHAR NOT NULL,
            changed_at TIMESTAMPTZ NOT NULL,
            config_path VARCHAR NOT NULL
        )""",
        "CREATE SEQUENCE budget_change_ids START 1",
    ),
    4: (
        f"""CREATE TABLE alerts (
            alert_id BIGINT PRIMARY KEY,
            rule VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            scope VARCHAR NOT NULL,
            period VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            fired_at TIMESTAMPTZ NOT NULL,
            title VARCHAR NOT NULL,
            message VARCHAR NOT NULL,
            currency VARCHAR NOT NULL,
            amount {MONEY},
            budget {MONEY},
            projected {MONEY},
            threshold DECIMAL(9, 3),
            covered BOOLEAN NOT NULL,
            cleared_at TIMESTAMPTZ,
            acknowledged_at TIMESTAMPTZ
        )""",
        "CREATE SEQUENCE alert_ids START 1",
        """CREATE TABLE alert_deliveries (
            alert_id BIGINT NOT NULL,
            channel VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            attempts INTEGER NOT NULL,
            last_attempt TIMESTAMPTZ,
            error VARCHAR,
            PRIMARY KEY (alert_id, channel)
        )""",
    ),
    5: (
        f"""CREATE TABLE exchange_rates (
            day DATE NOT NULL,
            base VARCHAR NOT NULL,
            quote VARCHAR NOT NULL,
            rate {RATE} NOT NULL,
            origin VARCHAR NOT NULL,
            fetched_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (day, base, quote)
        )""",
    ),
}

_MIGRATING = threading.Lock()
"""Held while a connection checks and migrates the schema."""
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.+?)(?:\. See also|$)")


@dataclass
class Counts:
    """What one refresh of one source did; the refresh log keeps one row of these."""

    read: int = 0
    counted: int = 0
    new: int = 0
    changed: int = 0
    duplicate: int = 0
    malformed: int = 0
    skipped: int = 0
    unpriced: int = 0
    files_read: int = 0
    files_skipped: int = 0
    problems: list[str] = field(default_factory=list)
    """Files that could not be read, each with why; never any line's content."""
    notes: list[str] = field(default_factory=list)
    """Malformed lines skipped, by file and line number."""

    def add(self, other: Counts) -> None:
        for name in (
            "read",
            "counted",
            "new",
            "changed",
            "duplicate",
            "malformed",
            "skipped",
            "unpriced",
            "files_read",
            "files_skipped",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.problems.extend(other.problems)
        self.notes.extend(other.notes)


RATE_FIELDS = ("input", "output", "cache_read", "cache_write_5m", "cache_write_1h")


@dataclass(frozen=True)
class Rates:
    """A model's complete rates in USD per million tokens, one per token kind.

    ``tier`` holds the rates of every kind above ``threshold`` total input tokens;
    past it the whole request takes them (a threshold, not a band).
    """

    base: Mapping[str, Decimal]
    threshold: int | None = None
    tier: Mapping[str, Decimal] = field(default_factory=dict)
    version: str = ""


@dataclass(frozen=True)
class RefreshRecord:
    source: str
    kind: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    status: str
    counts: Counts
    error: str | None
    last_ok: dt.datetime | None = None


@dataclass(frozen=True)
class BudgetChange:
    """One budget set or removed: None as ``old`` is a budget newly set, as ``new``
    one removed."""

    scope: str
    old: Decimal | None
    new: Decimal | None
    currency: str
    changed_at: dt.datetime
    config_path: str


@dataclass(frozen=True)
class AlertDraft:
    """An alert a rule raised, before it is stored: what, where, when and who hears."""

    rule: str
    """The rule and its level, such as ``actual:90``, ``spike`` or
    ``spike-hours:3``."""
    kind: str
    """``actual``, ``projected``, ``daily``, ``spike``, ``spike-hours``, ``renewal``
    or ``ending``."""
    scope: str
    """``total`` or a source's name, as in ``qoins budget set``."""
    period: str
    """What the alert is about: a month, a day, a window's local start
    (``2026-12-20T09``) or a billing date."""
    severity: str
    """``info``, ``warning`` or ``critical``."""
    title: str
    message: str
    currency: str
    channels: tuple[str, ...]
    amount: Decimal | None = None
    budget: Decimal | None = None
    projected: Decimal | None = None
    threshold: Decimal | None = None
    covered: bool = False
    """Crossed together with a higher threshold of the same budget (or, for a day's
    spike, found together with a spike within that day), whose alert is the one
    delivered: stored so it does not fire later, sent nowhere."""


@dataclass(frozen=True)
class Delivery:
    channel: str
    status: str
    """``pending``, ``sent`` or ``failed``."""
    attempts: int = 0
    last_attempt: dt.datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class AlertRecord:
    """A stored alert with its deliveries."""

    alert_id: int
    rule: str
    kind: str
    scope: str
    period: str
    severity: str
    fired_at: dt.datetime
    title: str
    message: str
    currency: str
    amount: Decimal | None
    budget: Decimal | None
    projected: Decimal | None
    threshold: Decimal | None
    covered: bool
    cleared_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    deliveries: tuple[Delivery, ...] = ()

    @property
    def state(self) -> str:
        """``active``, ``acknowledged`` or ``cleared`` (its condition passed)."""
        if self.cleared_at is not None:
            return "cleared"
        return "acknowledged" if self.acknowledged_at is not None else "active"

    @property
    def listed(self) -> str:
        """The state lists go by: ``covered`` for an active alert that was stored
        covered (never sent), else :attr:`state`."""
        return "covered" if self.covered and self.state == "active" else self.state


@dataclass(frozen=True)
class MonthQuery:
    """The window and conversion every money query of one view shares."""

    start: dt.date
    end: dt.date
    """Exclusive."""
    zone: str
    currency: str
    rates: Mapping[str, Decimal] = field(default_factory=dict)


class _BulkFileError(Exception):
    """A bulk read that failed: DuckDB could not read a file, or a row was refused."""


class Store:
    """The DuckDB file; every method opens, works and closes."""

    def __init__(
        self, path: Path, *, wait_s: float = 15.0, read_only: bool = False
    ) -> None:
        self.path = Path(path)
        self.wait_s = wait_s
        self.read_only = read_only
        """Only read: for commands that must work on a store they cannot write."""
        self._held = threading.local()

    # -- connections -----------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[None]:
        """One connection for the several reads of one view, closed at its end.

        Inside it, this thread's :meth:`connect` calls share that connection instead
        of opening the file again for each query.
        """
        if getattr(self._held, "con", None) is not None:
            yield
            return
        self._held.con = self._open()
        try:
            yield
        finally:
            con, self._held.con = self._held.con, None
            con.close()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one unit of work; Ctrl-C inside a query stays Ctrl-C."""
        held = getattr(self._held, "con", None)
        con = held if held is not None else self._open()
        try:
            yield con
        except duckdb.InterruptException as exc:
            raise KeyboardInterrupt from exc
        except RuntimeError as exc:
            # DuckDB's Python binding reports Ctrl-C during a fetch this way.
            if "interrupted" in str(exc).lower():
                raise KeyboardInterrupt from exc
            raise
        finally:
            if held is None:
                con.close()

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self.read_only and not self.path.is_file():
            raise StoreError(
                f"There is no store at {self.path} yet: run `qoins --refresh` or "
                "`qoins import FILE` first, or name another with --db or QOINS_DB."
            )
        if not self.read_only and not self.path.exists():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"Cannot create the folder for the store {self.path}: "
                    f"{exc.strerror}. Choose another file with --db or QOINS_DB."
                ) from exc
            logger.info("creating a new store at %s", self.path)
        deadline = time.monotonic() + self.wait_s
        delay = 0.05
        warned = False
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=self.read_only)
                break
            except duckdb.IOException as exc:
                text = str(exc)
                if "lock" not in text.lower():
                    raise StoreError(
                        f"Cannot open the store {self.path}: {_short_error(exc)}"
                    ) from exc
                match = _LOCK_HOLDER.search(text)
                holder = match.group(1) if match else "another process"
                if not warned:
                    logger.warning(
                        "the store %s is locked by %s; waiting up to %g s",
                        self.path,
                        holder,
                        self.wait_s,
                    )
                    warned = True
                if time.monotonic() + delay > deadline:
                    raise StoreBusyError(
                        f"The store {self.path} is locked by {holder}; waited "
                        f"{self.wait_s:g} s. Let that refresh finish and try again."
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
            except duckdb.Error as exc:
                raise StoreError(
                    f"Cannot open the store {self.path}: {_short_error(exc)}. If the "
                    "file is not a QOINs store, choose another with --db or QOINS_DB."
                ) from exc
        try:
            con.execute("SET TimeZone = 'UTC'")
            # Two threads of one process (the app's workers) may open a new file at
            # once; each would create the schema, and DuckDB refuses the second.
            with _MIGRATING:
                self._migrate(con)
        except BaseException:
            con.close()
            raise
        return con

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        exists = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
        ).fetchall()[0][0]
        version = 0
        if exists:
            row = con.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchall()
            version = int(row[0][0]) if row else 0
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The store {self.path} was written by a newer QOINs (schema "
                f"{version}, this one knows {SCHEMA_VERSION}). Upgrade QOINs."
            )
        if self.read_only and version < SCHEMA_VERSION:
            raise StoreError(
                f"The store {self.path} needs an upgrade this command cannot write: "
                "run `qoins --refresh` once."
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            con.execute("BEGIN")
            try:
                for statement in _MIGRATIONS[target]:
                    con.execute(statement)
                con.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                    [str(target)],
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            logger.info("store %s migrated to schema %d", self.path, target)

    def schema_version(self) -> int:
        with self.connect() as con:
            row = con.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchall()
        return int(row[0][0])

    # -- record sources ------------------------------------------------------------

    def write_records(self, source: str, batch: RecordBatch) -> Counts:
        """Upsert a record source's charges in one transaction, keyed by record key."""
        counts = Counts(read=batch.read or len(batch.charges), skipped=batch.skipped)
        rows = []
        seen: set[str] = set()
        for charge in batch.charges:
            if charge.record_key in seen:
                counts.duplicate += 1
                continue
            seen.add(charge.record_key)
            rows.append(_charge_row(source, charge))
        counts.counted = len(rows)
        with self.connect() as con:
            con.execute("BEGIN")
            try:
                con.execute(
                    "CREATE TEMP TABLE incoming AS SELECT * FROM charges LIMIT 0"
                )
                if rows:
                    placeholders = ", ".join("?" for _ in _STORED_COLUMNS)
                    con.executemany(
                        f"INSERT INTO incoming ({', '.join(_STORED_COLUMNS)}) "
                        f"VALUES ({placeholders})",
                        rows,
                    )
                counts.new, counts.changed = con.execute(
                    """SELECT
                        count(*) FILTER (WHERE old.record_key IS NULL),
                        count(*) FILTER (WHERE old.record_key IS NOT NULL
                                         AND old.fingerprint <> i.fingerprint)
                    FROM incoming i LEFT JOIN charges old
                      ON old.source = i.source AND old.record_key = i.record_key""",
                ).fetchall()[0]
                if batch.replaces_all:
                    con.execute("DELETE FROM charges WHERE source = ?", [source])
                elif batch.replaces_since is not None:
                    con.execute(
                        f"""DELETE FROM charges WHERE source = ?
                            AND (record_key IN (SELECT record_key FROM incoming)
                                 OR {_UTC_DAY} >= ?)""",
                        [source, batch.replaces_since],
                    )
                else:
                    con.execute(
                        """DELETE FROM charges WHERE source = ? AND record_key IN
                           (SELECT record_key FROM incoming)""",
                        [source],
                    )
                con.execute("INSERT INTO charges SELECT * FROM incoming")
                con.execute("DROP TABLE incoming")
                if batch.state:
                    con.executemany(
                        "INSERT OR REPLACE INTO source_state VALUES (?, ?, ?, ?)",
                        [
                            [source, key, value, dt.datetime.now(dt.UTC)]
                            for key, value in batch.state.items()
                        ],
                    )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return counts

    def source_state(self, source: str) -> dict[str, str]:
        """What the source's last landed batch said about how far it has read."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT key, value FROM source_state WHERE source = ?", [source]
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    # -- bulk sources --------------------------------------------------------------

    def changed_files(
        self, source: str, paths: Iterable[Path]
    ) -> tuple[list[Path], int]:
        """The files whose size, mtime, inode or device differ from the last read."""
        with self.connect() as con:
            known = {
                row[0]: tuple(row[1:])
                for row in con.execute(
                    "SELECT path, size, mtime_ns, inode, device FROM files "
                    "WHERE source = ?",
                    [source],
                ).fetchall()
            }
        changed = []
        unchanged = 0
        for path in paths:
            try:
                state = _file_state(path)
            except OSError:
                continue
            if known.get(str(path)) == state:
                unchanged += 1
            else:
                changed.append(path)
        return changed, unchanged

    def write_bulk(
        self,
        source: str,
        collector: BulkCollector,
        files: Sequence[Path],
        *,
        price: PriceLookup | None = None,
        billing: str | None = None,
        now: dt.datetime,
    ) -> Counts:
        """Read the changed files through the collector's SELECT, one transaction.

        A file that cannot be read fails alone: it is named in the counts' problems,
        its stored rows stay as they were, and the other files still land.
        """
        counts = Counts()
        readable = []
        for path in files:
            problem = collector.check_file(path)
            if problem is None:
                readable.append(path)
            else:
                counts.problems.append(f"{path}: {problem}")
        hashes: dict[str, str] = {}
        if collector.dedupe_by_content and readable:
            hashes = {str(path): _content_hash(path) for path in readable}
            readable = self._skip_copies(source, readable, hashes, counts, now)
        batches = [readable] if readable else []
        while batches:
            batch = batches.pop()
            try:
                self._write_bulk_once(
                    source, collector, batch, counts, price, billing, now, hashes
                )
            except _BulkFileError as exc:
                if len(batch) == 1:
                    counts.problems.append(f"{batch[0]}: {exc}")
                else:
                    batches.extend([path] for path in reversed(batch))
        if billing is not None:
            # Also the stored usage of files not read again: the mode may have changed.
            self._set_billing(source, billing)
        return counts

    def _skip_copies(
        self,
        source: str,
        files: Sequence[Path],
        hashes: Mapping[str, str],
        counts: Counts,
        now: dt.datetime,
    ) -> list[Path]:
        """Leave out files whose exact content another stored file already brought in.

        The same export imported once and also found in a source's folder, or saved
        again under a new name, would otherwise count twice. A left-out file is
        remembered (with no rows) so that it is not checked again until it changes.
        """
        with self.connect() as con:
            owners = {
                row[0]: (row[1], row[2])
                for row in con.execute(
                    """SELECT f.content_hash, f.source, f.path FROM files f
                       WHERE f.content_hash IN (SELECT unnest($hashes::VARCHAR[]))
                         AND NOT (f.source = $source
                                  AND f.path IN (SELECT unnest($paths::VARCHAR[])))
                         AND EXISTS (SELECT 1 FROM charges c
                                     WHERE c.source = f.source
                                       AND c.file_id = f.file_id)""",
                    {
                        "hashes": list(hashes.values()),
                        "source": source,
                        "paths": [str(p) for p in files],
                    },
                ).fetchall()
            }
        keep: list[Path] = []
        copies: list[Path] = []
        for path in files:
            digest = hashes[str(path)]
            owner = owners.get(digest)
            if owner is None:
                owners[digest] = (source, str(path))
                keep.append(path)
                continue
            copies.append(path)
            where = "" if owner[0] == source else f" (source {owner[0]})"
            counts.notes.append(
                f"{path}: the same content as {owner[1]}{where}, which already "
                "counts; not read again"
            )
        if copies:
            states = {str(path): _file_state(path) for path in copies}
            with self.connect() as con:
                con.execute("BEGIN")
                ids = self._register_files(con, source, states, hashes, now)
                con.execute(
                    "DELETE FROM charges WHERE source = ? AND file_id IN "
                    "(SELECT unnest(?::BIGINT[]))",
                    [source, list(ids.values())],
                )
                con.execute("COMMIT")
            counts.files_skipped += len(copies)
        return keep

    def _write_bulk_once(
        self,
        source: str,
        collector: BulkCollector,
        files: Sequence[Path],
        counts: Counts,
        price: PriceLookup | None,
        billing: str | None,
        now: dt.datetime,
        hashes: Mapping[str, str],
    ) -> None:
        spec = collector.spec(list(files))
        states = {str(path): _file_state(path) for path in files}
        attempt = Counts()
        flawed: dict[str, int] = {}
        with self.connect() as con:
            con.execute(f"SET preserve_insertion_order = {str(spec.ordered).lower()}")
            con.execute("BEGIN")
            try:
                file_ids = self._register_files(con, source, states, hashes, now)
                params = dict(spec.params)
                if spec.target == "charges":
                    self._bulk_charges(con, source, spec, params, file_ids, attempt)
                else:
                    flawed = self._bulk_usage(
                        con,
                        source,
                        spec,
                        params,
                        collector,
                        file_ids,
                        attempt,
                        price,
                        billing,
                    )
                con.execute("COMMIT")
            except duckdb.InterruptException:
                con.execute("ROLLBACK")
                raise
            except duckdb.Error as exc:
                con.execute("ROLLBACK")
                raise _BulkFileError(_short_error(exc)) from exc
            except BaseException:
                con.execute("ROLLBACK")
                raise
        counts.add(attempt)
        counts.files_read += len(files)
        for name, bad in flawed.items():
            counts.notes.append(_malformed_note(name, bad, collector))

    def _register_files(
        self,
        con: duckdb.DuckDBPyConnection,
        source: str,
        states: Mapping[str, tuple[int, int, int, int]],
        hashes: Mapping[str, str],
        now: dt.datetime,
    ) -> dict[str, int]:
        """Give every file of the batch an id, and ``batch_files`` its new state."""
        paths = list(states)
        con.execute(
            """INSERT INTO files (file_id, source, path)
               SELECT nextval('file_ids'), $source, p
               FROM (SELECT unnest($paths::VARCHAR[]) AS p)
               WHERE p NOT IN (SELECT path FROM files WHERE source = $source)""",
            {"source": source, "paths": paths},
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE batch_files AS
               SELECT f.path, f.file_id, s.size, s.mtime_ns, s.inode, s.device,
                      s.content_hash
               FROM (SELECT unnest($paths::VARCHAR[]) AS path,
                            unnest($sizes::BIGINT[]) AS size,
                            unnest($mtimes::BIGINT[]) AS mtime_ns,
                            unnest($inodes::UBIGINT[]) AS inode,
                            unnest($devices::UBIGINT[]) AS device,
                            unnest($hashes::VARCHAR[]) AS content_hash) s
               JOIN files f ON f.source = $source AND f.path = s.path""",
            {
                "source": source,
                "paths": paths,
                "sizes": [states[p][0] for p in paths],
                "mtimes": [states[p][1] for p in paths],
                "inodes": [states[p][2] for p in paths],
                "devices": [states[p][3] for p in paths],
                "hashes": [hashes.get(p) for p in paths],
            },
        )
        con.execute(
            """UPDATE files SET size = b.size, mtime_ns = b.mtime_ns, inode = b.inode,
                   device = b.device, content_hash = b.content_hash, read_at = $now
               FROM batch_files b WHERE files.file_id = b.file_id""",
            {"now": now},
        )
        return dict(con.execute("SELECT path, file_id FROM batch_files").fetchall())

    def _bulk_charges(
        self,
        con: duckdb.DuckDBPyConnection,
        source: str,
        spec: BulkSpec,
        params: Mapping[str, Any],
        file_ids: Mapping[str, int],
        counts: Counts,
    ) -> None:
        """Replace the files' rows; a row the collector refuses aborts the batch.

        The rows go straight into ``charges``: ``error()`` raises on the first
        refused row, and the transaction leaves the stored rows as they were.
        """
        ids = list(file_ids.values())
        previous = con.execute(
            "DELETE FROM charges WHERE source = ? AND file_id IN "
            "(SELECT unnest(?::BIGINT[]))",
            [source, ids],
        ).fetchall()[0][0]
        columns = ", ".join(CHARGE_COLUMNS)
        selected = ", ".join(f"sel.{c}" for c in CHARGE_COLUMNS)
        read = con.execute(
            f"""INSERT INTO charges (source, file_id, {columns})
                SELECT $source, f.file_id, {selected}
                FROM ({spec.select}) sel JOIN batch_files f ON f.path = sel.filename
                WHERE CASE WHEN sel.problem IS NULL THEN true
                           ELSE error('{_REFUSED}' || sel.problem) END""",
            {"source": source, **params},
        ).fetchall()[0][0]
        counts.read += read
        counts.counted += read
        counts.changed += min(previous, read)
        counts.new += max(read - previous, 0)

    def _bulk_usage(
        self,
        con: duckdb.DuckDBPyConnection,
        source: str,
        spec: BulkSpec,
        read_params: Mapping[str, Any],
        collector: BulkCollector,
        file_ids: Mapping[str, int],
        counts: Counts,
        price: PriceLookup | None,
        billing: str | None,
    ) -> dict[str, int]:
        """Replace the files' usage lines and rebuild the charges they touch.

        Returns how many malformed lines each flawed file had, for the notes.
        """
        ids = list(file_ids.values())
        params: dict[str, Any] = {"source": source, "ids": ids}
        selected = ", ".join(f"sel.{c}" for c in USAGE_COLUMNS if c != "filename")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE batch_lines AS
                SELECT f.file_id, {selected}
                FROM ({spec.select}) sel JOIN batch_files f ON f.path = sel.filename""",
            dict(read_params),
        )
        read, usage, malformed, distinct = con.execute(
            """SELECT count(*),
                      count(*) FILTER (WHERE kind = 'usage'),
                      count(*) FILTER (WHERE kind IN ('malformed', 'negative')),
                      count(DISTINCT record_key) FILTER (WHERE kind = 'usage')
               FROM batch_lines"""
        ).fetchall()[0]
        con.execute(
            """UPDATE files SET lines = n.lines, malformed = n.bad
               FROM (SELECT file_id, count(*) AS lines,
                            count(*) FILTER (
                                WHERE kind IN ('malformed', 'negative')) AS bad
                     FROM batch_lines GROUP BY file_id) n
               WHERE files.file_id = n.file_id"""
        )
        elsewhere = con.execute(
            """SELECT count(DISTINCT b.record_key) FROM batch_lines b
               JOIN usage_lines u ON u.source = $source AND u.record_key = b.record_key
               WHERE b.kind = 'usage'
                 AND u.file_id NOT IN (SELECT unnest($ids::BIGINT[]))""",
            params,
        ).fetchall()[0][0]
        counts.read += read
        counts.malformed += malformed
        counts.skipped += read - usage - malformed
        counts.duplicate += usage - distinct + elsewhere

        con.execute(
            """CREATE OR REPLACE TEMP TABLE touched AS
               SELECT DISTINCT record_key FROM usage_lines
               WHERE source = $source AND file_id IN (SELECT unnest($ids::BIGINT[]))
               UNION
               SELECT DISTINCT record_key FROM batch_lines WHERE kind = 'usage'""",
            params,
        )
        con.execute(
            "DELETE FROM usage_lines WHERE source = $source "
            "AND file_id IN (SELECT unnest($ids::BIGINT[]))",
            params,
        )
        con.execute(
            """INSERT INTO usage_lines
               SELECT $source, file_id, record_key, ts, model, input_tokens,
                      cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
                      output_tokens, rank, origin, session_id
               FROM batch_lines WHERE kind = 'usage'
               QUALIFY row_number() OVER (
                   PARTITION BY file_id, record_key ORDER BY rank DESC, ts) = 1""",
            {"source": source},
        )
        flawed = con.execute(
            "SELECT f.path, count(*) FROM batch_lines b"
            " JOIN batch_files f USING (file_id)"
            " WHERE b.kind = 'malformed' GROUP BY f.path ORDER BY 1"
        ).fetchall()
        con.execute("DROP TABLE batch_lines")
        self._rebuild_usage_charges(
            con, source, spec, collector, counts, price, billing
        )
        return dict(flawed)

    def _rebuild_usage_charges(
        self,
        con: duckdb.DuckDBPyConnection,
        source: str,
        spec: BulkSpec,
        collector: BulkCollector,
        counts: Counts,
        price: PriceLookup | None,
        billing: str | None,
    ) -> None:
        """Charges of the touched response keys: each one's best line, priced in SQL."""
        params: dict[str, Any] = {"source": source}
        con.execute(
            """CREATE OR REPLACE TEMP TABLE best AS
               SELECT * FROM usage_lines
               WHERE source = $source AND record_key IN (SELECT record_key FROM touched)
               QUALIFY row_number() OVER (
                   PARTITION BY record_key ORDER BY rank DESC, ts, file_id) = 1""",
            params,
        )
        self._load_rates(con, spec.provider, price)
        con.execute(
            """CREATE OR REPLACE TEMP TABLE old_keys AS
               SELECT record_key, fingerprint FROM charges
               WHERE source = $source
                 AND record_key IN (SELECT record_key FROM touched)""",
            params,
        )
        con.execute(
            "DELETE FROM charges WHERE source = $source "
            "AND record_key IN (SELECT record_key FROM touched)",
            params,
        )
        con.execute(
            f"""INSERT INTO charges (source, record_key, period_start, period_end,
                    provider, service, service_category, model, billed_cost, currency,
                    charge_category, quantity, unit, input_tokens, cache_read_tokens,
                    cache_write_5m_tokens, cache_write_1h_tokens, output_tokens,
                    cost_basis, price_version, billing, origin, resource_id,
                    fingerprint)
                SELECT $source, b.record_key, b.ts, b.ts, $provider_name, b.model,
                    $category, b.model, p.cost, 'USD', 'Usage',
                    b.input_tokens + b.cache_read_tokens + b.cache_write_5m_tokens
                        + b.cache_write_1h_tokens + b.output_tokens,
                    'tokens', b.input_tokens, b.cache_read_tokens,
                    b.cache_write_5m_tokens, b.cache_write_1h_tokens, b.output_tokens,
                    CASE WHEN p.cost IS NULL THEN 'unpriced' ELSE 'estimated' END,
                    p.version, $billing, b.origin, b.session_id,
                    md5(concat_ws('|', b.model, b.ts, b.input_tokens,
                        b.cache_read_tokens, b.cache_write_5m_tokens,
                        b.cache_write_1h_tokens, b.output_tokens, p.cost))
                FROM best b
                LEFT JOIN ({_PRICED_SQL}) p ON p.record_key = b.record_key""",
            params
            | {
                "provider_name": spec.provider_name or spec.provider,
                "category": spec.service_category,
                "billing": billing,
            },
        )
        new, changed, unpriced = con.execute(
            """SELECT count(*) FILTER (WHERE o.record_key IS NULL),
                      count(*) FILTER (WHERE o.record_key IS NOT NULL
                                       AND o.fingerprint <> c.fingerprint),
                      count(*) FILTER (WHERE c.cost_basis = 'unpriced')
               FROM charges c LEFT JOIN old_keys o ON o.record_key = c.record_key
               WHERE c.source = $source
                 AND c.record_key IN (SELECT record_key FROM touched)""",
            params,
        ).fetchall()[0]
        counts.new += new
        counts.changed += changed
        counts.unpriced += unpriced
        counts.counted += new + changed
        origins = [
            row[0]
            for row in con.execute(
                "SELECT DISTINCT origin FROM best WHERE origin IS NOT NULL"
            ).fetchall()
        ]
        repositories = collector.repositories(origins)
        if repositories:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE repos (origin VARCHAR, repo VARCHAR)"
            )
            con.executemany(
                "INSERT INTO repos VALUES (?, ?)", list(repositories.items())
            )
            con.execute(
                """UPDATE charges SET repository = repos.repo FROM repos
                   WHERE charges.source = $source AND charges.origin = repos.origin
                     AND charges.record_key IN (SELECT record_key FROM touched)""",
                params,
            )
            con.execute("DROP TABLE repos")
        for table in ("best", "old_keys", "touched", "rates"):
            con.execute(f"DROP TABLE IF EXISTS {table}")

    def _load_rates(
        self,
        con: duckdb.DuckDBPyConnection,
        provider: str,
        price: PriceLookup | None,
    ) -> None:
        con.execute(
            """CREATE OR REPLACE TEMP TABLE rates (
                model VARCHAR, day DATE, input DECIMAL(18,9), output DECIMAL(18,9),
                cache_read DECIMAL(18,9), cache_write_5m DECIMAL(18,9),
                cache_write_1h DECIMAL(18,9), threshold BIGINT,
                t_input DECIMAL(18,9), t_output DECIMAL(18,9),
                t_cache_read DECIMAL(18,9), t_cache_write_5m DECIMAL(18,9),
                t_cache_write_1h DECIMAL(18,9), version VARCHAR)"""
        )
        if price is None:
            return
        wanted = con.execute(
            "SELECT DISTINCT model, (ts AT TIME ZONE 'UTC')::DATE FROM best "
            "WHERE model IS NOT NULL"
        ).fetchall()
        rows = []
        for model, day in wanted:
            rates = price(provider, model, day)
            if rates is None:
                continue
            tier = rates.tier if rates.threshold is not None else rates.base
            rows.append(
                [
                    model,
                    day,
                    *(rates.base[kind] for kind in RATE_FIELDS),
                    rates.threshold,
                    *(tier[kind] for kind in RATE_FIELDS),
                    rates.version,
                ]
            )
        if rows:
            columns = list(zip(*rows, strict=True))
            names = [f"c{i}" for i in range(len(columns))]
            con.execute(
                "INSERT INTO rates SELECT "
                + ", ".join(f"unnest(${name})" for name in names),
                dict(zip(names, (list(c) for c in columns), strict=True)),
            )

    def _set_billing(self, source: str, billing: str) -> None:
        with self.connect() as con:
            con.execute(
                "UPDATE charges SET billing = $billing WHERE source = $source "
                "AND billing IS DISTINCT FROM $billing",
                {"billing": billing, "source": source},
            )

    # -- the refresh log -----------------------------------------------------------

    def record_refresh(self, record: RefreshRecord) -> None:
        c = record.counts
        detail = (
            json.dumps({"problems": c.problems, "notes": c.notes})
            if c.problems or c.notes
            else None
        )
        with self.connect() as con:
            con.execute(
                """INSERT INTO refreshes (refresh_id, source, kind, started_at,
                       finished_at, status, read, counted, new, changed, duplicate,
                       malformed, skipped, unpriced, error, detail)
                   VALUES (nextval('refresh_ids'), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                           ?, ?, ?)""",
                [
                    record.source,
                    record.kind,
                    record.started_at,
                    record.finished_at,
                    record.status,
                    c.read,
                    c.counted,
                    c.new,
                    c.changed,
                    c.duplicate,
                    c.malformed,
                    c.skipped,
                    c.unpriced,
                    record.error,
                    detail,
                ],
            )

    def last_refreshes(self) -> dict[str, RefreshRecord]:
        """The newest refresh of each source, and when it last succeeded."""
        with self.connect() as con:
            rows = con.execute(
                """SELECT source, kind, started_at, finished_at, status, read, counted,
                          new, changed, duplicate, malformed, skipped, unpriced, error,
                          detail,
                          max(finished_at) FILTER (WHERE status = 'ok')
                              OVER (PARTITION BY source)
                   FROM refreshes
                   QUALIFY row_number() OVER (
                       PARTITION BY source ORDER BY refresh_id DESC) = 1"""
            ).fetchall()
        result = {}
        for row in rows:
            counts = Counts(
                read=row[5],
                counted=row[6],
                new=row[7],
                changed=row[8],
                duplicate=row[9],
                malformed=row[10],
                skipped=row[11],
                unpriced=row[12],
            )
            if row[14]:
                detail = json.loads(row[14])
                counts.problems = detail.get("problems", [])
                counts.notes = detail.get("notes", [])
            result[row[0]] = RefreshRecord(
                row[0], row[1], row[2], row[3], row[4], counts, row[13], row[15]
            )
        return result

    # -- budget changes ----------------------------------------------------------

    @contextmanager
    def recording_budget_change(self, change: BudgetChange) -> Iterator[None]:
        """Record ``change`` once the block inside (the write of the config) has
        succeeded: a failure inside leaves no row."""
        with self.connect() as con:
            con.execute("BEGIN")
            try:
                con.execute(
                    """INSERT INTO budget_changes VALUES
                           (nextval('budget_change_ids'), ?, ?, ?, ?, ?, ?)""",
                    [
                        change.scope,
                        change.old,
                        change.new,
                        change.currency,
                        change.changed_at,
                        change.config_path,
                    ],
                )
                yield
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # -- alerts ------------------------------------------------------------------

    def save_alerts(
        self,
        drafts: Sequence[AlertDraft],
        cleared: Sequence[int],
        now: dt.datetime,
    ) -> list[AlertRecord]:
        """Store new alerts with a pending delivery per channel and mark ``cleared``
        ones as passed, in one transaction; returns the new alerts in ``drafts``'
        order."""
        ids = []
        with self.connect() as con:
            con.execute("BEGIN")
            try:
                for alert_id in cleared:
                    con.execute(
                        "UPDATE alerts SET cleared_at = ? WHERE alert_id = ?",
                        [now, alert_id],
                    )
                for d in drafts:
                    alert_id = con.execute("SELECT nextval('alert_ids')").fetchall()[0][
                        0
                    ]
                    con.execute(
                        """INSERT INTO alerts VALUES
                           (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)""",
                        [
                            alert_id,
                            d.rule,
                            d.kind,
                            d.scope,
                            d.period,
                            d.severity,
                            now,
                            d.title,
                            d.message,
                            d.currency,
                            d.amount,
                            d.budget,
                            d.projected,
                            d.threshold,
                            d.covered,
                        ],
                    )
                    for channel in () if d.covered else d.channels:
                        con.execute(
                            """INSERT INTO alert_deliveries
                               VALUES (?, ?, 'pending', 0, NULL, NULL)""",
                            [alert_id, channel],
                        )
                    ids.append(alert_id)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
        return sorted(self.alerts(ids=ids), key=lambda a: a.alert_id)

    def alerts(
        self, *, open_only: bool = False, ids: Sequence[int] | None = None
    ) -> list[AlertRecord]:
        """Stored alerts, newest first: all, those not cleared, or the ones named."""
        where = []
        params: list[Any] = []
        if open_only:
            where.append("cleared_at IS NULL")
        if ids is not None:
            where.append("alert_id IN (SELECT unnest(?::BIGINT[]))")
            params.append(list(ids))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        with self.connect() as con:
            rows = con.execute(
                f"""SELECT alert_id, rule, kind, scope, period, severity, fired_at,
                           title, message, currency, amount, budget, projected,
                           threshold, covered, cleared_at, acknowledged_at
                    FROM alerts {clause}
                    ORDER BY fired_at DESC, alert_id DESC""",
                params,
            ).fetchall()
            found = [r[0] for r in rows]
            deliveries: dict[int, list[Delivery]] = defaultdict(list)
            for row in con.execute(
                """SELECT alert_id, channel, status, attempts, last_attempt, error
                   FROM alert_deliveries
                   WHERE alert_id IN (SELECT unnest(?::BIGINT[]))
                   ORDER BY alert_id, channel""",
                [found],
            ).fetchall():
                deliveries[row[0]].append(Delivery(*row[1:]))
        return [
            replace(AlertRecord(*r), deliveries=tuple(deliveries[r[0]])) for r in rows
        ]

    def record_delivery(
        self,
        alert_id: int,
        channel: str,
        *,
        error: str | None,
        at: dt.datetime,
    ) -> None:
        """One attempt to deliver an alert on a channel: sent, or failed with why."""
        with self.connect() as con:
            con.execute(
                """UPDATE alert_deliveries
                   SET status = ?, attempts = attempts + 1, last_attempt = ?,
                       error = ?
                   WHERE alert_id = ? AND channel = ?""",
                ["failed" if error else "sent", at, error, alert_id, channel],
            )

    def acknowledge_alert(self, alert_id: int, at: dt.datetime | None) -> None:
        """Acknowledge an alert, or with ``at`` None take the acknowledgement back."""
        with self.connect() as con:
            con.execute(
                "UPDATE alerts SET acknowledged_at = ? WHERE alert_id = ?",
                [at, alert_id],
            )

    def budget_changes(self) -> list[BudgetChange]:
        """Every recorded budget change, newest first."""
        with self.connect() as con:
            rows = con.execute(
                """SELECT scope, old_amount, new_amount, currency, changed_at,
                          config_path
                   FROM budget_changes ORDER BY changed_at DESC, change_id DESC"""
            ).fetchall()
        return [BudgetChange(*row) for row in rows]

    @staticmethod
    def parquet_columns(path: Path) -> list[str]:
        """A Parquet file's column names, read from its footer in memory."""
        con = duckdb.connect()
        try:
            rows = con.execute(
                "DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]
            ).fetchall()
        except duckdb.Error:
            return []
        finally:
            con.close()
        return [r[0] for r in rows]

    def is_empty(self) -> bool:
        with self.connect() as con:
            return not con.execute("SELECT count(*) FROM charges").fetchall()[0][0]

    # -- exchange rates ------------------------------------------------------------

    def save_rates(self, rates: Sequence[fx.Rate], *, fetched_at: dt.datetime) -> int:
        """Store rates fetched from the ECB in one transaction, a day and pair stored
        before replaced; returns how many were stored."""
        latest = {(r.day, r.base, r.quote): r for r in rates}
        if not latest:
            return 0
        with self.connect() as con:
            con.execute("BEGIN")
            try:
                con.execute(
                    f"""INSERT OR REPLACE INTO exchange_rates
                        SELECT unnest($days), unnest($bases), unnest($quotes),
                               unnest($rates)::{RATE}, $origin, $fetched_at""",
                    {
                        "days": [r.day for r in latest.values()],
                        "bases": [r.base for r in latest.values()],
                        "quotes": [r.quote for r in latest.values()],
                        "rates": [format(r.rate, "f") for r in latest.values()],
                        "origin": fx.ECB,
                        "fetched_at": fetched_at,
                    },
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return len(latest)

    def rates(self) -> list[fx.Rate]:
        """Every stored rate, by day, base and quote."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT day, base, quote, rate FROM exchange_rates ORDER BY ALL"
            ).fetchall()
        return [fx.Rate(*row) for row in rows]

    def rate_spans(self) -> dict[str, tuple[dt.date, dt.date]]:
        """The oldest and newest day of the stored ECB rates of each currency."""
        with self.connect() as con:
            rows = con.execute(
                """SELECT quote, min(day), max(day) FROM exchange_rates
                   WHERE origin = ? AND base = ? GROUP BY quote""",
                [fx.ECB, fx.EURO],
            ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    def rates_needed(
        self, zone: str, currency: str, fixed: Iterable[str]
    ) -> dict[str, tuple[dt.date, dt.date]]:
        """The oldest and newest local day of the charges in each currency that is
        neither the budget's nor has a fixed rate: those stored rates convert."""
        with self.connect() as con:
            rows = con.execute(
                f"""SELECT currency, min(day), max(day) FROM (
                        SELECT currency, {_local_day(zone)} AS day FROM charges
                        WHERE currency <> ? AND billed_cost IS NOT NULL
                          AND currency NOT IN (SELECT unnest(?::VARCHAR[])))
                    WHERE day IS NOT NULL GROUP BY currency""",
                [currency, sorted(fixed)],
            ).fetchall()
        return {r[0]: (r[1], r[2]) for r in rows}

    # -- queries of stored charges ---------------------------------------------------

    @contextmanager
    def _spend(self, q: MonthQuery) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection with the view ``spend``: charges with local day and amount,
        and ``rate_day``, the oldest day of the stored exchange rates behind a
        converted amount (null for the budget currency and fixed rates)."""
        with self.connect() as con:
            # The views of one session (a summary) share one ``fx``: it depends on
            # the zone, currency and fixed rates, not on the window.
            key = (q.zone, q.currency, tuple(sorted(q.rates.items())))
            made = getattr(self._held, "fx", None)
            if made is None or made[0] is not con or made[1] != key:
                self._exchange(con, q)
                self._held.fx = (con, key)
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE billed_days AS
                    SELECT DISTINCT lower(provider) AS provider, {_UTC_DAY} AS day
                    FROM charges
                    WHERE cost_basis = 'billed' AND charge_category = 'Usage'
                      AND provider IS NOT NULL"""
            )
            local_day = _local_day(q.zone, "ch.")
            con.execute(
                f"""CREATE OR REPLACE TEMP VIEW spend AS
                    SELECT ch.*,
                        {local_day} AS day,
                        CAST(CASE WHEN ch.currency = '{_sql_str(q.currency)}'
                                  THEN ch.billed_cost
                                  ELSE CAST(ch.billed_cost * fx.head AS DECIMAL(38,20))
                                     + CAST(ch.billed_cost * fx.tail AS DECIMAL(38,20))
                                  END AS {MONEY})
                            AS amount,
                        fx.as_of AS rate_day,
                        bd.day IS NOT NULL AS superseded,
                        ch.cost_basis IN ('billed', 'estimated')
                            AND coalesce(ch.billing, 'api') <> 'plan'
                            AND bd.day IS NULL AS counts
                    FROM charges ch
                    LEFT JOIN fx ON fx.currency = ch.currency
                     AND fx.day_number = {_day_number(local_day)}
                    LEFT JOIN billed_days bd
                      ON ch.cost_basis IN ('estimated', 'unpriced')
                     AND coalesce(ch.billing, 'api') <> 'plan'
                     AND bd.provider = lower(ch.provider)
                     AND bd.day = coalesce(
                         ch.charge_date, (ch.period_start AT TIME ZONE 'UTC')::DATE)"""
            )
            yield con

    def _exchange(self, con: duckdb.DuckDBPyConnection, q: MonthQuery) -> None:
        """The temp table ``fx``: every currency and local day of the stored charges
        outside the budget currency that has a rate on that day, with the rate (a
        fixed one from the config, else from the stored rates) as ``head`` plus
        ``tail`` (see :data:`RATE_TAIL`) and ``as_of``. The pairs are few
        (currencies times days), so :mod:`qoins_tui.fx` works the rates out.

        The day is a number of days since 1970 (see :func:`_day_number`): joined
        on a date, a window on ``spend.day`` would also filter ``fx`` by date, and
        where that leaves ``fx`` empty DuckDB 2.0 sums the window's other columns
        into too small a type (1.2M tokens summed to -128).
        """
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE fx (currency VARCHAR, day_number INTEGER,
                head {RATE_HEAD}, tail {RATE_TAIL}, as_of DATE)"""
        )
        pairs = con.execute(
            f"""SELECT DISTINCT currency, day FROM (
                    SELECT currency, {_local_day(q.zone)} AS day FROM charges
                    WHERE currency <> ? AND billed_cost IS NOT NULL)
                WHERE day IS NOT NULL""",
            [q.currency],
        ).fetchall()
        floating = [(c, day) for c, day in pairs if c not in q.rates]
        book = fx.RateBook(())
        if floating:
            book = self._rate_book(
                con,
                {c for c, _ in floating} | {q.currency},
                min(day for _, day in floating),
                max(day for _, day in floating),
            )
        rows = []
        for currency, day in pairs:
            found = fx.conversion(currency, q.currency, day, fixed=q.rates, book=book)
            if found is not None:
                head = found.rate.quantize(_HEAD, rounding=ROUND_DOWN)
                rows.append(
                    (
                        currency,
                        (day - _EPOCH).days,
                        format(head, "f"),
                        format(found.rate - head, "f"),
                        found.as_of,
                    )
                )
        if rows:
            columns = [list(c) for c in zip(*rows, strict=True)]
            names = ("currencies", "day_numbers", "heads", "tails", "as_of")
            con.execute(
                f"""INSERT INTO fx SELECT unnest($currencies), unnest($day_numbers),
                        unnest($heads)::{RATE_HEAD}, unnest($tails)::{RATE_TAIL},
                        unnest($as_of::DATE[])""",
                dict(zip(names, columns, strict=True)),
            )

    def _rate_book(
        self,
        con: duckdb.DuckDBPyConnection,
        currencies: Iterable[str],
        first: dt.date,
        last: dt.date,
    ) -> fx.RateBook:
        """The stored rates of the pairs that touch ``currencies`` (a step of a
        conversion into or out of one of them) from the newest on or before
        ``first`` to ``last``."""
        rows = con.execute(
            """WITH wanted AS (
                   SELECT day, base, quote, rate FROM exchange_rates
                   WHERE day <= $last
                     AND (base IN (SELECT unnest($codes::VARCHAR[]))
                          OR quote IN (SELECT unnest($codes::VARCHAR[])))
               ), floor AS (
                   SELECT base, quote, max(day) AS day FROM wanted
                   WHERE day <= $first GROUP BY base, quote
               )
               SELECT w.day, w.base, w.quote, w.rate
               FROM wanted w LEFT JOIN floor f ON f.base = w.base AND f.quote = w.quote
               WHERE w.day >= coalesce(f.day, $first)""",
            {"codes": sorted(currencies), "first": first, "last": last},
        ).fetchall()
        return fx.RateBook(fx.Rate(*row) for row in rows)

    def spend_by_service(self, q: MonthQuery) -> list[ServiceSpend]:
        """What counts against the budget in the window, by source and service."""
        with self._spend(q) as con:
            rows = con.execute(
                """SELECT source, provider, service, sum(amount),
                          sum(amount) FILTER (WHERE cost_basis = 'estimated')
                   FROM spend
                   WHERE counts AND amount IS NOT NULL AND day >= ? AND day < ?
                   GROUP BY ALL ORDER BY 4 DESC, 1, 2, 3""",
                [q.start, q.end],
            ).fetchall()
        return [
            ServiceSpend(r[0], r[1] or "", r[2] or "", r[3], r[4] or Decimal(0))
            for r in rows
        ]

    def daily_spend(
        self, q: MonthQuery, *, exclude_sources: Sequence[str] = ()
    ) -> dict[dt.date, Decimal]:
        """Net spend per local day in the window (days without charges are absent)."""
        with self._spend(q) as con:
            rows = con.execute(
                """SELECT day, sum(amount) FROM spend
                   WHERE counts AND amount IS NOT NULL AND day >= ? AND day < ?
                     AND source NOT IN (SELECT unnest(?::VARCHAR[]))
                   GROUP BY day""",
                [q.start, q.end, list(exclude_sources)],
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def daily_spend_by_source(
        self, q: MonthQuery, *, gross: bool = False
    ) -> dict[str, dict[dt.date, Decimal]]:
        """Spend per source and local day; ``gross`` leaves credits and refunds out
        (spike detection looks at usage, not at what a credit took back)."""
        with self._spend(q) as con:
            rows = con.execute(
                f"""SELECT source, day, sum(amount) FROM spend
                    WHERE counts AND amount IS NOT NULL AND day >= ? AND day < ?
                      {"AND amount > 0" if gross else ""}
                    GROUP BY ALL""",
                [q.start, q.end],
            ).fetchall()
        result: dict[str, dict[dt.date, Decimal]] = {}
        for source, day, amount in rows:
            result.setdefault(source, {})[day] = amount
        return result

    def window_spend_by_source(
        self, q: MonthQuery, hours: int
    ) -> dict[str, dict[dt.datetime, Decimal]]:
        """Gross spend per source and window of ``hours`` (a divisor of 24, so the
        windows start at local midnight), keyed by the window's local start as a
        naive wall-clock time: 00:00, 03:00, … for 3, also on a DST day.

        Only charges timed within the day count: no provider date and a period
        shorter than a day, such as an agent log's response; a day's bill cannot be
        placed in a window. Usage a bill of the same day supersedes still counts:
        it is the only record of when in the day the money went. Windows without
        spend are absent."""
        with self._spend(q) as con:
            rows = con.execute(
                """SELECT source,
                       time_bucket(to_hours($hours::BIGINT),
                                   timezone($zone, period_start)) AS window_start,
                       sum(amount)
                   FROM spend
                   WHERE cost_basis IN ('billed', 'estimated')
                     AND coalesce(billing, 'api') <> 'plan'
                     AND amount > 0 AND day >= $start AND day < $end
                     AND charge_date IS NULL AND period_end IS NOT NULL
                     AND epoch(period_end) - epoch(period_start) < 86400
                   GROUP BY ALL""",
                {"hours": hours, "zone": q.zone, "start": q.start, "end": q.end},
            ).fetchall()
        result: dict[str, dict[dt.datetime, Decimal]] = {}
        for source, start, amount in rows:
            result.setdefault(source, {})[start] = amount
        return result

    def unconverted(self, q: MonthQuery) -> list[tuple[str, Decimal]]:
        """(currency, amount) of counted charges in the window that neither a fixed
        nor a stored rate of their day converts."""
        with self._spend(q) as con:
            rows = con.execute(
                """SELECT currency, sum(billed_cost) FROM spend
                   WHERE counts AND amount IS NULL AND billed_cost IS NOT NULL
                     AND day >= ? AND day < ?
                   GROUP BY currency ORDER BY currency""",
                [q.start, q.end],
            ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def rate_days(self, q: MonthQuery) -> tuple[dt.date, dt.date] | None:
        """The oldest and newest day of the stored exchange rates that converted
        charges in the window, or None when none did."""
        with self._spend(q) as con:
            oldest, newest = con.execute(
                """SELECT min(rate_day), max(rate_day) FROM spend
                   WHERE amount IS NOT NULL AND day >= ? AND day < ?""",
                [q.start, q.end],
            ).fetchall()[0]
        return None if oldest is None else (oldest, newest)

    def unpriced(self, q: MonthQuery) -> list[tuple[str, str, int]]:
        """(provider, model, tokens) of usage no price table knows, in the window."""
        with self._spend(q) as con:
            rows = con.execute(
                """SELECT provider, model,
                          sum(coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0)
                              + coalesce(cache_write_5m_tokens, 0)
                              + coalesce(cache_write_1h_tokens, 0)
                              + coalesce(output_tokens, 0))::BIGINT
                   FROM spend WHERE cost_basis = 'unpriced' AND NOT superseded
                     AND day >= ? AND day < ?
                   GROUP BY ALL ORDER BY 3 DESC, 1, 2""",
                [q.start, q.end],
            ).fetchall()
        return [(r[0] or "", r[1] or "", r[2]) for r in rows]

    def plan_value(self, q: MonthQuery) -> dict[str, Decimal]:
        """Agent usage a flat plan pays for, at API prices, by source: not spend."""
        with self._spend(q) as con:
            rows = con.execute(
                """SELECT source, sum(amount) FROM spend
                   WHERE billing = 'plan' AND amount IS NOT NULL
                     AND day >= ? AND day < ?
                   GROUP BY source""",
                [q.start, q.end],
            ).fetchall()
        return {r[0]: r[1] for r in rows}

    def source_details(self, q: MonthQuery, source: str) -> list[ServiceLine]:
        """The services a source brought in during the window, by SKU or model, by
        project or account, and apart for the estimates a bill replaced."""
        with self._spend(q) as con:
            rows = con.execute(
                """SELECT provider, service, coalesce(model, sku), count(*),
                          sum(amount) FILTER (WHERE amount IS NOT NULL),
                          bool_or(cost_basis = 'unpriced'), any_value(currency),
                          sum(coalesce(input_tokens, 0) + coalesce(cache_read_tokens, 0)
                              + coalesce(cache_write_5m_tokens, 0)
                              + coalesce(cache_write_1h_tokens, 0)
                              + coalesce(output_tokens, 0))::BIGINT,
                          bool_or(billing = 'plan'), account, superseded
                   FROM spend WHERE source = ? AND day >= ? AND day < ?
                   GROUP BY ALL ORDER BY 5 DESC NULLS LAST, 1, 2, 3, 10, 11""",
                [source, q.start, q.end],
            ).fetchall()
        return [
            ServiceLine(
                provider=r[0] or "",
                service=r[1] or "",
                detail=r[2] or "",
                charges=r[3],
                amount=r[4],
                has_unpriced=bool(r[5]),
                tokens=r[7],
                plan=bool(r[8]),
                account=r[9] or "",
                superseded=bool(r[10]),
            )
            for r in rows
        ]

    def reconciliation(self, q: MonthQuery) -> list[Reconciliation]:
        """Billed against estimated spend on the UTC days in the window both cover.

        One row per provider and estimating source: the provider's billed usage on
        the days that source also estimated, and the estimate the bill replaced.
        """
        with self._spend(q) as con:
            rows = con.execute(
                f"""WITH bill AS (
                        SELECT lower(provider) AS p, {_UTC_DAY} AS d,
                               any_value(provider) AS provider, sum(amount) AS billed
                        FROM spend
                        WHERE cost_basis = 'billed' AND charge_category = 'Usage'
                          AND amount IS NOT NULL
                        GROUP BY 1, 2
                    ), est AS (
                        SELECT lower(provider) AS p, {_UTC_DAY} AS d, source,
                               sum(amount) AS estimated
                        FROM spend
                        WHERE superseded AND coalesce(billing, 'api') <> 'plan'
                          AND amount IS NOT NULL
                        GROUP BY 1, 2, 3
                    )
                    SELECT any_value(bill.provider), est.source, count(*),
                           sum(bill.billed), sum(est.estimated)
                    FROM bill JOIN est ON est.p = bill.p AND est.d = bill.d
                    WHERE bill.d >= ? AND bill.d < ?
                    GROUP BY bill.p, est.source ORDER BY 1, 2""",
                [q.start, q.end],
            ).fetchall()
        return [Reconciliation(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def sources_with_charges(self) -> list[str]:
        with self.connect() as con:
            rows = con.execute(
                "SELECT DISTINCT source FROM charges ORDER BY 1"
            ).fetchall()
        return [r[0] for r in rows]


@dataclass(frozen=True)
class ServiceSpend:
    source: str
    provider: str
    service: str
    spent: Decimal
    estimated: Decimal


@dataclass(frozen=True)
class Reconciliation:
    """A provider's bill beside one source's estimate of the same UTC days."""

    provider: str
    source: str
    days: int
    billed: Decimal
    estimated: Decimal

    @property
    def difference(self) -> Decimal:
        """How far the estimate is from the bill (positive: it estimates more)."""
        return self.estimated - self.billed


@dataclass(frozen=True)
class ServiceLine:
    provider: str
    service: str
    detail: str
    charges: int
    amount: Decimal | None
    has_unpriced: bool
    tokens: int
    plan: bool
    account: str = ""
    """The project, workspace or account the charges belong to, where the source
    names one."""
    superseded: bool = False
    """The charges are estimates on days their provider's bill covers, so none
    counts; the same service's other days are a line of their own."""


PriceLookup = Callable[[str, str, dt.date], Rates | None]
"""(provider id, model, UTC day) → rates, or None for a model no table prices."""

_TOKEN_COLUMNS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_tokens",
    "cache_write_5m": "cache_write_5m_tokens",
    "cache_write_1h": "cache_write_1h_tokens",
}
_TIERED = (
    "r.threshold IS NOT NULL AND (b.input_tokens + b.cache_read_tokens"
    " + b.cache_write_5m_tokens + b.cache_write_1h_tokens) > r.threshold"
)
_TOKEN_COST = " + ".join(
    f"b.{tokens} * (CASE WHEN {_TIERED} THEN r.t_{kind} ELSE r.{kind} END)"
    for kind, tokens in _TOKEN_COLUMNS.items()
)
_PRICED_SQL = f"""
    SELECT b.record_key, r.version,
           CAST(({_TOKEN_COST}) * 0.000001 AS {MONEY}) AS cost
    FROM best b JOIN rates r
      ON r.model = b.model AND r.day = (b.ts AT TIME ZONE 'UTC')::DATE
"""


_STORED_COLUMNS = ("source", *CHARGE_COLUMNS, "fingerprint")

_UTC_DAY = "coalesce(charge_date, (period_start AT TIME ZONE 'UTC')::DATE)"
"""A charge's day as its provider bills it: its date, or its start's UTC day."""


_EPOCH = dt.date(1970, 1, 1)


def _day_number(day: str) -> str:
    """The SQL date ``day`` as days since 1970, as ``fx`` keys a day."""
    return f"date_diff('day', DATE '{_EPOCH}', {day})"


def _local_day(zone: str, table: str = "") -> str:
    """A charge's day as budgets count it: its date, or its start's day in ``zone``
    (``table`` is the charges' alias with its dot, if any)."""
    return (
        f"coalesce({table}charge_date, "
        f"timezone('{_sql_str(zone)}', {table}period_start)::DATE)"
    )


def _charge_row(source: str, charge: Charge) -> list[Any]:
    values = {
        "record_key": charge.record_key,
        "period_start": charge.period_start,
        "period_end": charge.period_end,
        "charge_date": charge.charge_date,
        "provider": charge.provider,
        "service": charge.service,
        "service_category": charge.service_category,
        "sku": charge.sku,
        "model": charge.model,
        "billed_cost": charge.billed_cost,
        "list_cost": charge.list_cost,
        "currency": charge.currency,
        "charge_category": charge.charge_category,
        "quantity": charge.quantity,
        "unit": charge.unit,
        "input_tokens": charge.input_tokens,
        "cache_read_tokens": charge.cache_read_tokens,
        "cache_write_5m_tokens": charge.cache_write_5m_tokens,
        "cache_write_1h_tokens": charge.cache_write_1h_tokens,
        "output_tokens": charge.output_tokens,
        "cost_basis": charge.cost_basis,
        "price_version": charge.price_version,
        "billing": charge.billing,
        "origin": charge.origin,
        "repository": charge.repository,
        "account": charge.account,
        "resource_id": charge.resource_id,
        "tags": json.dumps(dict(charge.tags), sort_keys=True) if charge.tags else None,
        "member": charge.member,
        "billing_account": None,
        "billing_period_start": None,
    }
    fingerprint = hashlib.sha256(
        json.dumps(values, default=str, sort_keys=True).encode()
    ).hexdigest()[:32]
    return [source, *(values[c] for c in CHARGE_COLUMNS), fingerprint]


def _malformed_note(path: str, bad: int, collector: BulkCollector) -> str:
    """Where a file's malformed lines are: the numbers of those that are no JSON
    object, and how many more lack a field the reader needs (a valid timestamp)."""
    numbers = collector.malformed_lines(Path(path))
    shown = ", ".join(str(n) for n in numbers[:20])
    parts = []
    if numbers:
        more = f" and {len(numbers) - 20} more" if len(numbers) > 20 else ""
        plural = "s" if len(numbers) > 1 else ""
        parts.append(f"malformed line{plural} {shown}{more}")
    rest = bad - len(numbers)
    if rest > 0:
        plural = "s" if rest > 1 else ""
        parts.append(f"{rest} line{plural} without a field QOINs needs (a timestamp)")
    return f"{path}: skipped " + "; ".join(parts)


def _content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _file_state(path: Path) -> tuple[int, int, int, int]:
    st = os.stat(path)
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


_REFUSED = "refused row: "


def _short_error(exc: BaseException) -> str:
    """DuckDB's first line, which names the problem; the rest repeats the options.

    A row a collector refused carries its own message, said as the file's fault.
    """
    text = str(exc).strip()
    if not text:
        return type(exc).__name__
    first = text.splitlines()[0]
    if _REFUSED in first:
        return first.split(_REFUSED, 1)[1] + "; the file was not imported."
    return first


def _sql_str(value: str) -> str:
    return value.replace("'", "''")
