"""Budgets (issue 4, DESIGN.md "Configuration and secrets", "Command-line contracts"):
``qoins budget set`` writes config.yml keeping every other byte, records each change,
refuses bad scopes and amounts; ``qoins budget --json`` is the contract's object.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from qoins_tui.analysis import Month
from qoins_tui.budgets import BudgetLine, list_budgets, set_budget
from qoins_tui.cli import main
from qoins_tui.errors import BudgetError
from qoins_tui.status import budget_object, status_object, to_json
from qoins_tui.store import _MIGRATIONS, SCHEMA_VERSION, BudgetChange, Store
from qoins_tui.summary import build_summary
from tests import app_data
from tests.test_cli import SUBSCRIPTIONS

CONFIG = """\
# QOINs: my budgets
# (kept by hand)

budget:
  monthly_limit: 110.00   # the cap for everything
  currency: USD
  timezone: UTC

# Sources, one per entry.
services:
  openai:
    budget_limit: 40.00  # API bill

  # Cloud exports, read on every refresh.
  cloud: {type: focus, paths: ["~/billing/*.csv"]}   # exports

subscriptions:
  - {name: Docker, provider: Docker, amount: 15.00, start: 2025-03-01}
theme: qoins-dark
"""

NOW = dt.datetime(2026, 12, 24, 9, 30, tzinfo=dt.UTC)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store.duckdb"


def budget(config: Path, db: Path, *args: str) -> int:
    return main(["--config", str(config), "--db", str(db), "budget", *args])


def loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


# -- writing config.yml -----------------------------------------------------------


def test_set_keeps_every_untouched_line_byte_for_byte(
    config: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert budget(config, db, "set", "claude_code", "75") == 0
    assert budget(config, db, "set", "total", "200.5") == 0

    # claude_code had no entry: it goes right under services, before the comment
    # and entry of openai; the total's inline comment keeps its column.
    assert config.read_text() == CONFIG.replace(
        "monthly_limit: 110.00   #", "monthly_limit: 200.5   #"
    ).replace("services:\n", "services:\n  claude_code:\n    budget_limit: 75\n")
    err = capsys.readouterr().err
    assert f"qoins: claude_code: no budget → $75.00, written to {config}." in err
    assert f"qoins: total: $110.00 → $200.50, written to {config}." in err


def test_set_replaces_a_value_in_a_flow_mapping_and_none_removes_it(
    config: Path, db: Path
) -> None:
    store = Store(db)
    set_budget(store, config, "cloud", "12.25", NOW)

    assert (
        '  cloud: {budget_limit: 12.25, type: focus, paths: ["~/billing/*.csv"]}'
        in (config.read_text())
    )

    set_budget(store, config, "cloud", "none", NOW)

    assert config.read_text() == CONFIG


def test_none_removes_the_key_with_its_line_and_nothing_else(
    config: Path, db: Path
) -> None:
    update = set_budget(Store(db), config, "openai", "none", NOW)

    assert (update.old, update.new, update.changed) == (Decimal("40.00"), None, True)
    assert config.read_text() == CONFIG.replace(
        "    budget_limit: 40.00  # API bill\n", ""
    )


def test_a_file_with_crlf_line_ends_and_a_bom_keeps_them(
    tmp_path: Path, db: Path
) -> None:
    path = tmp_path / "config.yml"
    path.write_bytes(b"\xef\xbb\xbfbudget:\r\n  currency: EUR\r\n")

    set_budget(Store(db), path, "total", "80", NOW)

    assert path.read_bytes() == (
        b"\xef\xbb\xbfbudget:\r\n  monthly_limit: 80\r\n  currency: EUR\r\n"
    )


def test_without_any_config_one_is_created_in_the_user_config_dir(
    db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--db", str(db), "budget", "set", "total", "90"])

    created = Path.home() / ".config" / "qoins" / "config.yml"
    assert code == 0
    assert created.read_text() == "budget:\n  monthly_limit: 90\n"
    err = capsys.readouterr().err
    assert f"qoins: created {created}, as no config.yml existed." in err
    assert f"qoins: total: no budget → $90.00, written to {created}." in err


# -- refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount", ["$50", "-1", "1e3", "abc", "50.123", "1" + "0" * 15]
)
def test_a_bad_amount_exits_2_naming_it_and_changes_nothing(
    amount: str, config: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = budget(config, db, "set", "total", amount)

    assert code == 2
    assert capsys.readouterr().err == (
        f"qoins: Budget not changed: amount {amount!r} is not accepted: write a "
        "plain number of USD with at most two decimals and 15 digits, such as 50 or "
        "49.99, or none to remove the budget.\n"
    )
    assert config.read_text() == CONFIG
    assert Store(db).budget_changes() == []


def test_an_unknown_source_exits_2_naming_the_known_ones(
    config: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = budget(config, db, "set", "opneai", "5")

    assert code == 2
    assert capsys.readouterr().err == (
        f"qoins: Budget not changed: unknown budget scope 'opneai': {config} has no "
        "source of that name and QOINs detects none. Scopes: total, openai, cloud, "
        "subscriptions, claude_code, codex, gemini_cli. A new source goes under "
        "services in config.yml first.\n"
    )
    assert config.read_text() == CONFIG
    assert not db.exists()


@pytest.mark.parametrize("scope", ["project:web", "member:ana"])
def test_project_and_member_scopes_come_later(
    scope: str, config: Path, db: Path
) -> None:
    with pytest.raises(BudgetError) as caught:
        set_budget(Store(db), config, scope, "10", NOW)

    assert caught.value.message == (
        f"budget scope {scope!r}: project and member budgets come with projects and "
        "team allocation, which are not in this version of QOINs; a budget is set on "
        "total or on a source's name."
    )
    assert config.read_text() == CONFIG


def test_an_invalid_config_is_refused_naming_file_and_line(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "config.yml"
    path.write_text("budget:\n  monthly_limit: lots\n")

    code = budget(path, db, "set", "total", "5")

    assert code == 2
    assert f"{path} line 2, budget.monthly_limit" in capsys.readouterr().err
    assert path.read_text() == "budget:\n  monthly_limit: lots\n"


# -- the record of changes -----------------------------------------------------------


def test_each_change_is_recorded_and_history_lists_them_newest_first(
    config: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(db)
    later = NOW + dt.timedelta(minutes=5)
    set_budget(store, config, "claude_code", "75", NOW)
    set_budget(store, config, "total", "200.5", later)
    set_budget(store, config, "total", "200.50", later)  # unchanged: not recorded

    assert store.budget_changes() == [
        BudgetChange(
            "total", Decimal("110.00"), Decimal("200.5"), "USD", later, str(config)
        ),
        BudgetChange("claude_code", None, Decimal(75), "USD", NOW, str(config)),
    ]
    capsys.readouterr()
    assert budget(config, db, "history") == 0
    assert capsys.readouterr().out == (
        f"2026-12-24 09:35 UTC  total  $110.00 → $200.50  {config}\n"
        f"2026-12-24 09:30 UTC  claude_code  no budget → $75.00  {config}\n"
    )
    assert budget(config, db, "history", "--json") == 0
    [newest, _] = loads(capsys.readouterr().out)
    assert newest == {
        "scope": "total",
        "old": Decimal("110.00"),
        "new": Decimal("200.5"),
        "currency": "USD",
        "changed_at": "2026-12-24T09:35:00Z",
        "config": str(config),
    }


def test_a_failed_write_records_nothing(
    config: Path, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("qoins_tui.budgets.os.replace", refuse)

    with pytest.raises(BudgetError) as caught:
        set_budget(Store(db), config, "total", "5", NOW)

    assert caught.value.message == (f"{config}: cannot be written (Permission denied).")
    assert config.read_text() == CONFIG
    assert Store(db).budget_changes() == []
    assert [p.name for p in config.parent.iterdir() if p.suffix == ".tmp"] == []


# -- listing and the month's state ---------------------------------------------------


def test_list_has_the_total_and_every_source_scope(
    config: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = app_data.settings()

    assert list_budgets(settings) == [
        BudgetLine("total", Decimal("110.00")),
        BudgetLine("claude_code", Decimal("50.00")),
        BudgetLine("aws_focus", Decimal("30.00")),
        BudgetLine("gcp_focus", None),
        BudgetLine("codex", None),
        BudgetLine("subscriptions", None),
        BudgetLine("gemini_cli", None),
    ]
    assert budget(config, db, "list") == 0
    assert capsys.readouterr().out == (
        "total          $110.00\n"
        "openai         $40.00\n"
        "cloud          no budget\n"
        "subscriptions  no budget\n"
        "claude_code    no budget\n"
        "codex          no budget\n"
        "gemini_cli     no budget\n"
    )


def test_budget_json_is_the_contracts_object(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The March 2025 subscriptions of test_cli: 44.989999999999 in all.
    config = tmp_path / "config.yml"
    config.write_text(
        "budget:\n  monthly_limit: 50.00\n  timezone: UTC\n"
        "services:\n  subscriptions:\n    budget_limit: 40\n" + SUBSCRIPTIONS
    )
    assert main(["--config", str(config), "--db", str(db), "-q", "--refresh"]) == 0
    capsys.readouterr()

    code = budget(config, db, "--month", "2025-03", "--json")

    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    spent = Decimal("44.989999999999")
    assert loads(out) == {
        "currency": "USD",
        "total": {
            "amount": Decimal("50.00"),
            "spent": spent,
            "remaining": Decimal("5.010000000001"),  # 50.00 − 44.989999999999
            "percent": Decimal("89.979999999998"),  # 44.989999999999 ÷ 50 × 100
            "projected": spent,  # a past month projects to what it spent
        },
        "budgets": [
            {
                "scope": "subscriptions",
                "amount": 40,
                "spent": spent,
                "percent": Decimal("112.4749999999975"),  # ÷ 40 × 100, not capped
            }
        ],
        "emergency": None,
    }


def test_budget_object_of_a_running_month_shares_status_figures(
    store: Store,
) -> None:
    app_data.seed_store(store)
    summary = build_summary(store, app_data.settings(), Month(2026, 12), NOW)

    result = loads(to_json(budget_object(summary)))
    status = loads(to_json(status_object(summary)))

    # December: 45.20 + 28.15 + 10.00 + 2.30 + 10.29 = 95.94 of 110.00.
    assert result["total"] == {
        "amount": Decimal("110.00"),
        "spent": Decimal("95.94"),
        "remaining": Decimal("14.06"),
        "percent": Decimal("87.21818181818181818181818182"),
        "projected": status["projected"],
    }
    assert (
        result["budgets"]
        == status["budgets"]
        == [
            {
                "scope": "claude_code",
                "amount": Decimal("50.00"),
                "spent": Decimal("45.20"),
                "percent": Decimal("90.400"),
            },
            {
                "scope": "aws_focus",
                "amount": Decimal("30.00"),
                "spent": Decimal("28.15"),
                "percent": Decimal("93.83333333333333333333333333"),
            },
        ]
    )
    assert result["emergency"] is None


# -- the store ------------------------------------------------------------------------


def test_a_schema_2_store_migrates_forward_and_keeps_its_charges(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    for version in (1, 2):
        for statement in _MIGRATIONS[version]:
            con.execute(statement)
    con.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    con.execute(
        "INSERT INTO charges (source, record_key, charge_date, billed_cost, "
        "currency, cost_basis, charge_category) "
        "VALUES ('aws', 'k', DATE '2026-11-02', 7.5, 'USD', 'billed', 'Usage')"
    )
    con.close()

    store = Store(path)

    assert store.schema_version() == SCHEMA_VERSION == 5
    assert store.budget_changes() == []
    assert store.alerts() == []
    with store.connect() as con:
        assert con.execute("SELECT source, billed_cost FROM charges").fetchall() == [
            ("aws", Decimal("7.5"))
        ]


# -- qoins check ------------------------------------------------------------------


@pytest.fixture
def march(tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """March 2025 spends 44.989999999999 on subscriptions: 89.98 % of the total's
    50.00 and 112.47 % of the subscriptions' own 40."""
    config = tmp_path / "config.yml"
    config.write_text(
        "budget:\n  monthly_limit: 50.00\n  timezone: UTC\n"
        "services:\n  subscriptions:\n    budget_limit: 40\n" + SUBSCRIPTIONS
    )
    assert main(["--config", str(config), "--db", str(db), "-q", "--refresh"]) == 0
    capsys.readouterr()
    return config


