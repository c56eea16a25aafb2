"""Cursor usage exports: the per-request CSV the Cursor dashboard downloads.

Read by ``qoins import FILE`` (the format is told by its header, or forced with
``--format cursor``) and, on every refresh, from the glob ``paths`` of a ``type:
cursor`` source. No key is needed: QOINs reads the file, never Cursor's dashboard.
Columns are found by name, case-insensitively, never by position: the current export
has ``Date, Kind, Model, Max Mode, Input (w/ Cache Write), Input (w/o Cache Write),
Cache Read, Output Tokens, Total Tokens, Cost`` (some add ``User``, ``Cloud Agent
ID``, ``Automation ID``); older ones have ``Date, Model, …, Cost, Cost to you``
without ``Kind``. Token columns exist only from about 2025-08-26; older rows carry
cost alone. ``Cost`` is US dollars, with or without a leading ``$``.

How a row becomes a charge, by what Cursor says it billed:

- ``Kind`` naming the plan (``Included``, ``Included in Pro``, ``Included in
  Business``, ``Free``), or a ``Cost`` cell that reads ``Included`` or ``Free``: plan
  usage, stored with ``billing: plan``. Its ``Cost`` is what the request used of the
  plan, shown as the plan's value and never as spend; where the cell reads
  ``Included``, that value is unknown and stored as none, not as $0.
- An older export without ``Kind``: ``Cost to you`` of 0, ``Included``, ``-`` or
  empty is plan usage as above; otherwise ``Cost to you`` is the billed amount and
  ``Cost`` its list price.
- Any other kind (``On-Demand``, ``Usage-based``): spend, billed at ``Cost`` with
  ``billing: api``.
- ``Errored, No Charge``, ``Aborted, Not Charged``, ``User API Key`` (the user's own
  provider key paid, and that provider bills it), and a spend row whose ``Cost`` is
  ``-`` or empty: no charge of Cursor's; counted as skipped.

Token columns are disjoint counts whose sum is ``Total Tokens`` in Cursor's exports
(1,200 + 300 + 45,000 + 800 = 47,300): ``Input (w/ Cache Write)`` is the input
written to the prompt cache, stored as cache writes, and ``Input (w/o Cache
Write)`` the plain input. Reading the first as including the second would give
negative cache writes on real rows such as ``0, 12000`` or ``9541, 117382``.

A row's key is a hash of its date (as an instant), kind, model, token counts, cost
and user, followed by the number of its occurrence in the file: two equal requests
in one export both count, and the same request in two overlapping exports of one
source counts once. A malformed row (a date that is not ISO 8601, a cost or token
count that is not a number) refuses the whole file with its line and column, and
leaves the store as it was.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from collectors.base import (
    Charge,
    CollectorError,
    RecordBatch,
    RecordCollector,
    files_matching,
)

PROVIDER = "Cursor"
REQUIRED = ("Date", "Model", "Cost")
DETECTING = ("Kind", "Cost to you")
"""A header with REQUIRED and one of these is taken for a Cursor export."""
TOKEN_COLUMNS = (
    "Input (w/ Cache Write)",
    "Input (w/o Cache Write)",
    "Cache Read",
    "Output Tokens",
    "Total Tokens",
)
OPTIONAL = ("Kind", *TOKEN_COLUMNS, "Cost to you", "User")
"""The other columns read; the rest (Max Mode, agent ids) are left in the file."""

_NO_AMOUNT = frozenset({"", "-"})
_PLAN_WORDS = frozenset({"included", "free"})
_NOT_BILLED = ("no charge", "not charged", "api key")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_DOLLARS = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+")
_COUNT = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")


class RowError(ValueError):
    """A cell that cannot be read; ``column`` names it as the header does."""

    def __init__(self, column: str, problem: str) -> None:
        super().__init__(problem)
        self.column = column
        self.problem = problem


def header_index(names: Sequence[str]) -> dict[str, int]:
    """Column positions by lower-case name; the first of two equal names wins."""
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        index.setdefault(name.strip().lstrip("\ufeff").lower(), position)
    return index


def missing_columns(names: Sequence[str]) -> list[str]:
    present = header_index(names)
    return [name for name in REQUIRED if name.lower() not in present]


def looks_like_cursor(names: Sequence[str]) -> bool:
    """True for a header with Date, Model and Cost, and Kind or Cost to you."""
    present = header_index(names)
    return not missing_columns(names) and any(
        name.lower() in present for name in DETECTING
    )


@dataclass(frozen=True)
class _Row:
    """One export row's cells by canonical column name, and where it stands."""

    line: int
    cells: Mapping[str, str]

    def text(self, column: str) -> str:
        return self.cells.get(column, "").strip()

    def has(self, column: str) -> bool:
        return column in self.cells


