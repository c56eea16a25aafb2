"""FOCUS cost exports (FinOps Open Cost and Usage Specification 1.0 to 1.3).

Reads CSV, gzipped CSV, Parquet and JSON lines files through DuckDB's own readers,
from ``qoins import`` or from the glob ``paths`` of a ``type: focus`` source. No key
is needed. ``BilledCost`` is the cash amount budgets count; credits and refunds are
negative rows and are kept. The provider is ``ServiceProviderName`` (1.3) or else
``ProviderName`` (1.0 to 1.2). The literal ``NULL``, empty fields and byte-order marks
at the start of any field are read as nothing. A charge period of whole UTC days
keeps its provider's date; shorter periods are instants. The unit of idempotency is
the file: a changed file's rows replace its earlier ones.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from collectors.base import BulkCollector, BulkSpec, files_matching

REQUIRED = ("BilledCost", "BillingCurrency", "ChargePeriodStart", "ServiceName")
PROVIDER_COLUMNS = ("ServiceProviderName", "ProviderName")
OPTIONAL = (
    "ChargePeriodEnd",
    "ListCost",
    "ChargeCategory",
    "ServiceCategory",
    "SkuId",
    "ConsumedQuantity",
    "ConsumedUnit",
    "SubAccountId",
    "ResourceId",
    "Tags",
    "BillingAccountId",
    "BillingPeriodStart",
)
ALL_COLUMNS = (*REQUIRED, *PROVIDER_COLUMNS, *OPTIONAL)

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"


def sniff_format(path: Path) -> tuple[str, bool]:
    """(``csv`` | ``json`` | ``parquet``, gzipped) from the file's first bytes."""
    with path.open("rb") as handle:
        head = handle.read(4)
        if head == PARQUET_MAGIC:
            return "parquet", False
        handle.seek(0)
        compressed = head[:2] == GZIP_MAGIC
        stream: io.BufferedIOBase | gzip.GzipFile = (
            gzip.GzipFile(fileobj=handle) if compressed else handle
        )
        sample = stream.read(4096)
    text = sample.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    return ("json" if text.startswith("{") else "csv"), compressed


def header_columns(path: Path) -> list[str]:
    """The column names of a CSV file or the keys of a JSON-lines file's first row."""
    kind, compressed = sniff_format(path)
    if kind == "parquet":
        return []
    opener = gzip.open if compressed else open
    with opener(path, "rt", encoding="utf-8-sig", errors="replace", newline="") as f:
        first = f.readline()
    if kind == "json":
        try:
            row = json.loads(first)
        except ValueError:
            return []
        return list(row) if isinstance(row, dict) else []
    return [name.strip().lstrip("\ufeff") for name in next(csv.reader([first]), [])]


def missing_columns(columns: Iterable[str]) -> list[str]:
    """The FOCUS columns a file must have and does not."""
    present = set(columns)
    missing = [name for name in REQUIRED if name not in present]
    if not present.intersection(PROVIDER_COLUMNS):
        missing.append(" or ".join(PROVIDER_COLUMNS))
    return missing


def looks_like_focus(columns: Iterable[str]) -> bool:
    return not missing_columns(columns)


def _clean(column: str) -> str:
    """Nothing for ``NULL`` and empty fields; a leading byte-order mark removed.

    Only the rare field that starts with a mark pays for the string surgery.
    """
    c = f'"{column}"'
    return (
        f"CASE WHEN {c} = '' OR {c} = 'NULL' THEN NULL "
        f"WHEN starts_with({c}, chr(65279)) "
        f"THEN nullif(nullif(ltrim({c}, chr(65279)), ''), 'NULL') "
        f"ELSE {c} END"
    )


_ISO_INSTANT = (
    r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?"
    r"( ?(Z|UTC|[+-]\d{2}(:?\d{2})?))?"
)


def _instant(column: str) -> str:
    """An ISO 8601 date and time as an instant (UTC when no zone is written).

    DuckDB's own cast also takes forms like ``5/1/25`` and reads them as the year 5;
    a spreadsheet-formatted date is refused instead of guessed.
    """
    return (
        f"CASE WHEN regexp_full_match(trim({column}), '{_ISO_INSTANT}') "
        f"THEN try_cast({column} AS TIMESTAMPTZ) END"
    )


def _readers(groups: Mapping[str, list[str]]) -> list[str]:
    readers = []
    csv_options = (
        "header = true, all_varchar = true, nullstr = ['NULL', ''], filename = true, "
        "union_by_name = true"
    )
    if groups.get("csv_plain"):
        readers.append(f"SELECT * FROM read_csv($csv_plain, {csv_options})")
    if groups.get("csv_gzip"):
        readers.append(
            f"SELECT * FROM read_csv($csv_gzip, {csv_options}, compression = 'gzip')"
        )
    json_options = (
        "format = 'newline_delimited', filename = true, union_by_name = true, "
        "maximum_object_size = 268435456"
    )
    if groups.get("json_plain"):
        readers.append(f"SELECT * FROM read_json($json_plain, {json_options})")
    if groups.get("json_gzip"):
        readers.append(
            f"SELECT * FROM read_json($json_gzip, {json_options}, compression = 'gzip')"
        )
    if groups.get("parquet"):
        readers.append(
            "SELECT * FROM read_parquet($parquet, filename = true, "
            "union_by_name = true)"
        )
    return readers


