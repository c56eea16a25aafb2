"""FOCUS exports: the shipped sample, file formats, versions, nulls, BOMs, credits."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json
import shutil
from collections import defaultdict
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb

from qoins_tui.config import Settings
from qoins_tui.refresh import import_files, run_refresh
from qoins_tui.store import Store
from tests.conftest import make_settings

SAMPLE = Path(str(resources.files("qoins_tui").joinpath("demo/focus_sample_1.0.csv")))
SPEC_EXAMPLES = Path(__file__).parent / "data" / "focus" / "spec-examples"
NOW = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)

HEADER = [
    "BilledCost",
    "ListCost",
    "BillingCurrency",
    "ChargeCategory",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ProviderName",
    "ServiceName",
    "ServiceCategory",
    "SubAccountId",
    "ResourceId",
    "Tags",
]
ROWS = [
    [
        "0.4200",
        "0.5000",
        "USD",
        "Usage",
        "2025-03-01 00:00:00",
        "2025-03-01 01:00:00",
        "AWS",
        "Amazon Simple Queue Service",
        "Integration",
        "111122223333",
        "arn:aws:sqs:eu-west-1:111122223333:jobs",
        '{"application": "billing-api"}',
    ],
    [
        "-1.0000",
        "NULL",
        "USD",
        "Credit",
        "2025-03-01 00:00:00",
        "2025-03-02 00:00:00",
        "AWS",
        "Amazon Simple Queue Service",
        "Integration",
        "111122223333",
        "NULL",
        "NULL",
    ],
    [
        "12.345678901234",
        "",
        "usd",
        "Usage",
        "2025-03-02 00:00:00",
        "2025-03-03 00:00:00",
        "Microsoft",
        "Virtual Machines",
        "Compute",
        "sub-1",
        "vm-1",
        "",
    ],
]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def stored(store: Store) -> list[tuple[Any, ...]]:
    with store.connect() as con:
        return con.execute(
            """SELECT provider, service, service_category, billed_cost, list_cost,
                      currency, charge_category, period_start, period_end,
                      charge_date, account, resource_id, tags::VARCHAR
               FROM charges ORDER BY billed_cost"""
        ).fetchall()


def import_one(store: Store, path: Path) -> Any:
    results = import_files(make_settings(), store, [path], now=NOW)
    assert len(results) == 1
    return results[0]


def test_shipped_sample_totals_match_an_independent_sum(store: Store) -> None:
    expected: dict[str, Decimal] = defaultdict(Decimal)
    rows: dict[str, int] = defaultdict(int)
    with SAMPLE.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            expected[row["ProviderName"]] += Decimal(row["BilledCost"])
            rows[row["ProviderName"]] += 1

    result = import_one(store, SAMPLE)

    with store.connect() as con:
        got = con.execute(
            "SELECT provider, count(*), sum(billed_cost) FROM charges GROUP BY 1"
        ).fetchall()
    assert result.ok
    assert result.counts.read == 1000
    assert {p: (n, s) for p, n, s in got} == {
        p: (rows[p], expected[p]) for p in expected
    }
    # SOURCES.md: AWS ≈ $18.01 over 942 rows, Microsoft ≈ $1.98 over 51, Oracle ≈ $0.54.
    assert rows == {"AWS": 942, "Microsoft": 51, "Oracle": 7}
    assert round(expected["AWS"], 2) == Decimal("18.01")


def test_sample_credit_row_is_kept_negative(store: Store) -> None:
    import_one(store, SAMPLE)

    with store.connect() as con:
        credits = con.execute(
            "SELECT billed_cost FROM charges WHERE charge_category = 'Credit'"
        ).fetchall()
    assert credits == [(Decimal("-2.6137"),)]


def test_literal_null_and_empty_fields_are_nothing(store: Store) -> None:
    import_one(store, SAMPLE)

    with store.connect() as con:
        nulls = con.execute(
            "SELECT count(*) FROM charges WHERE resource_id = 'NULL'"
            " OR tags::VARCHAR = 'NULL'"
            " OR account = 'NULL' OR service_category = 'NULL'"
        ).fetchall()[0][0]
    assert nulls == 0


def test_reimporting_the_same_file_changes_nothing(store: Store) -> None:
    first = import_one(store, SAMPLE)
    second = import_one(store, SAMPLE)

    with store.connect() as con:
        count, amount = con.execute(
            "SELECT count(*), sum(billed_cost) FROM charges"
        ).fetchall()[0]
    assert (first.counts.new, second.counts.files_read) == (1000, 0)
    assert count == 1000
    assert round(amount, 2) == Decimal("20.52")


def test_a_changed_file_replaces_its_rows(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "export.csv", HEADER, ROWS)
    import_one(store, path)
    write_csv(path, HEADER, ROWS[:1])

    result = import_one(store, path)

    assert (result.counts.read, result.counts.changed, result.counts.new) == (1, 1, 0)
    assert [r[3] for r in stored(store)] == [Decimal("0.42")]


def test_exact_twins_inside_one_export_both_count(store: Store, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "twins.csv", HEADER, [ROWS[0], ROWS[0]])

    import_one(store, path)

    assert [r[3] for r in stored(store)] == [Decimal("0.42"), Decimal("0.42")]


def test_rows_become_charges(store: Store, tmp_path: Path) -> None:
    import_one(store, write_csv(tmp_path / "e.csv", HEADER, ROWS))

    credit, hourly, daily = stored(store)
    assert hourly[:9] == (
        "AWS",
        "Amazon Simple Queue Service",
        "Integration",
        Decimal("0.42"),
        Decimal("0.5"),
        "USD",
        "Usage",
        dt.datetime(2025, 3, 1, tzinfo=dt.UTC),
        dt.datetime(2025, 3, 1, 1, tzinfo=dt.UTC),
    )
    assert hourly[9] is None, "an hourly period is an instant, not a provider date"
    assert json.loads(hourly[12]) == {"application": "billing-api"}
    assert credit[3] == Decimal("-1")
    assert credit[9] == dt.date(2025, 3, 1)
    assert (credit[11], credit[12]) == (None, None)
    assert daily[3] == Decimal("12.345678901234")
    assert (daily[5], daily[9]) == ("USD", dt.date(2025, 3, 2))


def test_every_file_format_gives_the_same_rows(tmp_path: Path) -> None:
    plain = write_csv(tmp_path / "e.csv", HEADER, ROWS)
    gz = tmp_path / "e.csv.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    disguised = tmp_path / "gzipped-without-suffix.csv"
    disguised.write_bytes(gz.read_bytes())
    jsonl = tmp_path / "e.jsonl"
    with jsonl.open("w", encoding="utf-8") as handle:
        for row in ROWS:
            record = {
                k: (None if v in ("NULL", "") else v)
                for k, v in zip(HEADER, row, strict=True)
            }
            handle.write(json.dumps(record) + "\n")
    parquet = tmp_path / "e.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * FROM read_csv('{plain}', all_varchar = true, "
        f"nullstr = ['NULL', ''])) TO '{parquet}' (FORMAT parquet)"
    )
    con.close()

    results = {}
    for path in (plain, gz, disguised, jsonl, parquet):
        store = Store(tmp_path / f"{path.name}.duckdb")
        assert import_one(store, path).ok, path
        results[path.name] = stored(store)

    first = results.pop("e.csv")
    assert len(first) == 3
    for name, rows in results.items():
        assert rows == first, name


def test_focus_1_3_service_provider_name_wins(store: Store, tmp_path: Path) -> None:
    header = [*HEADER, "ServiceProviderName"]
    rows = [[*ROWS[0], "Amazon Web Services"], [*ROWS[2], ""]]

    import_one(store, write_csv(tmp_path / "v13.csv", header, rows))

    assert sorted(r[0] for r in stored(store)) == ["Amazon Web Services", "Microsoft"]


def test_only_service_provider_name_is_enough(store: Store, tmp_path: Path) -> None:
    header = ["ServiceProviderName" if h == "ProviderName" else h for h in HEADER]

    result = import_one(store, write_csv(tmp_path / "v14.csv", header, ROWS))

    assert result.ok
    assert sorted(r[0] for r in stored(store)) == ["AWS", "AWS", "Microsoft"]


def test_byte_order_marks_at_the_start_of_any_field_are_stripped(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "bom.csv"
    text = "\ufeff" + ",".join(HEADER) + "\n"
    text += (
        "\ufeff"
        + ",".join(f'"{v}"' if "," in v or '"' in v else v for v in ROWS[2])
        + "\n"
    )
    path.write_text(text, encoding="utf-8")

    result = import_one(store, path)

    assert result.ok, result.error
    assert stored(store)[0][3] == Decimal("12.345678901234")


def test_spreadsheet_formatted_amounts_are_refused_with_the_value(
    store: Store, tmp_path: Path
) -> None:
    bad = [list(ROWS[0])]
    bad[0][0] = "$10,000.00 "
    path = write_csv(tmp_path / "sheet.csv", HEADER, bad)

    result = import_one(store, path)

    assert not result.ok
    assert result.error is not None
    assert str(path) in result.error
    assert "BilledCost '$10,000.00 ' is not a plain number" in result.error
    assert stored(store) == []


def refusable(path: Path) -> bool:
    """True when a file lacks a column FOCUS requires, or writes amounts or dates
    as a spreadsheet shows them."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or [])
        required = {"BilledCost", "BillingCurrency", "ChargePeriodStart", "ServiceName"}
        if (
            not required <= columns
            or not {"ProviderName", "ServiceProviderName"} & columns
        ):
            return True
        for row in reader:
            if "$" in row["BilledCost"] or "," in row["BilledCost"]:
                return True
            if "/" in row["ChargePeriodStart"]:
                return True
    return False