def read_rows(path: Path) -> list[_Row]:
    """The rows of an export; raises CollectorError on a file that is not one."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise CollectorError(f"{path}: is empty; nothing was imported.")
            missing = missing_columns(header)
            if missing:
                raise CollectorError(
                    f"{path}: is not a Cursor usage export: it lacks "
                    f"{', '.join(missing)}. A Cursor export has at least "
                    f"{', '.join(REQUIRED)}; nothing was imported."
                )
            index = header_index(header)
            wanted = {
                name: index[name.lower()]
                for name in (*REQUIRED, *OPTIONAL)
                if name.lower() in index
            }
            rows = []
            for cells in reader:
                if not any(cell.strip() for cell in cells):
                    continue
                if len(cells) != len(header):
                    raise CollectorError(
                        f"{path}, line {reader.line_num}: the row has {len(cells)} "
                        f"fields and the header {len(header)}; the file was not "
                        "imported. Download the export again."
                    )
                rows.append(
                    _Row(
                        reader.line_num,
                        {name: cells[position] for name, position in wanted.items()},
                    )
                )
    except UnicodeDecodeError as exc:
        raise CollectorError(
            f"{path}: is not UTF-8 text (byte {exc.start}); nothing was imported."
        ) from exc
    except csv.Error as exc:
        raise CollectorError(
            f"{path}: cannot be read as CSV ({exc}); nothing was imported."
        ) from exc
    except OSError as exc:
        raise CollectorError(
            f"{path}: cannot be read ({exc.strerror or exc}); nothing was imported."
        ) from exc
    return rows


def _shown(text: str) -> str:
    """A cell quoted for a message, cut short: a cell is data, not a paragraph."""
    return repr(text if len(text) <= 40 else text[:40] + "…")


def parse_when(text: str) -> dt.datetime | dt.date:
    """An ISO 8601 instant (UTC when no zone is written) or a bare date."""
    try:
        if _DATE_ONLY.fullmatch(text):
            return dt.date.fromisoformat(text)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RowError(
            "Date",
            f"{_shown(text)} is not an ISO 8601 date (write 2026-01-05T10:00:00Z)",
        ) from None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def parse_dollars(column: str, text: str) -> Decimal | None:
    """Dollars with an optional ``$`` and sign; None for ``-``, empty or a plan
    word (``Included``, ``Free``)."""
    if text in _NO_AMOUNT or text.lower() in _PLAN_WORDS:
        return None
    negative = text.startswith("-")
    digits = text.removeprefix("-").removeprefix("$")
    if not negative and digits.startswith("-"):
        negative, digits = True, digits[1:]
    if not _DOLLARS.fullmatch(digits):
        raise RowError(column, f"{_shown(text)} is not an amount in dollars")
    try:
        amount = Decimal(digits.replace(",", ""))
    except InvalidOperation:
        raise RowError(column, f"{_shown(text)} is not an amount in dollars") from None
    return -amount if negative else amount


def parse_count(column: str, text: str) -> int | None:
    if text in _NO_AMOUNT:
        return None
    if not _COUNT.fullmatch(text):
        raise RowError(column, f"{_shown(text)} is not a whole number of tokens")
    return int(text.replace(",", ""))


def _is_plan_word(text: str) -> bool:
    words = text.lower()
    return "included" in words or words == "free"


@dataclass(frozen=True)
class _Request:
    """The cells of one row, read into values."""

    when: dt.datetime | dt.date
    kind: str
    model: str
    cost_text: str
    cost: Decimal | None
    to_you: Decimal | None
    tokens: Mapping[str, int | None]
    user: str


def read_request(row: _Row) -> _Request:
    """The values of a row's cells; raises RowError naming the first bad cell."""
    return _Request(
        when=parse_when(row.text("Date")),
        kind=row.text("Kind"),
        model=row.text("Model"),
        cost_text=row.text("Cost"),
        cost=parse_dollars("Cost", row.text("Cost")),
        to_you=(
            parse_dollars("Cost to you", row.text("Cost to you"))
            if row.has("Cost to you")
            else None
        ),
        tokens={c: parse_count(c, row.text(c)) for c in TOKEN_COLUMNS},
        user=row.text("User"),
    )


