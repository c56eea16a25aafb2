"""The ``qoins`` command line: DESIGN.md "Command-line contracts".

``main`` runs in-process for output; the installed console script runs as a
subprocess for exit codes. ``status`` reads the real clock, so its figures are
taken from a month in the past whose charges are fixed by the config (every
subscription below has ``ends``); the first-day forecast is checked through
``build_summary``, which takes ``now``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sysconfig
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from collectors.base import Charge, RecordBatch
from qoins_tui.analysis import Month
from qoins_tui.cli import build_parser, main
from qoins_tui.refresh import run_refresh
from qoins_tui.status import status_object, to_json
from qoins_tui.store import MonthQuery, Store
from qoins_tui.summary import build_summary
from tests.conftest import make_settings

QOINS = Path(sysconfig.get_path("scripts")) / "qoins"

# Charges in March 2025, by hand:
#   ci-seats  4.00 × 3 seats on Mar 10          12.00
#   domain    yearly from 2024-03-20, on Mar 20  12.99
#   editor    monthly from Feb 28, on Mar 28     19.999999999999
#   total                                        44.989999999999
# A refresh stores 13 charges: ci-seats Jan–Jun 2025 (6), domain 2024-03-20 and
# 2025-03-20 (2), editor Feb 28 to Jun 28 (5); each subscription has ended.
SUBSCRIPTIONS = """\
subscriptions:
  - name: ci-seats
    provider: GitHub
    amount: 4.00
    seats: 3
    start: 2025-01-10
    ends: 2025-06-30
  - name: domain
    provider: Namecheap
    amount: 12.99
    period: yearly
    start: 2024-03-20
    ends: 2025-12-31
  - name: editor
    provider: JetBrains
    amount: 19.999999999999
    start: 2025-02-28
    ends: 2025-06-30
