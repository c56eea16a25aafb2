"""Cursor usage exports, end to end: CSV files → ``qoins import`` or refresh → charges.

Every export is written into ``tmp_path`` in the dashboard's CSV shapes (the current
header with ``Kind``, the older one with ``Cost to you``) and imported through
``qoins_tui.cli.main`` as a user would. Expected amounts are the ``Cost`` cells
added up by hand in the comments; plan usage (``Included``) is the plan's value,
never spend.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qoins_tui.analysis import Month
from qoins_tui.cli import main
from qoins_tui.store import MonthQuery, Store
from qoins_tui.summary import build_summary
from tests.conftest import make_settings

CURRENT = (
    "Date,Kind,Model,Max Mode,Input (w/ Cache Write),Input (w/o Cache Write),"
    "Cache Read,Output Tokens,Total Tokens,Cost"
)
OLDER = (
    "Date,Model,Input (w/ Cache Write),Input (w/o Cache Write),Cache Read,"
    "Output Tokens,Total Tokens,Cost,Cost to you"
)
INCLUDED = (
    '"2026-01-05T10:00:00Z","Included","claude-x","No",1200,300,45000,800,47300,0.21'
)
ON_DEMAND = (
    '"2026-01-05T11:00:00.000Z","On-Demand","gpt-x","No","0","8000","60000","1500",'
    '"69500","$0.35"'
)
ERRORED = '"2026-01-05T12:00:00Z","Errored, No Charge","gpt-x","No","","","","","","-"'
INCLUDED_NO_VALUE = (
    '"2026-01-05T13:00:00Z","Included","auto","No",0,200,300,40,540,"Included"'
)
JANUARY = MonthQuery(dt.date(2026, 1, 1), dt.date(2026, 2, 1), "UTC", "USD")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.duckdb"


def export(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def imports(db: Path, *args: str) -> int:
    return main(["--db", str(db), "import", *args])


def stored(db: Path, source: str = "cursor") -> list[dict[str, Any]]:
    with Store(db).connect() as con:
        cursor = con.execute(
            """SELECT record_key, period_start, charge_date, provider, service, sku,
                      billed_cost, list_cost, cost_basis, billing, input_tokens,
                      cache_write_5m_tokens, cache_read_tokens, output_tokens,
                      quantity, member
               FROM charges WHERE source = ? ORDER BY period_start, record_key""",
            [source],
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def spend(db: Path, q: MonthQuery = JANUARY) -> Decimal:
    return sum((s.spent for s in Store(db).spend_by_service(q)), Decimal(0))


def test_the_current_export_maps_kinds_to_plan_value_and_spend(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export(
        tmp_path / "usage.csv", CURRENT, INCLUDED, ON_DEMAND, ERRORED, INCLUDED_NO_VALUE
    )

    code = imports(db, str(path))

    assert code == 0
    rows = stored(db)
    assert [(r["sku"], r["billing"], r["billed_cost"]) for r in rows] == [
        ("Included", "plan", Decimal("0.21")),
        ("On-Demand", "api", Decimal("0.35")),
        ("Included", "plan", None),
    ]
    # The reference row: 1,200 written to the cache, 300 plain input, 45,000 read
    # from the cache and 800 output, 47,300 in all.
    included = rows[0]
    assert included["input_tokens"] == 300
    assert included["cache_write_5m_tokens"] == 1200
    assert included["cache_read_tokens"] == 45000
    assert included["output_tokens"] == 800
    assert included["quantity"] == Decimal(47300)
    assert included["provider"] == "Cursor"
    assert included["service"] == "claude-x"
    assert included["cost_basis"] == "billed"
    assert included["period_start"] == dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)
    # Spend is the On-Demand row alone; the plan's value is 0.21 (the Included row
    # that says only "Included" has no value, not $0). The errored row is skipped.
    assert spend(db) == Decimal("0.35")
    assert Store(db).plan_value(JANUARY) == {"cursor": Decimal("0.21")}
    err = capsys.readouterr().err
    assert "4 rows read into source cursor: 3 new, 0 changed, 0 already stored" in err
    assert "1 not billed (skipped)" in err


def test_the_older_export_bills_cost_to_you_and_keeps_pre_token_rows(
    tmp_path: Path, db: Path
) -> None:
    path = export(
        tmp_path / "old.csv",
        OLDER,
        '"2025-07-01T10:00:00Z","claude-x","500","3000","40000","1200","44700",'
        '"$0.50","$0.25"',
        '"2025-07-01T11:00:00Z","gpt-x","0","100","0","50","150","0.40","0"',
        '"2025-07-02T09:00:00Z","gpt-x","","","","","","0.10","Included"',
    )

    assert imports(db, "--format", "cursor", str(path)) == 0

    rows = stored(db)
    assert [(r["billing"], r["billed_cost"], r["list_cost"]) for r in rows] == [
        ("api", Decimal("0.25"), Decimal("0.50")),
        ("plan", Decimal("0.40"), None),
        ("plan", Decimal("0.10"), None),
    ]
    # The row from before token counts existed: cost only.
    before_tokens = rows[2]
    assert before_tokens["input_tokens"] is None
    assert before_tokens["quantity"] is None
    july = MonthQuery(dt.date(2025, 7, 1), dt.date(2025, 8, 1), "UTC", "USD")
    # Spend: what Cursor charged, $0.25; plan value: 0.40 + 0.10 = 0.50.
    assert spend(db, july) == Decimal("0.25")
    assert Store(db).plan_value(july) == {"cursor": Decimal("0.50")}


def test_a_current_row_from_before_token_counts_is_billed_by_cost(
    tmp_path: Path, db: Path
) -> None:
    path = export(
        tmp_path / "usage.csv",
        CURRENT,
        '"2025-08-01T09:00:00Z","Usage-based","claude-x","No","","","","","","$0.04"',
    )

    assert imports(db, str(path)) == 0

    [row] = stored(db)
    assert (row["billing"], row["billed_cost"]) == ("api", Decimal("0.04"))
    assert (row["input_tokens"], row["quantity"]) == (None, None)


def test_two_overlapping_exports_count_the_shared_rows_once(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = export(
        tmp_path / "jan-1-6.csv",
        CURRENT,
        '"2026-01-05T11:00:00Z","On-Demand","gpt-x","No",0,100,0,10,110,0.30',
        '"2026-01-06T11:00:00Z","On-Demand","gpt-x","No",0,200,0,20,220,0.70',
    )
    # The second export spells the shared row's time and cost differently.
    second = export(
        tmp_path / "jan-6-8.csv",
        CURRENT,
        '"2026-01-06T11:00:00.000Z","On-Demand","gpt-x","No",0,200,0,20,220,"$0.70"',
        '"2026-01-07T11:00:00Z","On-Demand","gpt-x","No",0,300,0,30,330,1.10',
    )

    assert imports(db, str(first)) == 0
    assert imports(db, str(second)) == 0

    # 0.30 + 0.70 + 1.10 = 2.10, the 6 January request once.
    assert spend(db) == Decimal("2.10")
    assert len(stored(db)) == 3
    err = capsys.readouterr().err
    assert "2 rows read into source cursor: 1 new, 0 changed, 1 already stored" in err


def test_importing_an_export_again_changes_nothing(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export(tmp_path / "usage.csv", CURRENT, INCLUDED, ON_DEMAND, ERRORED)
    assert imports(db, str(path)) == 0
    before = stored(db)

    assert imports(db, str(path)) == 0

    assert stored(db) == before
    err = capsys.readouterr().err
    assert "3 rows read into source cursor: 0 new, 0 changed, 2 already stored" in err


def test_two_equal_requests_in_one_export_both_count(tmp_path: Path, db: Path) -> None:
    twice = '"2026-01-05T11:00:00Z","On-Demand","gpt-x","No",0,100,0,10,110,0.25'
    path = export(tmp_path / "usage.csv", CURRENT, twice, twice)
    overlapping = export(tmp_path / "again.csv", CURRENT, twice, twice, ON_DEMAND)

    assert imports(db, str(path)) == 0
    assert imports(db, str(path)) == 0
    assert imports(db, str(overlapping)) == 0

    # 0.25 + 0.25 from both files, counted once across them, and 0.35 → 0.85.
    assert spend(db) == Decimal("0.85")
    # The equal pair share a hash and differ by their occurrence in the file.
    keys = sorted(r["record_key"].rsplit(":", 1) for r in stored(db))
    pair = [key for key in keys if [digest for digest, _ in keys].count(key[0]) == 2]
    assert [n for _, n in pair] == ["1", "2"]
    assert len(keys) == 3


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [
        (
            '"2026-01-07T11:00:00Z","On-Demand","gpt-x","No",0,300,0,30,330,"abc"',
            "Cost",
            "'abc'",
        ),
        ('"05/01/2026","On-Demand","gpt-x","No",0,300,0,30,330,0.10', "Date", "05/01"),
        ('"2026-13-45","On-Demand","gpt-x","No",0,300,0,30,330,0.10', "Date", "13-45"),
        (
            '"2026-01-07T11:00:00Z","On-Demand","gpt-x","No",0,3k,0,30,330,0.10',
            "Input (w/o Cache Write)",
            "'3k'",
        ),
    ],
)
def test_a_malformed_row_refuses_the_file_and_changes_nothing_stored(
    tmp_path: Path,
    db: Path,
    capsys: pytest.CaptureFixture[str],
    row: str,
    column: str,
    value: str,
) -> None:
    good = export(tmp_path / "good.csv", CURRENT, INCLUDED, ON_DEMAND)
    assert imports(db, str(good)) == 0
    before = stored(db)
    capsys.readouterr()
    bad = export(tmp_path / "bad.csv", CURRENT, ERRORED, INCLUDED_NO_VALUE, row)

    code = imports(db, str(bad))

    err = capsys.readouterr().err
    assert code == 1
    # The bad row is the file's fourth line, after the header and two good rows.
    assert f"{bad}, line 4, column {column}: " in err
    assert value in err
    assert "the file was not imported" in err
    assert stored(db) == before


def test_a_row_with_a_missing_field_refuses_the_file(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    torn = export(tmp_path / "torn.csv", CURRENT, INCLUDED, '"2026-01-05T11:00:00Z",')

    assert imports(db, str(torn)) == 1

    assert f"{torn}, line 3: the row has 2 fields" in capsys.readouterr().err
    assert stored(db) == []


def test_headers_are_matched_by_name_in_any_case_and_order(
    tmp_path: Path, db: Path
) -> None:
    path = export(
        tmp_path / "team.csv",
        "cost,USER,model,kind,date,output tokens,INPUT (W/O CACHE WRITE),Agent ID",
        '"$1.50","dev@example.com","claude-x","On-Demand","2026-01-05T11:00:00Z",'
        '"900","100","bc-1"',
    )

    assert imports(db, str(path)) == 0

    [row] = stored(db)
    assert row["billed_cost"] == Decimal("1.50")
    assert row["member"] == "dev@example.com"
    # Only two token columns are given: 100 input + 900 output = 1,000.
    assert (row["input_tokens"], row["output_tokens"]) == (100, 900)
    assert row["quantity"] == Decimal(1000)


def test_an_unknown_header_is_refused_naming_each_formats_columns(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = export(tmp_path / "notes.csv", "date,what,amount", "2026-01-05,lunch,12")
    plain = export(tmp_path / "plain.csv", "Date,Model,Cost", '"2026-01-05",x,1.00')

    assert imports(db, str(notes)) == 1
    assert imports(db, str(plain)) == 1

    err = capsys.readouterr().err
    assert "notes.csv: unknown format (columns: date, what, amount)" in err
    assert "plain.csv: unknown format (columns: Date, Model, Cost)" in err
    assert "BilledCost, BillingCurrency, ChargePeriodStart, ServiceName" in err
    assert "a Cursor usage export has Date, Model, Cost and Kind or Cost to you" in err
    assert not Store(db).sources_with_charges()


def test_format_cursor_reads_a_header_detection_would_not_take(
    tmp_path: Path, db: Path
) -> None:
    plain = export(
        tmp_path / "plain.csv", "Date,Model,Cost", '"2026-01-05",claude-x,1.00'
    )

    assert imports(db, "--format", "cursor", str(plain)) == 0

    # A bare date is a day-granular charge: 5 January, $1.00 of spend.
    [row] = stored(db)
    assert (row["charge_date"], row["period_start"]) == (dt.date(2026, 1, 5), None)
    assert spend(db) == Decimal("1.00")


def test_format_cursor_on_a_file_without_its_columns_names_them(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = export(tmp_path / "notes.csv", "date,what,amount", "2026-01-05,lunch,12")

    assert imports(db, "--format", "cursor", str(notes)) == 1

    err = capsys.readouterr().err
    assert "is not a Cursor usage export: it lacks Model, Cost" in err


def test_a_configured_source_reads_its_paths_and_receives_imports(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    export(folder / "jan.csv", CURRENT, INCLUDED, ON_DEMAND)
    later = export(tmp_path / "later.csv", CURRENT, ON_DEMAND, INCLUDED_NO_VALUE)
    config = tmp_path / "config.yml"
    config.write_text(
        "budget:\n  timezone: UTC\nservices:\n  editor:\n    type: cursor\n"
        f"    paths: ['{folder}/*.csv']\n"
    )

    refreshed = main(["--config", str(config), "--db", str(db), "--refresh"])
    imported = main(["--config", str(config), "--db", str(db), "import", str(later)])
    again = main(["--config", str(config), "--db", str(db), "--refresh"])

    assert (refreshed, imported, again) == (0, 0, 0)
    # The On-Demand row of both files once: $0.35.
    assert spend(db) == Decimal("0.35")
    assert len(stored(db, "editor")) == 3
    assert stored(db, "cursor") == []
    err = capsys.readouterr().err
    assert "editor: ok: 2 read, 2 new, 0 changed" in err
    assert "into source editor: 1 new, 0 changed, 1 already stored" in err


def test_an_imported_source_never_goes_stale(tmp_path: Path, db: Path) -> None:
    assert imports(db, str(export(tmp_path / "u.csv", CURRENT, ON_DEMAND))) == 0

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    summary = build_summary(Store(db), make_settings(), Month(2026, 1), later)

    [row] = [s for s in summary.sources if s.name == "cursor"]
    assert row.status == "ok"
    assert row.title == "Cursor usage export"
