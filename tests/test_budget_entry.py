"""The budget modal (issue 4 item 2), driven by Textual's pilot.

The app reads the seeded store of :mod:`tests.app_data` with the same settings, but
from a config.yml in ``tmp_path`` that carries comments; saving a budget must change
that amount's text and nothing else, record one change, and show the new budget at
once. This month's spend is $95.94 (worked out in :mod:`tests.test_app_pilot`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import Input, Static

from qoins_tui.app import QoinsApp
from qoins_tui.budget_entry import BudgetEntryScreen
from qoins_tui.budgets import default_config_path
from qoins_tui.config import Settings, load_file, load_settings
from qoins_tui.dashboard import BudgetPanel
from qoins_tui.services import SourceScreen
from qoins_tui.store import BudgetChange, Store
from tests import app_data
from tests.test_app_pilot import (
    Toast,
    cell,
    footer_keys,
    press,
    record_toasts,
    settle,
    text_of,
)

CONFIG = """\
# QOINs, kept by hand.
budget:
  monthly_limit: 110.00   # the cap for everything
  currency: USD
  timezone: UTC

# Sources, one per entry.
services:
  claude_code:
    billing: api
    budget_limit: 50.00  # agents
  aws_focus:
    type: focus
    paths: [/data/exports/aws/*.csv]
    budget_limit: 30.00
  gcp_focus:
    type: focus
    paths: [/data/exports/gcp/*.csv]
  codex:
    billing: plan
subscriptions:
  - name: GitHub Copilot
    provider: GitHub
    amount: 10.00
    currency: USD
    period: monthly
    start: 2026-03-05
"""
MESSAGE = (
    "amount {!r} is not accepted: write a plain number of USD with at most two "
    "decimals and 15 digits, such as 50 or 49.99, or none to remove the budget."
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "qoins.duckdb")
    app_data.seed_store(store)
    return store


@pytest.fixture
def app(config: Path, store: Store) -> QoinsApp:
    return QoinsApp(load_file(config), store, clock=app_data.frozen_clock)


@asynccontextmanager
async def running(app: QoinsApp) -> AsyncIterator[Pilot[None]]:
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        yield pilot


def modal(app: QoinsApp) -> BudgetEntryScreen:
    assert isinstance(app.screen, BudgetEntryScreen)
    return app.screen


def text(screen: BudgetEntryScreen, selector: str) -> str:
    content = screen.query_one(selector, Static).content
    return content.plain if isinstance(content, Content) else str(content)


def shown(toasts: list[Toast]) -> list[tuple[str, str]]:
    return [(t.title, t.message) for t in toasts]


async def test_e_on_the_dashboard_opens_the_modal_for_the_total(
    app: QoinsApp, config: Path
) -> None:
    async with running(app) as pilot:
        assert "e" in footer_keys(app)
        assert app.screen.active_bindings["e"].binding.description == "Edit budget"

        await press(pilot, "e")

        screen = modal(app)
        assert screen.query_one("#budget-entry").border_title == "Budget for total"
        assert text(screen, "#budget-now") == "Now $110.00 a month · amounts in USD"
        assert text(screen, "#budget-where") == (
            f"Written to {config}; the rest of the file stays as it is."
        )
        assert text(screen, "#budget-hint") == (
            "A plain number with at most two decimals; none or an empty field "
            "removes the budget."
        )
        field = screen.query_one("#budget", Input)
        assert field.value == "110.00"
        assert screen.focused is field


async def test_enter_writes_the_total_records_it_and_shows_it(
    app: QoinsApp, config: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    toasts = record_toasts(monkeypatch, app)
    async with running(app) as pilot:
        assert "$95.94 of $110.00" in text_of(app, BudgetPanel)

        await press(pilot, "e", *"120", "enter")

        assert not isinstance(app.screen, BudgetEntryScreen)
        # Only the amount's text changed; the inline comment keeps its column.
        assert config.read_text() == CONFIG.replace(
            "monthly_limit: 110.00   #", "monthly_limit: 120   #"
        )
        assert store.budget_changes() == [
            BudgetChange(
                "total",
                Decimal("110.00"),
                Decimal(120),
                "USD",
                app_data.NOW,
                str(config),
            )
        ]
        assert shown(toasts) == [
            ("Budget saved", f"total $110.00 → $120.00 (written to {config})")
        ]
        assert app.settings.budget.monthly_limit == Decimal(120)
        # 95.94 of 120.00 is 79.95%, shown as 80%.
        budget = text_of(app, BudgetPanel)
        assert "$95.94 of $120.00" in budget
        assert "80%" in budget


@pytest.mark.parametrize("typed", ["$50", "abc"])
async def test_a_bad_amount_keeps_the_modal_open_and_writes_nothing(
    app: QoinsApp,
    config: Path,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    typed: str,
) -> None:
    toasts = record_toasts(monkeypatch, app)
    async with running(app) as pilot:
        await press(pilot, "e", *typed, "enter")

        screen = modal(app)
        assert text(screen, "#budget-error") == MESSAGE.format(typed)
        assert screen.focused is screen.query_one("#budget", Input)
        assert config.read_text() == CONFIG
        assert store.budget_changes() == []
        assert toasts == []


async def test_escape_cancels_and_writes_nothing(
    app: QoinsApp, config: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    toasts = record_toasts(monkeypatch, app)
    async with running(app) as pilot:
        await press(pilot, "e", *"999", "escape")

        assert not isinstance(app.screen, BudgetEntryScreen)
        assert config.read_text() == CONFIG
        assert store.budget_changes() == []
        assert toasts == []
        assert app.settings.budget.monthly_limit == Decimal("110.00")


async def test_the_same_amount_writes_nothing_and_says_so(
    app: QoinsApp, config: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    toasts = record_toasts(monkeypatch, app)
    async with running(app) as pilot:
        await press(pilot, "e", "enter")

        assert not isinstance(app.screen, BudgetEntryScreen)
        assert config.read_text() == CONFIG
        assert store.budget_changes() == []
        assert shown(toasts) == [
            ("Budget not changed", "total is $110.00 already; nothing was written.")
        ]


async def test_e_on_services_edits_the_selected_sources_budget(
    app: QoinsApp, config: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    toasts = record_toasts(monkeypatch, app)
    async with running(app) as pilot:
        await press(pilot, "2")
        assert app.services.selected_row() is not None
        assert app.services.table.get_row_index("claude_code") == 0
        assert cell(app.services.table, "claude_code", "budget") == "$50.00"
        assert "e" in footer_keys(app)

        await press(pilot, "e")
        screen = modal(app)
        assert screen.query_one("#budget-entry").border_title == (
            "Budget for claude_code"
        )
        assert screen.query_one("#budget", Input).value == "50.00"

        await press(pilot, *"75", "enter")

        assert config.read_text() == CONFIG.replace(
            "budget_limit: 50.00  # agents", "budget_limit: 75  # agents"
        )
        [change] = store.budget_changes()
        assert (change.scope, change.old, change.new) == (
            "claude_code",
            Decimal("50.00"),
            Decimal(75),
        )
        assert shown(toasts) == [
            ("Budget saved", f"claude_code $50.00 → $75.00 (written to {config})")
        ]
        assert cell(app.services.table, "claude_code", "budget") == "$75.00"


async def test_e_on_a_sources_screen_and_an_empty_field_removes_its_budget(
    app: QoinsApp, config: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    toasts = record_toasts(monkeypatch, app)
    async with running(app) as pilot:
        await press(pilot, "2", "down", "enter")
        screen = app.screen
        assert isinstance(screen, SourceScreen) and screen.source == "aws_focus"
        assert "e" in footer_keys(app)
        title = screen.query_one("#source-title", Static)
        assert "of $30.00" in str(title.content)

        await press(pilot, "e", "backspace", "enter")

        assert screen.is_current
        assert config.read_text() == CONFIG.replace(
            "    paths: [/data/exports/aws/*.csv]\n    budget_limit: 30.00\n",
            "    paths: [/data/exports/aws/*.csv]\n",
        )
        assert [(c.scope, c.old, c.new) for c in store.budget_changes()] == [
            ("aws_focus", Decimal("30.00"), None)
        ]
        assert shown(toasts) == [
            ("Budget saved", f"aws_focus $30.00 → no budget (written to {config})")
        ]
        assert screen.row.budget is None
        assert " of $" not in str(title.content)


async def test_an_imported_file_has_no_budget_to_edit(
    app: QoinsApp, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toasts = record_toasts(monkeypatch, app)
    async with running(app) as pilot:
        await press(pilot, "2")
        table = app.services.table
        table.move_cursor(row=table.get_row_index(app_data.VERCEL_DEC))
        await settle(pilot)
        assert "e" not in footer_keys(app)

        await press(pilot, "e")

        assert not isinstance(app.screen, BudgetEntryScreen)
        assert shown(toasts) == [
            (
                "No budget to edit",
                f"{app_data.VERCEL_DEC} has no budget of its own: budgets are set on "
                "the total and on the sources under services in config.yml.",
            )
        ]
        assert config.read_text() == CONFIG


async def test_a_file_that_broke_meanwhile_is_explained_in_the_modal(
    app: QoinsApp, config: Path, store: Store
) -> None:
    async with running(app) as pilot:
        await press(pilot, "e", *"120")
        config.write_text("budget: [\n")

        await press(pilot, "enter")

        screen = modal(app)
        assert text(screen, "#budget-error").startswith(
            f"{config} line 2: not valid YAML"
        )
        field = screen.query_one("#budget", Input)
        assert not field.disabled and screen.focused is field
        assert config.read_text() == "budget: [\n"
        assert store.budget_changes() == []
        await press(pilot, "escape")
        assert not isinstance(app.screen, BudgetEntryScreen)


async def test_without_a_config_saving_creates_one_in_the_user_config_dir(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings()
    assert settings.path is None
    app = QoinsApp(settings, store, clock=app_data.frozen_clock)
    toasts = record_toasts(monkeypatch, app)
    created = default_config_path()
    async with running(app) as pilot:
        await press(pilot, "e")
        screen = modal(app)
        assert text(screen, "#budget-now") == "No budget yet · amounts in USD"
        assert text(screen, "#budget-where") == (
            f"No config.yml yet: saving creates {created}."
        )
        assert screen.query_one("#budget", Input).value == ""

        await press(pilot, *"49.99", "enter")

        assert created.read_text() == "budget:\n  monthly_limit: 49.99\n"
        assert shown(toasts) == [
            ("Budget saved", f"total no budget → $49.99 (created {created})")
        ]
        assert app.settings.path == created
        assert "$95.94 of $49.99" in text_of(app, BudgetPanel)


async def test_the_demo_writes_no_budget(
    config: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = QoinsApp(load_file(config), store, clock=app_data.frozen_clock, demo=True)
    toasts = record_toasts(monkeypatch, app)
    async with running(app) as pilot:
        assert "e" in footer_keys(app)

        await press(pilot, "e")

        assert not isinstance(app.screen, BudgetEntryScreen)
        assert shown(toasts) == [
            (
                "Budget not changed",
                "The demo's budgets are not saved: it runs on throwaway settings. "
                "Once QOINs reads your own data (a config.yml or agent logs), set "
                "them here with e, or with qoins budget set.",
            )
        ]
        assert config.read_text() == CONFIG
        assert store.budget_changes() == []


async def test_a_config_error_must_be_fixed_first(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = "config.yml line 3: not valid YAML (expected a mapping)."
    app = QoinsApp(Settings(), store, clock=app_data.frozen_clock, config_error=error)
    toasts = record_toasts(monkeypatch, app)
    async with running(app) as pilot:
        await press(pilot, "2")
        assert "e" in footer_keys(app)
        toasts.clear()

        await press(pilot, "e")

        assert not isinstance(app.screen, BudgetEntryScreen)
        assert shown(toasts) == [
            (
                "Budget needs a valid config",
                f"{error}\nFix config.yml first: QOINs writes no budget into a "
                "config it cannot read.",
            )
        ]
        assert not default_config_path().exists()
        assert store.budget_changes() == []


async def test_the_command_palette_edits_the_budget_of_what_is_selected(
    app: QoinsApp,
) -> None:
    async with running(app) as pilot:
        await press(pilot, "2", "ctrl+p", *"Edit budget", "enter")

        assert modal(app).scope == "claude_code"


async def test_help_lists_e_once(app: QoinsApp) -> None:
    everywhere = dict(app.key_sections())["Everywhere"]
    assert [line for line in everywhere if line[0] == "e"] == [
        ("e", "Edit the budget: the total, or the selected source's")
    ]