def request_hash(request: _Request) -> str:
    """The hash of what identifies a request, the same in every export of it."""
    spent = (
        request.cost_text.lower()
        if request.cost is None
        else format(request.cost.normalize(), "f")
    )
    counts = request.tokens.values()
    parts = [
        request.when.isoformat(),
        request.kind,
        request.model,
        *("" if n is None else str(n) for n in counts),
        spent,
        request.user,
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def request_charge(row: _Row, request: _Request, key: str) -> Charge | None:
    """The charge of one request, or None for one Cursor did not bill."""
    if any(word in request.kind.lower() for word in _NOT_BILLED):
        return None
    if _is_plan_word(request.kind) or _is_plan_word(request.cost_text):
        plan = True
    elif not row.has("Kind") and row.has("Cost to you"):
        plan = request.to_you is None or request.to_you == 0
    else:
        plan = False
    billed, listed = request.cost, None
    if not plan and request.to_you is not None:
        billed, listed = request.to_you, request.cost
    if billed is None and not plan:
        return None

    tokens = request.tokens
    parts = [n for c in TOKEN_COLUMNS[:4] if (n := tokens[c]) is not None]
    total = tokens["Total Tokens"]
    if total is None and parts:
        total = sum(parts)
    instant = request.when if isinstance(request.when, dt.datetime) else None
    return Charge(
        record_key=key,
        provider=PROVIDER,
        service=request.model or PROVIDER,
        billed_cost=billed,
        currency="USD",
        charge_date=None if instant else request.when,
        period_start=instant,
        period_end=instant,
        service_category="AI and Machine Learning",
        sku=request.kind or None,
        model=request.model or None,
        list_cost=listed,
        quantity=None if total is None else Decimal(total),
        unit=None if total is None else "tokens",
        input_tokens=tokens["Input (w/o Cache Write)"],
        cache_read_tokens=tokens["Cache Read"],
        cache_write_5m_tokens=tokens["Input (w/ Cache Write)"],
        output_tokens=tokens["Output Tokens"],
        cost_basis="billed",
        billing="plan" if plan else "api",
        member=request.user or None,
    )


def read_export(path: Path) -> tuple[list[Charge], int, int]:
    """(charges, rows read, rows skipped) of one export; a bad row refuses it all."""
    rows = read_rows(path)
    charges = []
    skipped = 0
    seen: dict[str, int] = {}
    for row in rows:
        try:
            request = read_request(row)
        except RowError as exc:
            raise CollectorError(
                f"{path}, line {row.line}, column {exc.column}: {exc.problem}; the "
                "file was not imported. Fix that cell or download the export again."
            ) from None
        digest = request_hash(request)
        seen[digest] = seen.get(digest, 0) + 1
        charge = request_charge(row, request, f"{digest}:{seen[digest]}")
        if charge is None:
            skipped += 1
        else:
            charges.append(charge)
    return charges, len(rows), skipped


class CursorCollector(RecordCollector):
    type = "cursor"
    title = "Cursor usage export"
    settings_keys = frozenset({"paths"})

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> tuple[str, str] | None:
        paths = settings.get("paths")
        if paths is not None and (
            not isinstance(paths, list) or not all(isinstance(p, str) for p in paths)
        ):
            return (
                "paths",
                "must be a list of files or globs, such as ~/Downloads/usage-*.csv.",
            )
        return None

    def files(self) -> list[Path]:
        given = self.context.extra.get("files")
        patterns = self.context.settings.get("paths") or []
        if given is None and not patterns:
            # Only imported: nothing to read on a refresh.
            return []
        return files_matching(patterns, given=given)

    def collect(self) -> RecordBatch:
        charges: list[Charge] = []
        read = skipped = 0
        for path in self.files():
            found, rows, passed = read_export(path)
            charges.extend(found)
            read += rows
            skipped += passed
        return RecordBatch(charges, read=read, skipped=skipped)