def build_select(groups: Mapping[str, list[str]]) -> str:
    """The SELECT that turns FOCUS rows of every format into charge-table rows."""
    shape = ", ".join(f'NULL::VARCHAR AS "{c}"' for c in ALL_COLUMNS)
    union = " UNION ALL BY NAME ".join(
        [f"(SELECT {shape}, NULL::VARCHAR AS filename LIMIT 0)"]
        + [f"({reader})" for reader in _readers(groups)]
    )
    cleaned = ",\n        ".join(f'{_clean(c)} AS "{c}"' for c in ALL_COLUMNS)
    return f"""
WITH raw AS (SELECT {cleaned}, filename FROM ({union})),
typed AS (
    SELECT *,
        try_cast("BilledCost" AS DECIMAL(38,12)) AS billed,
        {_instant('"ChargePeriodStart"')} AS period_start,
        {_instant('"ChargePeriodEnd"')} AS period_end
    FROM raw
)
SELECT filename,
    CASE
        WHEN "BilledCost" IS NULL THEN 'a row has no BilledCost'
        WHEN billed IS NULL THEN 'BilledCost ''' || "BilledCost"
            || ''' is not a plain number (write 10000.00, not $10,000.00)'
        WHEN "ChargePeriodStart" IS NULL THEN 'a row has no ChargePeriodStart'
        WHEN period_start IS NULL THEN 'ChargePeriodStart ''' || "ChargePeriodStart"
            || ''' is not a date and time (write 2025-05-01 00:00:00)'
        WHEN "BillingCurrency" IS NULL THEN 'a row has no BillingCurrency'
    END AS problem,
    NULL::VARCHAR AS record_key,
    period_start,
    period_end,
    CASE WHEN period_end > period_start
              AND period_start = date_trunc('day', period_start)
              AND (epoch(period_end) - epoch(period_start)) % 86400 = 0
         THEN period_start::DATE END AS charge_date,
    coalesce("ServiceProviderName", "ProviderName") AS provider,
    "ServiceName" AS service,
    "ServiceCategory" AS service_category,
    "SkuId" AS sku,
    NULL::VARCHAR AS model,
    billed AS billed_cost,
    try_cast("ListCost" AS DECIMAL(38,12)) AS list_cost,
    upper("BillingCurrency") AS currency,
    coalesce("ChargeCategory", 'Usage') AS charge_category,
    try_cast("ConsumedQuantity" AS DECIMAL(38,12)) AS quantity,
    "ConsumedUnit" AS unit,
    NULL::BIGINT AS input_tokens,
    NULL::BIGINT AS cache_read_tokens,
    NULL::BIGINT AS cache_write_5m_tokens,
    NULL::BIGINT AS cache_write_1h_tokens,
    NULL::BIGINT AS output_tokens,
    'billed' AS cost_basis,
    NULL::VARCHAR AS price_version,
    NULL::VARCHAR AS billing,
    NULL::VARCHAR AS origin,
    NULL::VARCHAR AS repository,
    "SubAccountId" AS account,
    "ResourceId" AS resource_id,
    CASE WHEN json_valid("Tags") THEN "Tags"::JSON END AS tags,
    NULL::VARCHAR AS member,
    "BillingAccountId" AS billing_account,
    try_cast("BillingPeriodStart" AS TIMESTAMPTZ)::DATE AS billing_period_start
FROM typed
"""


def group_files(files: Iterable[Path]) -> dict[str, list[str]]:
    """Files by the reader they need.

    Keys: ``csv_plain``, ``csv_gzip``, ``json_plain``, ``json_gzip``, ``parquet``.
    """
    groups: dict[str, list[str]] = {}
    for path in files:
        kind, compressed = sniff_format(path)
        key = (
            kind if kind == "parquet" else f"{kind}_{'gzip' if compressed else 'plain'}"
        )
        groups.setdefault(key, []).append(str(path))
    return groups


class FocusCollector(BulkCollector):
    type = "focus"
    title = "FOCUS export"
    dedupe_by_content = True
    settings_keys = frozenset({"paths"})

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> tuple[str, str] | None:
        paths = settings.get("paths")
        if not paths:
            return ("paths", "a focus source needs paths: a list of files or globs.")
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            return (
                "paths",
                "must be a list of files or globs, such as exports/*.csv.gz.",
            )
        return None

    def files(self) -> list[Path]:
        return files_matching(
            self.context.settings.get("paths", []),
            given=self.context.extra.get("files"),
        )

    def check_file(self, path: Path) -> str | None:
        try:
            columns = header_columns(path)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            return f"cannot be read ({exc})."
        if not columns and sniff_format(path)[0] == "parquet":
            return None
        missing = missing_columns(columns)
        if missing:
            return (
                f"is not a FOCUS export: it lacks {', '.join(missing)}. A FOCUS file "
                f"has at least {', '.join(REQUIRED)} and ProviderName or "
                "ServiceProviderName."
            )
        return None

    def spec(self, files: list[Path]) -> BulkSpec:
        groups = group_files(files)
        return BulkSpec(target="charges", select=build_select(groups), params=groups)