def check(config: Path, db: Path, *args: str) -> int:
    return main(["--config", str(config), "--db", str(db), "check", *args])


def test_check_exits_3_when_a_budget_reaches_the_threshold(
    march: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(march, db, "--month", "2025-03") == 3
    assert capsys.readouterr().out == (
        "total: $44.99 of $50.00 (90%), below 100%\n"
        "subscriptions: $44.99 of $40.00 (112%), at or above 100%\n"
    )

    assert check(march, db, "--month", "2025-03", "--threshold", "113") == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        "subscriptions: $44.99 of $40.00 (112%), below 113%"
    )

    # Exactly at the threshold counts as reached.
    assert check(march, db, "--month", "2025-03", "--threshold", "89.979999999998") == 3
    assert (
        capsys.readouterr().out.splitlines()[0].endswith("at or above 89.979999999998%")
    )


def test_check_without_a_budget_or_with_a_bad_threshold_exits_2(
    tmp_path: Path, march: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert check(march, db, "--threshold", "ninety") == 2
    assert capsys.readouterr().err == (
        "qoins: Invalid option: --threshold: 'ninety' is not a percentage; "
        "write a number above 0 and at most 1000, such as 90.\n"
    )
    bare = tmp_path / "bare.yml"
    bare.write_text("budget:\n  timezone: UTC\n")
    assert check(bare, db, "--month", "2025-03") == 2
    assert "no budget to check" in capsys.readouterr().err


def test_a_read_only_config_is_left_alone(
    config: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.chmod(0o444)

    assert budget(config, db, "set", "total", "99") == 2

    assert config.read_text() == CONFIG
    assert capsys.readouterr().err == (
        f"qoins: Budget not changed: {config.resolve()}: is read-only (mode 444), so "
        "QOINs leaves it as it is; make it writable (chmod u+w) to set budgets.\n"
    )
    assert budget(config, db, "history", "--json") == 0
    assert json.loads(capsys.readouterr().out) == []


def test_check_of_a_zero_budget_fails_on_any_spending(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yml"
    config.write_text("budget:\n  monthly_limit: 0\n  timezone: UTC\n" + SUBSCRIPTIONS)
    assert main(["--config", str(config), "--db", str(db), "-q", "--refresh"]) == 0
    capsys.readouterr()

    assert check(config, db, "--month", "2025-03", "--threshold", "1e2") == 3
    assert capsys.readouterr().out == ("total: $44.99 of $0.00 (–), at or above 100%\n")


def test_check_refuses_spending_it_cannot_convert(
    tmp_path: Path, db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "budget:\n  monthly_limit: 100\n  currency: EUR\n  timezone: UTC\n"
        + SUBSCRIPTIONS
    )
    assert main(["--config", str(config), "--db", str(db), "-q", "--refresh"]) == 0
    capsys.readouterr()

    assert check(config, db, "--month", "2025-03") == 2
    assert capsys.readouterr().err == (
        "qoins: Cannot check: spending in USD has no exchange rate into EUR for its "
        "days, so the budgets cannot be checked; `qoins --refresh` fetches the ECB's "
        "rates, or add a fixed rate under budget.rates in config.yml.\n"
    )