"""
MARCH_TOTAL = Decimal("44.989999999999")
STATUS_KEYS = {
    "month",
    "currency",
    "spent",
    "estimated",
    "budget",
    "remaining",
    "percent",
    "projected",
    "services",
    "budgets",
    "unpriced",
    "unconverted",
    "reconciliation",
    "sources",
    "rates",
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.duckdb"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def not_focus(tmp_path: Path) -> Path:
    return write(tmp_path / "notes.csv", "date,what,amount\n2025-03-01,lunch,12\n")


def mixed_config(tmp_path: Path) -> Path:
    """One good source (subscriptions) and one failing one (a non-FOCUS file)."""
    bad = not_focus(tmp_path)
    return write(
        tmp_path / "config.yml",
        "budget:\n  timezone: UTC\n"
        f"services:\n  exports:\n    type: focus\n    paths: [{str(bad)!r}]\n"
        + SUBSCRIPTIONS,
    )


def run_qoins(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(QOINS), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=dict(os.environ),
        timeout=120,
    )


def march(db: Path) -> dict[str, Decimal]:
    query = MonthQuery(dt.date(2025, 3, 1), dt.date(2025, 4, 1), "UTC", "USD")
    return {s.service: s.spent for s in Store(db).spend_by_service(query)}


def status_json(text: str) -> dict[str, Any]:
    value = json.loads(text, parse_float=Decimal)
    assert isinstance(value, dict)
    return value


# -- --refresh ------------------------------------------------------------------


def test_refresh_with_nothing_configured_says_so_and_exits_0(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--db", str(db), "--refresh"])

    out, err = capsys.readouterr()
    assert code == 0
    assert out == ""
    assert "no sources configured or detected" in err


def test_refresh_with_a_failing_source_exits_1_and_keeps_the_good_one(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = mixed_config(tmp_path)

    code = main(["--config", str(config), "--db", str(db), "--refresh"])

    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("exports: failed: ")
    assert "notes.csv" in lines[0]
    assert "is not a FOCUS export" in lines[0]
    assert lines[1].startswith("subscriptions: ok: 3 read, 13 new, 0 changed")
    assert march(db) == {
        "ci-seats": Decimal("12.00"),
        "domain": Decimal("12.99"),
        "editor": Decimal("19.999999999999"),
    }


def test_quiet_refresh_prints_only_failures(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = mixed_config(tmp_path)

    code = main(["--config", str(config), "--db", str(db), "-q", "--refresh"])

    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("exports: failed: ")


def test_quiet_refresh_of_good_sources_prints_nothing(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "config.yml", SUBSCRIPTIONS)

    code = main(["--config", str(config), "--db", str(db), "-q", "--refresh"])

    assert code == 0
    assert capsys.readouterr() == ("", "")


def test_refresh_json_is_the_only_thing_on_stdout(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = mixed_config(tmp_path)

    code = main(["--config", str(config), "--db", str(db), "--refresh", "--json"])

    out, err = capsys.readouterr()
    assert code == 1
    summary = json.loads(out)
    assert summary["ok"] is False
    by_source = {s["source"]: s for s in summary["sources"]}
    assert set(by_source) == {"exports", "subscriptions"}
    assert by_source["exports"]["ok"] is False
    assert "is not a FOCUS export" in by_source["exports"]["error"]
    subs = by_source["subscriptions"]
    assert (subs["ok"], subs["read"], subs["new"], subs["changed"]) == (
        True,
        3,
        13,
        0,
    )
    assert subs["error"] is None
    # No budget: no alert.
    assert summary["alerts"] == []
    assert "subscriptions: ok" in err
    assert "{" not in err


def test_a_broken_config_exits_2_naming_file_and_line(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(
        tmp_path / "config.yml", "budget:\n  monthly_limit: 5\n   currency: USD\n"
    )

    code = main(["--config", str(config), "--db", str(db), "--refresh"])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert f"{config} line 3" in err
    assert not db.exists()


def test_an_invalid_value_exits_2_naming_file_line_and_key(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "config.yml", "budget:\n  currency: dollars\n")

    code = main(["--config", str(config), "--db", str(db), "--refresh"])

    _, err = capsys.readouterr()
    assert code == 2
    assert f"{config} line 2, budget.currency:" in err
    assert "ISO 4217" in err


def test_status_exits_2_when_the_store_cannot_be_opened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_store = write(tmp_path / "store.duckdb", "not a database\n")

    code = main(["--db", str(not_a_store), "status", "--month", "2025-03"])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "not a valid DuckDB database" in err
    assert "store.duckdb" in err


def test_refresh_exits_2_when_the_store_cannot_be_opened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path / "config.yml", SUBSCRIPTIONS)
    not_a_store = write(tmp_path / "store.duckdb", "not a database\n")

    code = main(["--config", str(config), "--db", str(not_a_store), "--refresh"])

    _, err = capsys.readouterr()
    assert code == 2
    assert "not a valid DuckDB database" in err


def test_db_flag_beats_qoins_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path / "config.yml", SUBSCRIPTIONS)
    from_env = tmp_path / "env.duckdb"
    from_flag = tmp_path / "flag.duckdb"
    monkeypatch.setenv("QOINS_DB", str(from_env))

    with_flag = main(["--config", str(config), "--db", str(from_flag), "--refresh"])

    assert with_flag == 0
    assert march(from_flag)["domain"] == Decimal("12.99")
    assert not from_env.exists()

    without_flag = main(["--config", str(config), "--refresh"])

    assert without_flag == 0
    assert march(from_env)["domain"] == Decimal("12.99")


# -- status ---------------------------------------------------------------------


def refreshed(tmp_path: Path, db: Path, text: str) -> Path:
    config = write(tmp_path / "config.yml", text)
    assert main(["--config", str(config), "--db", str(db), "-q", "--refresh"]) == 0
    return config


def status_args(config: Path, db: Path) -> list[str]:
    return ["--config", str(config), "--db", str(db), "status", "--month", "2025-03"]


def test_status_json_has_exactly_the_contracts_keys_and_exact_money(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = refreshed(
        tmp_path,
        db,
        "budget:\n  monthly_limit: 50.00\n  timezone: UTC\n"
        "services:\n  subscriptions:\n    budget_limit: 40\n" + SUBSCRIPTIONS,
    )
    capsys.readouterr()

    code = main([*status_args(config, db), "--json"])

    out, err = capsys.readouterr()
    assert code == 0
    assert err == ""
    status = status_json(out)
    assert set(status) == STATUS_KEYS
    assert status["month"] == "2025-03"
    assert status["currency"] == "USD"
    assert status["rates"] is None
    assert status["spent"] == MARCH_TOTAL
    assert status["estimated"] == 0
    assert status["budget"] == Decimal("50.00")
    # 50.00 - 44.989999999999 = 5.010000000001
    assert status["remaining"] == Decimal("5.010000000001")
    # 44.989999999999 / 50 × 100 = 89.979999999998
    assert status["percent"] == Decimal("89.979999999998")
    # A past month projects to what it spent.
    assert status["projected"] == MARCH_TOTAL
    assert status["services"] == [
        {
            "source": "subscriptions",
            "provider": "JetBrains",
            "service": "editor",
            "spent": Decimal("19.999999999999"),
        },
        {
            "source": "subscriptions",
            "provider": "Namecheap",
            "service": "domain",
            "spent": Decimal("12.99"),
        },
        {
            "source": "subscriptions",
            "provider": "GitHub",
            "service": "ci-seats",
            "spent": Decimal("12.00"),
        },
    ]
    # 44.989999999999 / 40 × 100 = 112.4749999999975, not capped at 100.
    assert status["budgets"] == [
        {
            "scope": "subscriptions",
            "amount": 40,
            "spent": MARCH_TOTAL,
            "percent": Decimal("112.4749999999975"),
        }
    ]
    assert status["unpriced"] == {"tokens": 0, "models": []}
    assert status["unconverted"] == []
    [source] = status["sources"]
    assert set(source) == {"source", "status", "last_refresh", "error"}
    assert (source["source"], source["status"], source["error"]) == (
        "subscriptions",
        "ok",
        None,
    )
    assert isinstance(source["last_refresh"], str)


def test_status_json_money_is_not_rounded_to_cents(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = refreshed(tmp_path, db, SUBSCRIPTIONS)
    capsys.readouterr()

    main(status_args(config, db))
    box = capsys.readouterr().out
    main([*status_args(config, db), "--json"])
    out = capsys.readouterr().out

    assert '"spent": 44.989999999999' in out
    assert "$44.99" in box


def test_status_json_without_a_budget_has_nulls_and_lists_unconverted(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = refreshed(
        tmp_path,
        db,
        "budget:\n  timezone: UTC\n"
        + SUBSCRIPTIONS
        + "  - name: hosting-eu\n    provider: Hetzner\n    amount: 9.50\n"
        "    currency: EUR\n    start: 2025-03-03\n    ends: 2025-03-31\n",
    )
    capsys.readouterr()

    code = main([*status_args(config, db), "--json"])

    status = status_json(capsys.readouterr().out)
    assert code == 0
    assert set(status) == STATUS_KEYS
    assert (status["budget"], status["remaining"], status["percent"]) == (
        None,
        None,
        None,
    )
    assert status["budgets"] == []
    # EUR has no rate: never converted 1:1, left out of spent and listed.
    assert status["spent"] == MARCH_TOTAL
    assert status["unconverted"] == [{"currency": "EUR", "amount": Decimal("9.50")}]


def test_status_of_an_impossible_month_exits_2(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--db", str(db), "status", "--month", "2026-13"])

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "2026-13" in err
    assert "YYYY-MM" in err


FIRST_DAY = dt.datetime(2026, 4, 1, 12, tzinfo=dt.UTC)
APRIL_PLAN = (
    "subscriptions:\n  - name: plan\n    amount: 10.00\n    start: 2026-04-01\n"
)


def first_day_status(store: Store) -> dict[str, Any]:
    settings = make_settings(APRIL_PLAN)
    run_refresh(settings, store, now=FIRST_DAY)
    summary = build_summary(store, settings, Month(2026, 4), FIRST_DAY)
    return status_json(to_json(status_object(summary)))


def test_projected_is_null_on_a_first_day_with_no_earlier_data(
    store: Store,
) -> None:
    status = first_day_status(store)

    assert status["spent"] == Decimal("10.00")
    assert status["projected"] is None


def test_projected_uses_the_previous_months_rate_on_the_first_day(
    store: Store,
) -> None:
    march_usage = Charge(
        record_key="m",
        provider="AWS",
        service="Amazon S3",
        billed_cost=Decimal("31.00"),
        currency="USD",
        charge_date=dt.date(2026, 3, 12),
    )
    store.write_records("manual", RecordBatch([march_usage]))

    status = first_day_status(store)

    # March: 31.00 over 31 days = 1.00 a day; April 1 has 30 days left, today
    # included: 30 × 1.00 + the plan's 10.00 billed today = 40.00.
    assert status["projected"] == Decimal("40.00")


# -- import ---------------------------------------------------------------------

EXPECTED_COLUMNS = (
    "BilledCost",
    "BillingCurrency",
    "ChargePeriodStart",
    "ServiceName",
    "ProviderName",
)


def test_import_of_a_non_focus_csv_names_the_columns_it_expected(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = not_focus(tmp_path)

    code = main(["--db", str(db), "import", str(bad)])

    out, err = capsys.readouterr()
    assert code != 0
    assert out == ""
    assert "notes.csv" in err
    assert "date, what, amount" in err
    for column in EXPECTED_COLUMNS:
        assert column in err


def test_import_of_a_non_focus_csv_exits_1(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = not_focus(tmp_path)

    assert main(["--db", str(db), "import", str(bad)]) == 1


def test_an_unrecognised_file_does_not_stop_the_others(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(
        tmp_path / "aws.csv",
        "BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,"
        "ServiceName,ProviderName\n"
        "12.50,USD,2025-03-05T00:00:00Z,2025-03-06T00:00:00Z,Amazon S3,AWS\n",
    )
    bad = not_focus(tmp_path)

    code = main(["--db", str(db), "import", str(bad), str(good)])

    assert code == 1
    assert march(db) == {"Amazon S3": Decimal("12.50")}


def test_import_of_a_focus_file_stores_it_once(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(
        tmp_path / "aws.csv",
        "BilledCost,BillingCurrency,ChargePeriodStart,ChargePeriodEnd,"
        "ServiceName,ProviderName\n"
        "12.50,USD,2025-03-05T00:00:00Z,2025-03-06T00:00:00Z,Amazon S3,AWS\n"
        "0.25,USD,2025-03-06T00:00:00Z,2025-03-07T00:00:00Z,Amazon EC2,AWS\n",
    )

    first = main(["--db", str(db), "import", str(good)])
    second = main(["--db", str(db), "import", str(good)])

    _, err = capsys.readouterr()
    assert (first, second) == (0, 0)
    assert "imported 2 rows (2 new, 0 replaced)" in err
    assert "unchanged since its last import" in err
    assert march(db) == {"Amazon S3": Decimal("12.50"), "Amazon EC2": Decimal("0.25")}


# -- global options, version and help -------------------------------------------


def test_version_prints_the_installed_version(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--version"])

    assert caught.value.code == 0
    assert capsys.readouterr().out == f"qoins {version('qoins')}\n"


def subcommands() -> dict[str, str | None]:
    parser = build_parser()
    [action] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    helps = {choice.dest: choice.help for choice in action._choices_actions}
    return {name: helps.get(name) for name in action.choices}


def test_the_top_level_help_lists_every_subcommand(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--help"])

    out = capsys.readouterr().out
    assert caught.value.code == 0
    assert out.startswith("usage: qoins")
    for option in ("--config", "--db", "--refresh", "--version", "-q"):
        assert option in out
    for name, summary in subcommands().items():
        assert summary, f"{name} has no help line"
        assert name in out


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_subcommand_has_help(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as caught:
        main([name, "--help"])

    out = capsys.readouterr().out
    assert caught.value.code == 0
    assert out.startswith(f"usage: qoins {name}")
    assert "-h, --help" in out


# -- the installed console script, for exit codes -------------------------------


def test_script_exit_0_when_nothing_is_configured(tmp_path: Path, db: Path) -> None:
    result = run_qoins("--db", str(db), "--refresh", cwd=tmp_path)

    assert result.returncode == 0
    assert result.stdout == ""
    assert "no sources configured or detected" in result.stderr


def test_script_exit_1_when_a_source_fails(tmp_path: Path, db: Path) -> None:
    config = mixed_config(tmp_path)

    result = run_qoins(
        "--config", str(config), "--db", str(db), "--refresh", cwd=tmp_path
    )

    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 2
    assert march(db)["domain"] == Decimal("12.99")


def test_script_exit_2_on_a_broken_config(tmp_path: Path, db: Path) -> None:
    config = write(tmp_path / "config.yml", "budget: [\n")

    result = run_qoins(
        "--config", str(config), "--db", str(db), "--refresh", cwd=tmp_path
    )

    assert result.returncode == 2
    assert f"{config} line 2" in result.stderr


def test_script_exit_2_on_an_impossible_month(tmp_path: Path, db: Path) -> None:
    result = run_qoins("--db", str(db), "status", "--month", "2026-13", cwd=tmp_path)

    assert result.returncode == 2
    assert "2026-13" in result.stderr


def test_script_status_json_is_valid_json(tmp_path: Path, db: Path) -> None:
    config = write(tmp_path / "config.yml", SUBSCRIPTIONS)
    assert (
        run_qoins(
            "--config", str(config), "--db", str(db), "--refresh", cwd=tmp_path
        ).returncode
        == 0
    )

    result = run_qoins(
        "--config",
        str(config),
        "--db",
        str(db),
        "status",
        "--month",
        "2025-03",
        "--json",
        cwd=tmp_path,
    )

    assert result.returncode == 0
    assert status_json(result.stdout)["spent"] == MARCH_TOTAL


def test_script_version_and_help_exit_0(tmp_path: Path) -> None:
    version_run = run_qoins("--version", cwd=tmp_path)
    help_run = run_qoins("--help", cwd=tmp_path)

    assert (version_run.returncode, help_run.returncode) == (0, 0)
    assert version_run.stdout == f"qoins {version('qoins')}\n"
    assert help_run.stdout.startswith("usage: qoins")


def test_script_import_of_a_non_focus_csv_exits_1(tmp_path: Path, db: Path) -> None:
    bad = not_focus(tmp_path)

    result = run_qoins("--db", str(db), "import", str(bad), cwd=tmp_path)

    assert result.returncode == 1
    assert "BilledCost" in result.stderr


def test_status_without_a_store_says_how_to_make_one(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--db", str(db), "status"])

    err = capsys.readouterr().err
    assert code == 2
    assert f"There is no store at {db} yet" in err
    assert "qoins --refresh" in err
    assert not db.exists(), "status must not create a store"


@pytest.mark.parametrize("month", ["0001-01", "9999-12", "2026-00"])
def test_status_refuses_months_out_of_range(
    db: Path, month: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--db", str(db), "status", "--month", month])

    err = capsys.readouterr().err
    assert code == 2
    assert f"'{month}' is not a month between 1900-01 and 9998-12" in err


def test_json_before_status_is_refused_with_the_right_spelling(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--json", "status"])

    assert exit_info.value.code == 2
    assert "qoins status --json" in capsys.readouterr().err


def test_import_of_a_binary_file_prints_no_raw_bytes(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    binary = tmp_path / "tool"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)

    code = main(["--db", str(db), "import", str(binary)])

    err = capsys.readouterr().err
    assert code == 1
    assert "is not a text file" in err
    assert "ELF" not in err
    assert all(ch.isprintable() or ch == "\n" for ch in err)


def test_the_same_export_imported_and_in_a_folder_counts_once(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    sample = (
        Path(__file__).parent.parent / "qoins_tui" / "demo" / "focus_sample_1.0.csv"
    )
    copy = folder / "september.csv"
    copy.write_bytes(sample.read_bytes())
    renamed = folder / "september-again.csv"
    renamed.write_bytes(sample.read_bytes())
    config = write(
        tmp_path / "config.yml",
        f"budget:\n  timezone: UTC\nservices:\n  cloud:\n    type: focus\n"
        f"    paths: ['{folder}/*.csv']\n",
    )
    assert main(["--db", str(db), "import", str(sample)]) == 0

    code = main(["--config", str(config), "--db", str(db), "--refresh"])

    err = capsys.readouterr().err
    # The sample's September 2024 BilledCost sums to 20.52 (18.01 + 1.98 + 0.54).
    store = Store(db)
    q = MonthQuery(dt.date(2024, 9, 1), dt.date(2024, 10, 1), "UTC", "USD")
    assert round(sum(s.spent for s in store.spend_by_service(q)), 2) == Decimal("20.52")
    assert code == 0
    assert "cloud: ok: 0 files read, 2 unchanged" in err


def test_a_focus_source_whose_paths_match_nothing_fails_alone(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(
        tmp_path / "config.yml",
        "services:\n  cloud:\n    type: focus\n    paths: ['~/no/such/*.csv']\n"
        + SUBSCRIPTIONS,
    )

    code = main(["--config", str(config), "--db", str(db), "--refresh"])

    err = capsys.readouterr().err
    assert code == 1
    assert "cloud: failed: no file matches paths (~/no/such/*.csv)" in err
    assert "subscriptions: ok" in err


def test_agent_log_paths_that_do_not_exist_fail_alone(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(
        tmp_path / "config.yml",
        f"services:\n  claude_code:\n    paths: ['{tmp_path}/gone']\n",
    )

    code = main(["--config", str(config), "--db", str(db), "--refresh"])

    err = capsys.readouterr().err
    assert code == 1
    assert (
        f"claude_code: failed: none of the folders in paths exists ({tmp_path}/gone)"
        in err
    )


def test_a_failing_source_removed_from_the_config_is_gone(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = mixed_config(tmp_path)
    assert main(["--config", str(config), "--db", str(db), "--refresh"]) == 1
    # The failing entry, which never stored a charge, is taken out.
    write(config, "budget:\n  timezone: UTC\n" + SUBSCRIPTIONS)
    assert main(["--config", str(config), "--db", str(db), "--refresh"]) == 0
    capsys.readouterr()

    assert main(["--config", str(config), "--db", str(db), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [(s["source"], s["status"]) for s in status["sources"]] == [
        ("subscriptions", "ok")
    ]
    assert main(["--config", str(config), "--db", str(db), "status"]) == 0
    assert "failed" not in capsys.readouterr().out