def test_spec_examples_import_when_plain_and_are_refused_when_not(
    store: Store, tmp_path: Path
) -> None:
    examples = sorted(SPEC_EXAMPLES.rglob("*.csv"))
    copies = []
    for path in examples:
        copy = tmp_path / path.name
        shutil.copy(path, copy)
        copies.append(copy)

    results = import_files(make_settings(), store, copies, now=NOW)

    refused = {Path(r.source.split(":", 1)[1]).name for r in results if not r.ok}
    expected = {path.name for path in copies if refusable(path)}
    assert refused == expected
    assert refused, "the examples include files to refuse"


def test_a_broken_file_fails_alone_in_a_folder_source(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    write_csv(folder / "good.csv", HEADER, ROWS)
    bad = [list(ROWS[0])]
    bad[0][4] = "5/1/25"
    write_csv(folder / "bad.csv", HEADER, bad)
    write_csv(folder / "other.csv", ["Date", "Cost"], [["2025-01-01", "1.00"]])
    settings: Settings = make_settings(
        f"services:\n  cloud:\n    type: focus\n    paths: ['{folder}/*.csv']\n"
    )

    (result,) = run_refresh(settings, store, now=NOW)

    assert not result.ok
    assert result.error is not None
    assert "bad.csv: ChargePeriodStart '5/1/25' is not a date and time" in result.error
    assert "other.csv: is not a FOCUS export: it lacks BilledCost" in result.error
    assert len(stored(store)) == 3


def test_focus_source_without_paths_fails_alone() -> None:
    settings = make_settings("services:\n  cloud:\n    type: focus\n")

    (source,) = settings.sources

    assert source.error is not None
    assert "needs paths" in source.error
