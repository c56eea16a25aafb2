"""The app driven by Textual's pilot: every key the footer shows, and the figures.

The seeded store of :mod:`tests.app_data` holds December 2026 (now: Dec 24 09:30
UTC) and November; every figure asserted here is worked out by hand in that module's
docstring or next to the assertion.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.style import Style
from rich.text import Text
from textual.command import CommandPalette
from textual.content import Content
from textual.logging import TextualHandler
from textual.pilot import Pilot
from textual.theme import BUILTIN_THEMES
from textual.widgets import DataTable, Input, Static, TabbedContent
from textual.worker import WorkerFailed

import qoins_tui.app
from qoins_tui.alerts import check_alerts
from qoins_tui.analysis import Month
from qoins_tui.app import QoinsApp, QoinsThemes, lock_holder
from qoins_tui.config import Settings, load_file
from qoins_tui.dashboard import (
    BudgetPanel,
    DailyPanel,
    ForecastPanel,
    NotesPanel,
    NotesStrip,
    Panel,
    ServiceBreakdown,
    SourcesPanel,
    TopServices,
    TrendPanel,
    WelcomePanel,
)
from qoins_tui.errors import StoreBusyError
from qoins_tui.refresh import run_refresh
from qoins_tui.services import SourceScreen
from qoins_tui.store import Store
from qoins_tui.theme import DEFAULT_THEME, choose_theme, load_themes, parse_theme
from qoins_tui.widgets import (
    DailyChart,
    KeysScreen,
    bar_layout,
    format_whole,
    sparkline,
)
from tests import app_data
from tests.conftest import make_settings

WIDE = (160, 50)
NARROW = (80, 24)


@dataclass
class Toast:
    message: str
    title: str
    severity: str
    markup: bool


def record_toasts(monkeypatch: pytest.MonkeyPatch, app: QoinsApp) -> list[Toast]:
    """Every notify call the app makes, in order."""
    toasts: list[Toast] = []

    def notify(
        message: str,
        *,
        title: str = "",
        severity: str = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        toasts.append(Toast(message, title, severity, markup))

    monkeypatch.setattr(app, "notify", notify)
    return toasts


def seeded_app(
    tmp_path: Path, *, gcp_failed: bool = False, wait_s: float = 15.0
) -> QoinsApp:
    store = Store(tmp_path / "qoins.duckdb", wait_s=wait_s)
    app_data.seed_store(store, gcp_failed=gcp_failed)
    return QoinsApp(app_data.settings(), store, clock=app_data.frozen_clock)


@asynccontextmanager
async def running(
    app: QoinsApp, size: tuple[int, int] = WIDE
) -> AsyncIterator[Pilot[None]]:
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        yield pilot


async def settle(pilot: Pilot[Any]) -> None:
    """Let the workers finish; a failed one has gone through the app's own funnel."""
    await pilot.pause()
    with suppress(WorkerFailed):
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def press(pilot: Pilot[Any], *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


def text_of(app: QoinsApp, panel: type[Panel]) -> str:
    return app.dashboard.query_one(panel).render().plain


def status_of(app: QoinsApp) -> str:
    assert app.header_state is not None
    return app.header_state.status.plain


def drawn_key(table: DataTable[Any], index: int) -> Any:
    return table.ordered_rows[index].key


def row_text(table: DataTable[Any], key: Any) -> list[str]:
    return [
        cell.plain if isinstance(cell, Text) else str(cell)
        for cell in table.get_row(key)
    ]


def cell(table: DataTable[Any], row: str, column: str) -> str:
    value = table.get_cell(row, column)
    return value.plain if isinstance(value, Text) else str(value)


def table_lines(table: DataTable[Any]) -> list[str]:
    """The table as drawn, header first: what fits in its width, nothing more."""
    return [table.render_line(y).text.strip() for y in range(table.size.height)]


def panel_lines(app: QoinsApp) -> dict[str, list[str]]:
    """Every visible dashboard panel's lines, by panel id."""
    return {
        panel.id or "": panel.render().plain.splitlines()
        for panel in app.dashboard.query(Panel)
        if panel.display and panel.parent is not None and panel.parent.display
    }


def long_names_app(tmp_path: Path, config: str = app_data.LONG_CONFIG) -> QoinsApp:
    """The store of :func:`app_data.seed_long_names`; Claude Code's log folder
    exists, so claude_code is a detected source."""
    app_data.detectable_claude_logs()
    store = Store(tmp_path / "qoins.duckdb")
    app_data.seed_long_names(store)
    return QoinsApp(make_settings(config), store, clock=app_data.frozen_clock)


def footer_keys(app: QoinsApp) -> set[str]:
    return {
        key for key, active in app.screen.active_bindings.items() if active.binding.show
    }


# -- the Dashboard's figures -----------------------------------------------------------


async def test_dashboard_shows_the_month_worked_out_by_hand(tmp_path: Path) -> None:
    app = seeded_app(tmp_path)
    async with running(app):
        budget = text_of(app, BudgetPanel)
        # 45.20 + 28.15 + 10.00 + 2.30 + 10.29 = 95.94 of 110.00 → 87.2%, 14.06 left;
        # Dec 24 to Dec 31 are 8 days, today included.
        assert "$95.94 of $110.00" in budget
        assert "87% ⚠" in budget
        assert "$14.06 left · 8 days to go" in budget
        assert "≈ $45.20 of it estimated from usage" in budget

        forecast = text_of(app, ForecastPanel)
        # Usage without subscriptions: 85.94 over 23 whole days = 3.7365/day;
        # 95.94 + 8 × 3.7365 = 125.83, over 110.00 by 15.83. 14.06 ÷ 3.7365 = 3.76
        # days → Dec 27; 14.06 ÷ 8 days = 1.7575 → 1.76 a day.
        assert "Month end  $125.83" in forecast
        assert "Over budget by $15.83" in forecast
        assert "Runs out Dec 27 · keep under $1.76/day" in forecast
        assert "at $3.74/day over 23 full days" in forecast

        top = text_of(app, TopServices).splitlines()
        # Shares of 95.94: 45.20 → 47%, 28.15 → 29%, 10.29 → 11%, 10.00 → 10%,
        # 2.30 → 2%; claude_code is estimated, so its amount carries ≈.
        assert [line.split()[0] for line in top] == [
            "claude_code",
            "aws_focus",
            "Vercel",
            "subscriptions",
            "gcp_focus",
        ]
        assert "≈$45.20" in top[0] and "47%" in top[0] and "of $50.00" in top[0]
        assert "$28.15" in top[1] and "29%" in top[1] and "of $30.00" in top[1]
        assert "$10.29" in top[2] and "11%" in top[2] and "of $" not in top[2]
        assert "$2.30" in top[4] and "2%" in top[4]

        trend = text_of(app, TrendPanel)
        # Month end 125.83 against November's 83.43: +50.8%. Per day, like for like
        # without the subscriptions: November's 83.43 − 10.00 = 73.43 over 30 days
        # is 2.4477; December's usage 3.7365 a day, as the forecast has it.
        assert "month end vs November ↗ +51%" in trend
        assert "November $83.43 · December so far $95.94" in trend
        assert "November usage averaged $2.45/day" in trend
        assert "December usage so far $3.74/day" in trend

        notes = text_of(app, NotesPanel)
        assert "1.2M tokens of qwen3-coder have no price" in notes
        assert "$18.40 of agent usage paid by your plan" in notes
        assert "€4.20 has no exchange rate" in notes

        by_service = text_of(app, ServiceBreakdown)
        assert "Amazon EC2  AWS" in by_service and "$25.30" in by_service
        assert "-$2.00" in by_service

        daily = app.dashboard.query_one(DailyPanel)
        assert daily.border_title == "Daily spend, last 30 days"
        # claude_code, aws_focus, gcp_focus, codex, subscriptions and the three
        # imported files: the eight rows of the Services tab.
        assert status_of(app) == "refreshed 09:12 · 8 sources"


async def test_narrow_dashboard_keeps_the_essentials(tmp_path: Path) -> None:
    app = seeded_app(tmp_path)
    async with running(app, NARROW):
        assert "$95.94 of $110.00" in text_of(app, BudgetPanel)
        # "Runs out Dec 27 · keep under $1.76/day" is 38 cells, the panel 36 wide.
        assert text_of(app, ForecastPanel).splitlines()[2] == (
            "Runs out Dec 27 · keep ≤ $1.76/day"
        )
        top = text_of(app, TopServices).splitlines()
        assert len(top) == 4
        assert top[-1] == "+ 2 more · $12.30"  # subscriptions 10.00 + gcp 2.30
        strip = text_of(app, NotesStrip)
        assert strip.startswith(
            "1.2M tokens of qwen3-coder unpriced · ≈$45.20 estimated"
        )
        assert (
            not app.dashboard.query_one(NotesPanel).display
            or not app.dashboard.query_one("#dash-side").display
        )


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x50"])
async def test_dashboard_words_fit_without_cutting_figures(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app = long_names_app(tmp_path)
    async with running(app, size):
        panels = panel_lines(app)
        cut = [line for lines in panels.values() for line in lines if "…" in line]
        assert cut == []
        budget = panels["budget"]
        # 11.50 + 14,998.45 = 15,009.95 against 50.00: 14,959.95 over; Dec 24 to 31.
        assert budget[0].startswith("$15,009.95 of $50.00")
        if size == NARROW:
            assert budget[2] == "$14,959.95 over · 8 days to go"
        else:
            assert budget[2] == "$14,959.95 over budget · 8 days to go"
            # By service: RDS 2 × 7,000.00; its 34-letter name stays whole.
            rds = next(line for line in panels["by-service"] if "Relational" in line)
            assert rds.split("  ")[0] == app_data.RDS
            assert rds.endswith("$14,000.00")


async def test_no_budget_says_how_to_set_one_in_full(tmp_path: Path) -> None:
    app = long_names_app(
        tmp_path, app_data.LONG_CONFIG.replace("  monthly_limit: 50.00\n", "")
    )
    async with running(app, NARROW):
        # The panel is 36 cells wide: the hint wraps instead of losing ".yml.".
        assert text_of(app, BudgetPanel).splitlines() == [
            "$15,009.95 spent · no monthly budget",
            "Add budget.monthly_limit to",
            "config.yml.",
        ]


async def test_wide_sources_panel_keeps_its_notes_whole(tmp_path: Path) -> None:
    app = seeded_app(tmp_path)
    async with running(app, WIDE):
        sources = app.dashboard.query_one(SourcesPanel).render().plain.splitlines()
        codex = next(line for line in sources if "codex" in line)
        # Codex's 23 days at $0.80, paid by the plan: $18.40.
        assert codex.rstrip().endswith("$18.40 paid by plan")
        assert not any("…" in line for line in sources)


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x50"])
async def test_daily_bars_all_look_alike(tmp_path: Path, size: tuple[int, int]) -> None:
    app = seeded_app(tmp_path)
    async with running(app, size):
        rendered = app.dashboard.query_one(DailyChart).render()
        assert isinstance(rendered, Text)
        chart = rendered.plain.splitlines()
        assert not any(glyph in "".join(chart) for glyph in "▐▌▗▖▝▘")
        # The bottom row of bars: Nov 25 to Dec 23 all had spend, Dec 24 none yet,
        # so 29 bars of one width with gaps of one width between them.
        bottom = next(line for line in chart if line.lstrip().startswith("$0"))
        bars = bottom.lstrip().removeprefix("$0").rstrip()
        runs = re.findall(r"█+", bars)
        gaps = re.findall(r" +", bars)
        assert len(runs) == 29
        assert len(set(runs)) == 1 and len(set(gaps)) == 1
        assert len(gaps[0]) == 1


def testbar_layout_puts_every_day_on_the_same_cells() -> None:
    """plotext maps x to half cells as floor(0.5 + (halves - 1)(x - lo)/(hi - lo));
    with the layout's limits, day i's bar covers the same halves of its slot."""
    for canvas in range(30, 200):
        lo, hi, width = bar_layout(canvas, 30)
        per_day = canvas // 30
        halves = 2 * canvas

        def half(x: float, lo: float = lo, hi: float = hi, halves: int = halves) -> int:
            return math.floor(round(0.5 + (halves - 1) * (x - lo) / (hi - lo), 8))

        filled = 2 * per_day - 2 if per_day > 1 else 1
        for day in range(1, 31):
            start = 2 * per_day * (day - 1)
            assert half(day - width / 2) == start, (canvas, day)
            assert half(day + width / 2) == start + filled - 1, (canvas, day)


# -- months ----------------------------------------------------------------------------


async def test_month_keys_move_between_months(tmp_path: Path) -> None:
    app = seeded_app(tmp_path)
    async with running(app) as pilot:
        assert app.month == Month(2026, 12)
        assert footer_keys(app) == {
            "r",
            "left_square_bracket",
            "right_square_bracket",
            "full_stop",
            "e",
            "question_mark",
            "q",
        }
        assert not app.screen.active_bindings["right_square_bracket"].enabled

        await press(pilot, "left_square_bracket")
        assert app.month == Month(2026, 11)
        assert app.header_state is not None
        assert app.header_state.month == "November 2026"
        budget = text_of(app, BudgetPanel)
        # 36.00 + 27.00 + 10.00 + 2.00 + 8.43 = 83.43 → 75.8%, 26.57 under.
        assert "$83.43 of $110.00" in budget
        assert "76% ⚠" in budget
        assert "$26.57 left at month end" in budget
        assert "days to go" not in budget
        forecast = text_of(app, ForecastPanel)
        assert "Month total  $83.43" in forecast
        assert "Under budget by $26.57" in forecast
        assert "averaged $2.78/day over 30 days" in forecast

        trend = text_of(app, TrendPanel)
        assert "so far" not in trend
        daily = app.dashboard.query_one(DailyPanel)
        assert daily.border_title == "Daily spend, November 2026"

        await press(pilot, "left_square_bracket")
        assert app.month == Month(2026, 10)
        await press(pilot, "right_square_bracket")
        assert app.month == Month(2026, 11)
        await press(pilot, "full_stop")
        assert app.month == Month(2026, 12)
        await press(pilot, "right_square_bracket")
        assert app.month == Month(2026, 12), "no month after the current one"
        assert "$95.94 of $110.00" in text_of(app, BudgetPanel)


async def test_a_finished_month_gives_its_total_not_so_far(tmp_path: Path) -> None:
    app = seeded_app(tmp_path)
    app_data.seed_october(app.store)
    async with running(app) as pilot:
        await press(pilot, "left_square_bracket")
        # October: Cloud Run $2.00 over 31 days, $0.0645 a day. November: $83.43,
        # of which $73.43 usage without the $10.00 subscription: $2.4477 a day.
        assert text_of(app, TrendPanel).splitlines()[1:] == [
            "October $2.00 · November $83.43",
            "October usage averaged $0.06/day",
            "November usage averaged $2.45/day",
        ]


async def test_a_past_source_screen_is_titled_by_what_it_shows(
    tmp_path: Path,
) -> None:
    app = seeded_app(tmp_path)
    async with running(app) as pilot:
        await press(pilot, "2", "enter", "left_square_bracket")
        screen = app.screen
        assert isinstance(screen, SourceScreen)
        box = screen.query_one("#source-chart-box")
        # November has 30 days: the 30 days the summary holds are all of it.
        assert box.border_title == "Daily spend, November 2026"
        title = screen.query_one("#source-title", Static).render()
        assert isinstance(title, Content)
        assert " · November 2026 $" in title.plain
        assert "this month" not in title.plain
        chart = screen.query_one(DailyChart)
        assert chart.days[0][0] == dt.date(2026, 11, 1)
        await press(pilot, "left_square_bracket")
        # October has 31: the 30 days to Oct 31 start on Oct 2, and say so.
        assert box.border_title == "Daily spend, Oct 2–31"


async def test_a_source_without_providers_this_month_says_nothing_of_them(
    tmp_path: Path,
) -> None:
    app = seeded_app(tmp_path)
    async with running(app) as pilot:
        await press(pilot, "left_square_bracket", "left_square_bracket", "2")
        rows = [row.key.value for row in app.services.table.ordered_rows]
        # October holds no charges: the subscriptions bill nothing from any provider.
        await press(pilot, *["down"] * rows.index("subscriptions"), "enter")
        screen = app.screen
        assert isinstance(screen, SourceScreen) and screen.source == "subscriptions"
        title = screen.query_one("#source-title", Static).content
        assert isinstance(title, Content)
        assert title.plain.splitlines()[0] == "subscriptions  Subscriptions"
        assert "provider" not in title.plain


# -- tabs, the Services table, filter, detail ------------------------------------------


async def test_tab_keys_switch_tabs(tmp_path: Path) -> None:
    app = seeded_app(tmp_path)
    async with running(app) as pilot:
        tabs = app.query_one("#tabs", TabbedContent)
        assert tabs.active == "dashboard"
        await press(pilot, "2")
        assert tabs.active == "services"
        assert app.services.table.has_focus
        assert footer_keys(app) == {
            "r",
            "left_square_bracket",
            "right_square_bracket",
            "full_stop",
            "e",
            "slash",
            "question_mark",
            "q",
        }
        await press(pilot, "4")
        assert tabs.active == "alerts"
        # No alerts: the tab itself takes the focus, so that its keys work.
        assert app.alerts_view.has_focus
        await press(pilot, "1")
        assert tabs.active == "dashboard"


async def test_services_lists_sources_by_spend(tmp_path: Path) -> None:
    app = seeded_app(tmp_path)
    async with running(app, NARROW) as pilot:
        await press(pilot, "2")
        table = app.services.table
        keys = [row.key.value for row in table.ordered_rows]
        assert keys == [
            "claude_code",
            "aws_focus",
            app_data.VERCEL_DEC,
            "subscriptions",
            "gcp_focus",
            "codex",
            app_data.HETZNER,
            app_data.VERCEL_NOV,
        ]
        claude = row_text(table, "claude_code")
        # 45.20 of 50.00 = 90.4%; 28.15 of 30.00 = 93.8%.
        assert claude[:3] == ["claude_code", "Anthropic", "ok"]
        assert claude[4:7] == ["$45.20", "$50.00", "90%"]
        assert cell(table, "aws_focus", "used") == "94%"
        assert cell(table, app_data.VERCEL_DEC, "source") == "vercel-2026-12.csv"
        assert cell(table, app_data.VERCEL_DEC, "refreshed") == "Dec 20"
        total = app.services.query_one("#services-total", Static).content
        assert isinstance(total, Content)
        assert total.plain.startswith("8 sources · $95.94 this month")


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x50"])
async def test_services_keep_names_and_money_whole(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app = long_names_app(tmp_path)
    async with running(app, size) as pilot:
        await press(pilot, "2")
        drawn = table_lines(app.services.table)
        # RDS 14,000.00 + EC2 998.45; claude_code 23 × 0.50.
        assert "$14,998.45" in drawn[1] and drawn[1].startswith("aws_billing_export")
        assert drawn[2].startswith("claude_code (detected)") and "$11.50" in drawn[2]
        assert not any("…" in line for line in drawn)
        total = app.services.query_one("#services-total", Static).content
        assert isinstance(total, Content) and total.plain.startswith("2 sources")
        assert status_of(app) == "refreshed 09:12 · 2 sources"


async def test_filter_narrows_the_list_and_escape_clears_it(tmp_path: Path) -> None:
    app = seeded_app(tmp_path)
    async with running(app) as pilot:
        await press(pilot, "2", "slash")
        assert app.query_one("#filter", Input).has_focus
        # "vercel" holds an r: typed into the filter, it must not start a refresh.
        await press(pilot, *"vercel")
        table = app.services.table
        assert [row.key.value for row in table.ordered_rows] == [
            app_data.VERCEL_DEC,
            app_data.VERCEL_NOV,
        ]
        assert not app.is_refreshing
        await press(pilot, "escape")
        assert table.row_count == 8
        assert not app.services.has_class("-filtering")
        assert table.has_focus


async def test_enter_opens_a_source_and_escape_goes_back(tmp_path: Path) -> None:
    app = seeded_app(tmp_path)
    async with running(app) as pilot:
        await press(pilot, "2", "enter")
        screen = app.screen
        assert isinstance(screen, SourceScreen)
        assert screen.source == "claude_code"
        assert footer_keys(app) >= {"escape", "r", "question_mark", "q"}
        lines = screen.query_one("#source-services", DataTable)
        rows = [
            [c.plain if isinstance(c, Text) else str(c) for c in row]
            for row in (lines.get_row(r.key) for r in lines.ordered_rows)
        ]
        # Sonnet 23 × 1.50 = 34.50; opus 6.00 + 4.70 = 10.70; qwen has no price.
        assert rows == [
            ["Claude Code", "claude-sonnet-4-5", "23", "$34.50"],
            ["Claude Code", "claude-opus-4-1", "2", "$10.70"],
            ["Claude Code", "qwen3-coder", "1", "unpriced · 1.2M tokens"],
        ]
        counts = screen.query_one("#source-counts", Static).content
        notes = screen.query_one("#source-notes", Static).content
        assert isinstance(counts, Content) and isinstance(notes, Content)
        assert re.search(r"malformed +2\n", counts.plain)
        assert "skipped malformed lines 17, 342" in notes.plain

        await press(pilot, "escape")
        assert not isinstance(app.screen, SourceScreen)
        assert app.query_one("#tabs", TabbedContent).active == "services"


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x50"])
async def test_source_detail_keeps_every_amount_in_view(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    app = long_names_app(tmp_path)
    async with running(app, size) as pilot:
        await press(pilot, "2", "enter")
        screen = app.screen
        assert isinstance(screen, SourceScreen)
        assert screen.source == "aws_billing_export"
        table = screen.query_one("#source-services", DataTable)
        drawn = table_lines(table)
        width = table.scrollable_content_region.width
        # RDS: two charges of 7,000.00; EC2: one of 998.45. Amounts end the line.
        assert drawn[1].endswith("2  $14,000.00") and drawn[2].endswith("1     $998.45")
        assert all(len(line) <= width for line in drawn)
        assert cell(table, drawn_key(table, 0), "service").endswith("…")
        assert cell(table, drawn_key(table, 0), "service").startswith("Amazon Rel")

        await press(pilot, "escape", "down", "enter")
        screen = app.screen
        assert isinstance(screen, SourceScreen) and screen.source == "claude_code"
        table = screen.query_one("#source-services", DataTable)
        # Agent logs: the service is the model, so it is shown once, as the model.
        assert [str(c.label) for c in table.columns.values()] == [
            "Model",
            "Charges",
            "Amount",
        ]
        rows = [row_text(table, drawn_key(table, i)) for i in range(table.row_count)]
        # 23 × 0.50 = 11.50; 13 × 100,000 tokens = 1.3M.
        assert rows == [
            ["claude-sonnet-4-5", "23", "$11.50"],
            [app_data.PREVIEW, "13", "unpriced · 1.3M tokens"],
        ]
        assert all(
            line.rstrip().endswith(("$11.50", "tokens", "Amount"))
            for line in table_lines(table)
        )


async def test_source_detail_shows_credits_and_follows_the_month(
    tmp_path: Path,
) -> None:
    app = seeded_app(tmp_path)
    async with running(app) as pilot:
        await press(pilot, "2", "down", "enter")
        screen = app.screen
        assert isinstance(screen, SourceScreen) and screen.source == "aws_focus"
        lines = screen.query_one("#source-services", DataTable)
        amounts = {
            lines.get_row(r.key)[0].plain: lines.get_row(r.key)[3].plain
            for r in lines.ordered_rows
        }
        # EC2 23 × 1.10 = 25.30, S3 4.85, the credit -2.00.
        assert amounts == {
            "Amazon EC2": "$25.30",
            "Amazon S3": "$4.85",
            "Promotional credit": "-$2.00",
        }
        await press(pilot, "left_square_bracket")
        assert screen.summary.month == Month(2026, 11)
        november = {lines.get_row(r.key)[3].plain for r in lines.ordered_rows}
        assert november == {"$27.00"}  # 30 × 0.90


async def test_failed_source_shows_in_error_and_in_the_header(tmp_path: Path) -> None:
    app = seeded_app(tmp_path, gcp_failed=True)
    async with running(app) as pilot:
        assert status_of(app) == "1 source failed · refreshed 09:12"
        await press(pilot, "2")
        table = app.services.table
        assert cell(table, "gcp_focus", "status") == "failed"
        name = table.get_cell("gcp_focus", "source")
        assert isinstance(name, Text) and isinstance(name.style, Style)
        error_colour = app.theme_variables["error"]
        assert name.style.color is not None
        assert name.style.color.triplet is not None
        assert name.style.color.triplet.hex.upper() == error_colour.upper()
        await press(pilot, *["down"] * 4, "enter")
        screen = app.screen
        assert isinstance(screen, SourceScreen) and screen.source == "gcp_focus"
        notes = screen.query_one("#source-notes", Static).content
        assert isinstance(notes, Content)
        assert app_data.GCP_ERROR in notes.plain


# -- refresh -------------------------------------------------------------------------


REFRESH_CONFIG = """\
budget:
  monthly_limit: 50.00
  currency: USD
subscriptions:
  - name: Domain
    provider: Namecheap
    amount: 12.00
    currency: USD
    period: monthly
    start: 2020-01-01
"""


async def test_refresh_runs_in_the_background_and_updates_the_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = QoinsApp(make_settings(REFRESH_CONFIG), Store(tmp_path / "qoins.duckdb"))
    toasts = record_toasts(monkeypatch, app)
    states: list[str] = []
    async with running(app, NARROW) as pilot:
        assert app.dashboard.has_class("-welcome")
        assert status_of(app) == "not refreshed yet · r refreshes"
        app.watch(
            app,
            "header_state",
            lambda state: states.append(state.status.plain if state else ""),
            init=False,
        )
        await press(pilot, "r")
        assert any(s.startswith("refreshing") for s in states)
        assert status_of(app).startswith("refreshed ")
        assert status_of(app).endswith(" · 1 source")
        # The subscription bills 12.00 on the 1st of every month: this month's spend.
        assert not app.dashboard.has_class("-welcome")
        assert "$12.00 of $50.00" in text_of(app, BudgetPanel)
        assert [t for t in toasts if t.severity == "error"] == []


async def test_a_failing_source_gives_one_error_toast_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "exports [old]"
    folder.mkdir()
    (folder / "costs.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    config = REFRESH_CONFIG + (
        "services:\n"
        "  broken:\n"
        "    type: focus\n"
        "    paths:\n"
        f'      - "{tmp_path}/exports [[]old]/*.csv"\n'
    )
    app = QoinsApp(make_settings(config), Store(tmp_path / "qoins.duckdb"))
    toasts = record_toasts(monkeypatch, app)
    async with running(app) as pilot:
        await press(pilot, "r")
        errors = [t for t in toasts if t.severity == "error"]
        assert len(errors) == 1
        toast = errors[0]
        assert toast.title == "Refresh: 1 source failed"
        assert toast.markup is False
        first = toast.message.splitlines()[0]
        assert first.startswith(f"broken: {folder}/costs.csv: is not a FOCUS export")
        assert "[old]" in first
        assert status_of(app).startswith("1 source failed · refreshed ")
        await press(pilot, "2")
        assert cell(app.services.table, "broken", "status") == "failed"
        assert cell(app.services.table, "subscriptions", "status") == "ok"


async def test_r_with_nothing_to_refresh_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = QoinsApp(
        make_settings(), Store(tmp_path / "qoins.duckdb"), clock=app_data.frozen_clock
    )
    toasts = record_toasts(monkeypatch, app)
    async with running(app, NARROW) as pilot:
        await press(pilot, "r")
        assert [(t.title, t.severity, t.markup) for t in toasts] == [
            ("Nothing to refresh", "information", False)
        ]
        assert "services: in config.yml" in toasts[0].message
        assert "qoins import FILE" in toasts[0].message
        assert not app.is_refreshing
        assert status_of(app) == "not refreshed yet · r refreshes"


# -- the store held by another process -------------------------------------------------


HOLD_LOCK = (
    "import sys, duckdb\n"
    "con = duckdb.connect(sys.argv[1])\n"
    "sys.stdout.write('locked\\n')\n"
    "sys.stdout.flush()\n"
    "sys.stdin.read()\n"
)


async def test_busy_store_keeps_the_screen_and_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qoins_tui.app, "BUSY_RETRY_S", 0.3)
    app = seeded_app(tmp_path, wait_s=0.2)
    async with running(app) as pilot:
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(app.store.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            await press(pilot, "left_square_bracket")
            assert status_of(app) == f"store busy (PID {holder.pid}) since 09:30"
            assert app.summary is not None and app.summary.month == Month(2026, 12)
            assert "$95.94 of $110.00" in text_of(app, BudgetPanel)
        finally:
            assert holder.stdin is not None
            holder.stdin.close()
            holder.wait(timeout=10)
        for _ in range(50):
            await pilot.pause(0.1)
            if app.summary is not None and app.summary.month == Month(2026, 11):
                break
        await settle(pilot)
        assert app.summary is not None and app.summary.month == Month(2026, 11)
        assert status_of(app) == "refreshed 09:12 · 8 sources"


def test_lock_holder_is_read_from_the_busy_message() -> None:
    named = StoreBusyError(
        "The store /tmp/q.duckdb is locked by /usr/bin/python3.12 (PID 4242) by "
        "user dev; waited 2 s. Let that refresh finish and try again."
    )
    assert lock_holder(named) == "PID 4242"
    assert lock_holder(StoreBusyError("locked by another process")) is None


# -- help, quit, palette, start-up ---------------------------------------------------


async def test_help_lists_every_key_and_closes(tmp_path: Path) -> None:
    app = seeded_app(tmp_path)
    async with running(app, NARROW) as pilot:
        await press(pilot, "question_mark")
        assert isinstance(app.screen, KeysScreen)
        content = app.screen.query_one(Static).content
        assert isinstance(content, Content)
        listed = content.plain
        for key in (
            "1",
            "2",
            "4",
            "r",
            "[",
            "]",
            ".",
            "e",
            "/",
            "?",
            "q",
            "ctrl+p",
            "enter",
            "esc",
            "space",
            "R",
        ):
            assert f"  {key} " in listed, key
        await press(pilot, "escape")
        assert not isinstance(app.screen, KeysScreen)


async def test_q_quits(tmp_path: Path) -> None:
    app = seeded_app(tmp_path)
    async with running(app) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_command_palette_offers_actions_and_themes(tmp_path: Path) -> None:
    app = seeded_app(tmp_path)
    async with running(app) as pilot:
        commands = list(app.get_system_commands(app.screen))
        titles = [command.title for command in commands]
        assert {
            "Refresh",
            "Previous month",
            "Next month",
            "This month",
            "Dashboard",
            "Services",
            "Alerts",
            "Edit budget",
            "Help",
            "Theme",
            "Theme: qoins-dark",
            "Theme: qoins-light",
        } <= set(titles)
        # One entry for the keys screen: QOINs' Help, not Textual's Keys as well.
        assert titles.count("Help") == 1 and "Keys" not in titles
        assert [t for t in titles if t.startswith("Theme: ")] == [
            "Theme: qoins-dark",
            "Theme: qoins-light",
        ]

        # The Theme command lists QOINs' themes only, though Textual's are registered.
        assert "textual-dark" in app.available_themes
        assert [name for name, _ in QoinsThemes(app.screen).commands] == [
            "qoins-dark",
            "qoins-light",
        ]
        theme_command = next(c for c in commands if c.title == "Theme")
        theme_command.callback()
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        await press(pilot, "escape")
        dict(QoinsThemes(app.screen).commands)["qoins-light"]()
        assert app.theme == "qoins-light"


async def test_start_up_is_logged_through_textual(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="qoins_tui")
    app = seeded_app(tmp_path)
    async with running(app):
        assert any(isinstance(h, TextualHandler) for h in logging.getLogger().handlers)
    assert not any(isinstance(h, TextualHandler) for h in logging.getLogger().handlers)
    started = [r.getMessage() for r in caplog.records if "started in" in r.getMessage()]
    assert len(started) == 1
    assert started[0].startswith("QOINs started in ") and started[0].endswith(" ms")


async def test_config_error_is_a_toast_and_the_app_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    error = "config.yml line 3, budget.monthly_limit: [oops] is not an amount."
    app = QoinsApp(
        make_settings(),
        Store(tmp_path / "qoins.duckdb"),
        clock=app_data.frozen_clock,
        config_error=error,
    )
    toasts = record_toasts(monkeypatch, app)
    async with running(app, NARROW) as pilot:
        assert [(t.title, t.severity, t.markup) for t in toasts] == [
            ("Configuration error", "error", False)
        ]
        assert toasts[0].message.startswith(error)
        assert app.dashboard.query_one(WelcomePanel).display

        await press(pilot, "r")

        assert [(t.title, t.severity) for t in toasts[1:]] == [
            ("Refresh needs a valid config", "error")
        ]
        assert not app.is_refreshing


async def test_welcome_names_ways_that_work_now(tmp_path: Path) -> None:
    app = QoinsApp(
        make_settings(), Store(tmp_path / "qoins.duckdb"), clock=app_data.frozen_clock
    )
    async with running(app, NARROW):
        text = app.dashboard.query_one("#welcome-text", Static).content
        assert isinstance(text, Content)
        ways = text.plain.split("Three ways to add a source\n")[1]
        assert ways.splitlines()[:7] == [
            "  1. Coding-agent logs, which QOINs reads from the folders above:",
            "     Claude Code, Codex CLI and Gemini CLI",
            "  2. A line in config.yml, such as services: {openai: {budget_limit: 40}}",
            "     and the API's admin key: qoins keys set openai",
            "  3. A cost export: qoins import FILE",
            "     (FOCUS CSV, Parquet or JSON lines, or Cursor's usage CSV)",
            "",
        ]
        looked_for = text.plain.split("What QOINs looked for\n")[1].split("\n\n")[0]
        assert [line.split("  ")[2] for line in looked_for.splitlines()] == [
            "config",
            "Claude Code logs",
            "Codex CLI logs",
            "Gemini CLI logs",
        ]
        assert "qoins --demo" in ways


async def test_demo_is_named_in_the_header(tmp_path: Path) -> None:
    store = Store(tmp_path / "qoins.duckdb")
    app = QoinsApp(make_settings(), store, clock=app_data.frozen_clock, demo=True)
    async with running(app, NARROW):
        assert app.header_state is not None and app.header_state.demo
        assert not app.dashboard.has_class("-welcome")


# -- themes ----------------------------------------------------------------------------


async def test_unknown_theme_falls_back_with_a_toast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = QoinsApp(
        make_settings("theme: solarized-neon\n"),
        Store(tmp_path / "qoins.duckdb"),
        clock=app_data.frozen_clock,
    )
    toasts = record_toasts(monkeypatch, app)
    async with running(app, NARROW):
        assert app.theme == DEFAULT_THEME
        warnings = [t for t in toasts if t.severity == "warning"]
        assert len(warnings) == 1
        assert "'solarized-neon'" in warnings[0].message
        assert warnings[0].message.endswith(
            "Set theme: in config.yml to one of qoins-dark, qoins-light."
        )
        assert "Textual" not in warnings[0].message
        assert warnings[0].markup is False
    assert "qoins-dark" not in BUILTIN_THEMES


async def test_a_textual_theme_is_not_offered_from_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = QoinsApp(
        make_settings("theme: textual-light\n"),
        Store(tmp_path / "qoins.duckdb"),
        clock=app_data.frozen_clock,
    )
    toasts = record_toasts(monkeypatch, app)
    async with running(app, NARROW):
        assert app.theme == DEFAULT_THEME
        assert ["'textual-light'" in t.message for t in toasts] == [True]


async def test_configured_theme_is_used(tmp_path: Path) -> None:
    app = QoinsApp(
        make_settings("theme: qoins-light\n"),
        Store(tmp_path / "qoins.duckdb"),
        clock=app_data.frozen_clock,
    )
    async with running(app, NARROW):
        assert app.theme == "qoins-light"
        assert not app.current_theme.dark


def test_shipped_themes_load(tmp_path: Path) -> None:
    loaded = load_themes()
    names = {theme.name for theme in loaded.themes}
    assert {"qoins-dark", "qoins-light"} <= names
    assert loaded.problems == []
    (tmp_path / "good.yaml").write_text("name: mine\nprimary: '#123456'\n")
    (tmp_path / "bad.yaml").write_text("name: broken\nprimary: not-a-colour\n")
    (tmp_path / "odd.yaml").write_text("name: odd\nprimary: '#123456'\nshade: 3\n")
    mixed = load_themes(tmp_path)
    assert [t.name for t in mixed.themes] == ["mine"]
    assert [p.split(":")[0] for p in mixed.problems] == ["bad.yaml", "odd.yaml"]


def test_choose_theme() -> None:
    assert choose_theme(None, ["qoins-dark", "textual-dark"]) == ("qoins-dark", None)
    assert choose_theme("textual-dark", ["qoins-dark", "textual-dark"]) == (
        "textual-dark",
        None,
    )
    name, why = choose_theme("nope", ["qoins-dark", "qoins-light"])
    assert name == "qoins-dark" and why is not None and "qoins-light" in why
    assert choose_theme("nope", ["textual-dark"])[0] == "textual-dark"
    with pytest.raises(ValueError, match="primary"):
        parse_theme("name: x\n")


# -- small pieces --------------------------------------------------------------------


def test_sparkline_and_whole_money() -> None:
    from decimal import Decimal

    days = [Decimal(0)] * 29 + [Decimal(5)]
    assert sparkline(days, 10) == " " * 9 + "█"
    assert sparkline([Decimal(1), Decimal(2)], 2) == "▄█"
    assert format_whole(Decimal("115.5"), "USD") == "$116"
    assert format_whole(Decimal("-3.2"), "EUR") == "-€3"


def test_header_time_is_in_the_budget_zone() -> None:
    from qoins_tui.widgets import format_when

    zone = dt.timezone(dt.timedelta(hours=2))
    moment = dt.datetime(2026, 12, 24, 9, 12, tzinfo=dt.UTC)
    assert format_when(moment, dt.date(2026, 12, 24), zone) == "11:12"
    assert format_when(moment, dt.date(2026, 12, 25), zone) == "Dec 24 11:12"
    assert format_when(moment, dt.date(2026, 12, 25), zone, short=True) == "Dec 24"


def one_subscription(tmp_path: Path) -> Settings:
    """A config file whose one source, a subscription, bills $10 on 5 December."""
    config = tmp_path / "config.yml"
    config.write_text(
        "subscriptions:\n"
        "  - {name: Tool, provider: Vendor, amount: 10.00, currency: USD,\n"
        "     period: monthly, start: 2026-12-05}\n",
        encoding="utf-8",
    )
    return load_file(config)


async def test_a_source_never_refreshed_is_refreshed_on_start(tmp_path: Path) -> None:
    app = QoinsApp(
        one_subscription(tmp_path),
        Store(tmp_path / "qoins.duckdb"),
        clock=app_data.frozen_clock,
        refresh_on_start=True,
    )
    async with running(app, NARROW) as pilot:
        await settle(pilot)
        assert app.summary is not None
        [row] = app.summary.sources
        # Billed on 5 December, before the clock's 24 December.
        assert (row.name, row.spent) == ("subscriptions", Decimal("10.00"))
        assert row.status != "never"


async def test_without_refresh_on_start_nothing_refreshes(tmp_path: Path) -> None:
    app = QoinsApp(
        one_subscription(tmp_path),
        Store(tmp_path / "qoins.duckdb"),
        clock=app_data.frozen_clock,
    )
    async with running(app, NARROW) as pilot:
        await settle(pilot)
        assert app.summary is not None
        assert [(r.name, r.status, r.spent) for r in app.summary.sources] == [
            ("subscriptions", "never", Decimal(0))
        ]


async def test_r_reads_config_yml_again_before_it_refreshes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = one_subscription(tmp_path)
    app = QoinsApp(
        settings, Store(tmp_path / "qoins.duckdb"), clock=app_data.frozen_clock
    )
    async with running(app, NARROW) as pilot:
        assert settings.path is not None
        # Changed from the shell while the app runs: a second subscription, $5 on
        # 6 December, and a budget.
        settings.path.write_text(
            settings.path.read_text(encoding="utf-8")
            + "  - {name: Other, provider: Vendor, amount: 5.00, currency: USD,\n"
            "     period: monthly, start: 2026-12-06}\n"
            "budget:\n  monthly_limit: 40.00\n",
            encoding="utf-8",
        )
        await press(pilot, "r")
        assert app.summary is not None
        # 10.00 + 5.00 against the new 40.00.
        assert (app.summary.spent, app.summary.budget) == (
            Decimal("15.00"),
            Decimal("40.00"),
        )

        settings.path.write_text("budget: [broken\n", encoding="utf-8")
        toasts = record_toasts(monkeypatch, app)
        await press(pilot, "r")
        assert [t.title for t in toasts] == ["Refresh needs a valid config"]
        assert app.summary.spent == Decimal("15.00")


# -- alerts after a refresh ----------------------------------------------------------


def crossing_config(tmp_path: Path, alerts: str = "") -> Settings:
    """$10 on 5 December and $8 on 6 December against a $20 budget: $18 is 90 %,
    past the 75 % and the 90 % thresholds at once. ``alerts`` adds the budget's
    alert rules and a webhook channel nothing listens to (port 9 of this machine)."""
    config = tmp_path / "config.yml"
    notifications = (
        "notifications:\n  hook:\n    type: apprise\n    url: json://127.0.0.1:9/\n"
    )
    config.write_text(
        "budget:\n  monthly_limit: 20.00\n"
        + (f"  alerts:\n{alerts}" + notifications if alerts else "")
        + "subscriptions:\n"
        "  - {name: Tool, provider: Vendor, amount: 10.00, currency: USD,\n"
        "     period: monthly, start: 2026-12-05}\n"
        "  - {name: Other, provider: Vendor, amount: 8.00, currency: USD,\n"
        "     period: monthly, start: 2026-12-06}\n",
        encoding="utf-8",
    )
    return load_file(config)


HOOK_AT_90 = "    - {threshold: 90, channels: [toast, hook]}\n"


async def test_a_refresh_that_crosses_a_threshold_toasts_the_alert_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = QoinsApp(
        crossing_config(tmp_path),
        Store(tmp_path / "qoins.duckdb"),
        clock=app_data.frozen_clock,
    )
    toasts = record_toasts(monkeypatch, app)
    async with running(app, NARROW) as pilot:
        await press(pilot, "r")
        # 75 % and 90 % crossed together: only the higher one is told.
        alert_toasts = [t for t in toasts if t.title.startswith("QOINs")]
        assert [(t.title, t.severity, t.markup) for t in alert_toasts] == [
            ("QOINs URGENT: 90% Budget Used", "error", False)
        ]
        message = alert_toasts[0].message
        assert "Current: $18.00 / $20.00 (90%)" in message
        # $2.00 left over 24 to 31 December, eight days.
        assert "keep spending under $0.25/day for the 8 days left" in message
        await press(pilot, "4")
        assert [a.rule for a in app.alerts_view.alerts or []] == [
            "actual:90",
            "actual:75",
        ]
        toasts.clear()
        await press(pilot, "r")
        assert [t for t in toasts if t.title.startswith("QOINs")] == []


async def test_several_alerts_at_once_are_one_toast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = crossing_config(tmp_path)
    assert settings.path is not None
    # The subscriptions' own budget of $10: their $18 is 180 %, past 95 %.
    settings.path.write_text(
        settings.path.read_text(encoding="utf-8")
        + "services:\n  subscriptions:\n    budget_limit: 10.00\n",
        encoding="utf-8",
    )
    app = QoinsApp(
        load_file(settings.path),
        Store(tmp_path / "qoins.duckdb"),
        clock=app_data.frozen_clock,
    )
    toasts = record_toasts(monkeypatch, app)
    async with running(app, NARROW) as pilot:
        await press(pilot, "r")
        alert_toasts = [t for t in toasts if t.title.startswith("QOINs")]
        assert [(t.title, t.severity) for t in alert_toasts] == [
            ("QOINs: 2 new alerts", "error")
        ]
        assert sorted(alert_toasts[0].message.splitlines()[:2]) == [
            "QOINs URGENT: 90% Budget Used",
            "QOINs URGENT: 95% subscriptions Budget Used",
        ]


async def test_an_alert_acknowledged_before_its_toast_is_not_toasted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = crossing_config(tmp_path)
    store = Store(tmp_path / "qoins.duckdb")
    # A cron refresh raises the alert and prints it; its toast waits for the app.
    run_refresh(settings, store, now=app_data.NOW)
    run = check_alerts(
        settings, store, now=app_data.NOW, front=("terminal",), send=None
    )
    [alert] = [a for a in run.new if not a.covered]
    store.acknowledge_alert(alert.alert_id, app_data.NOW)
    app = QoinsApp(settings, store, clock=app_data.frozen_clock)
    toasts = record_toasts(monkeypatch, app)
    async with running(app, NARROW) as pilot:
        await press(pilot, "r")
        assert [t for t in toasts if t.title.startswith("QOINs")] == []


async def test_a_failed_alert_delivery_is_a_toast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = crossing_config(tmp_path, HOOK_AT_90)
    app = QoinsApp(
        settings, Store(tmp_path / "qoins.duckdb"), clock=app_data.frozen_clock
    )
    toasts = record_toasts(monkeypatch, app)
    async with running(app, NARROW) as pilot:
        await press(pilot, "r")
        failed = [t for t in toasts if t.title == "Alert delivery failed"]
        assert len(failed) == 1
        assert failed[0].message.startswith("QOINs URGENT: 90% Budget Used: hook")
        assert failed[0].severity == "error"


async def test_the_demo_sends_no_alert_beyond_its_toasts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []
    monkeypatch.setattr(
        "qoins_tui.app.deliver", lambda channel, *args, **kwargs: sent.append(channel)
    )
    app = QoinsApp(
        crossing_config(tmp_path, HOOK_AT_90),
        Store(tmp_path / "qoins.duckdb"),
        clock=app_data.frozen_clock,
        demo=True,
    )
    toasts = record_toasts(monkeypatch, app)
    async with running(app, NARROW) as pilot:
        await press(pilot, "r")
        assert [t.title for t in toasts if t.title.startswith("QOINs")] == [
            "QOINs URGENT: 90% Budget Used"
        ]
    assert sent == []
