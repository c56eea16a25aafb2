"""Snapshots of the app's screens at 80×24 and 160×50, drawn from a seeded store.

Every snapshot uses the store of :mod:`tests.app_data` (or an empty one for the
welcome panel), a frozen clock (2026-12-24 09:30 UTC), the UTC zone and a cursor
that does not blink; keys are pressed before the screenshot and background workers
are waited for, never slept on. Update them deliberately with
``pytest tests/test_app_snapshots.py --snapshot-update`` and look at the result.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from qoins_tui.app import QoinsApp
from qoins_tui.config import load_file
from qoins_tui.store import Store
from tests import app_data
from tests.conftest import make_settings
from tests.keyrings import KEYED, MemoryKeyring, register_keyed, use_keyring
from tests.test_alerts_tab import seed_alerts

SnapCompare = Callable[..., bool]
NARROW = (80, 24)
WIDE = (160, 50)


@pytest.fixture(autouse=True)
def _steady_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Colours on and a cursor that stays put, so a screenshot is the same each run."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr(Input.__dict__["cursor_blink"], "_default", False)


def seeded_app(
    tmp_path: Path,
    *,
    gcp_failed: bool = False,
    config: str = app_data.CONFIG,
    alerts: bool = False,
) -> QoinsApp:
    store = Store(tmp_path / "qoins.duckdb")
    app_data.seed_store(store, gcp_failed=gcp_failed)
    if alerts:
        seed_alerts(store)
    return QoinsApp(make_settings(config), store, clock=app_data.frozen_clock)


async def settled(pilot: Pilot[Any]) -> None:
    """Let every worker finish and the screen catch up."""
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def pressing(*keys: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """Press ``keys`` one at a time, letting the app settle after each."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settled(pilot)
        for key in keys:
            await pilot.press(key)
            await settled(pilot)

    return run_before


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x50"])
def test_dashboard(
    snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]
) -> None:
    assert snap_compare(seeded_app(tmp_path), terminal_size=size, run_before=pressing())


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x50"])
def test_services(
    snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]
) -> None:
    assert snap_compare(
        seeded_app(tmp_path), terminal_size=size, run_before=pressing("2")
    )


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x50"])
def test_source_detail(
    snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]
) -> None:
    assert snap_compare(
        seeded_app(tmp_path), terminal_size=size, run_before=pressing("2", "enter")
    )


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x50"])
def test_source_detail_long_names(
    snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]
) -> None:
    """Long service and SKU names end in "…"; every amount stays whole and in view."""
    app_data.detectable_claude_logs()
    store = Store(tmp_path / "qoins.duckdb")
    app_data.seed_long_names(store)
    app = QoinsApp(
        make_settings(app_data.LONG_CONFIG), store, clock=app_data.frozen_clock
    )
    assert snap_compare(app, terminal_size=size, run_before=pressing("2", "enter"))


def test_past_month(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """November: the actual total instead of a forecast, no days to go."""
    assert snap_compare(
        seeded_app(tmp_path),
        terminal_size=NARROW,
        run_before=pressing("left_square_bracket"),
    )


def test_services_filtered(snap_compare: SnapCompare, tmp_path: Path) -> None:
    assert snap_compare(
        seeded_app(tmp_path),
        terminal_size=NARROW,
        run_before=pressing("2", "slash", "f", "o", "c", "u", "s"),
    )


def test_failed_source_services(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """gcp_focus failed: its row in the error colour, the header says so."""
    assert snap_compare(
        seeded_app(tmp_path, gcp_failed=True),
        terminal_size=NARROW,
        run_before=pressing("2"),
    )


def test_failed_source_detail(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """The failed source opened: its problem and its last error in full."""
    assert snap_compare(
        seeded_app(tmp_path, gcp_failed=True),
        terminal_size=WIDE,
        run_before=pressing("2", "down", "down", "down", "down", "enter"),
    )


def test_welcome(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app = QoinsApp(
        make_settings(), Store(tmp_path / "qoins.duckdb"), clock=app_data.frozen_clock
    )
    assert snap_compare(app, terminal_size=NARROW, run_before=pressing())


def test_light_theme(snap_compare: SnapCompare, tmp_path: Path) -> None:
    app = seeded_app(tmp_path, config=app_data.CONFIG + "theme: qoins-light\n")
    assert snap_compare(app, terminal_size=NARROW, run_before=pressing())


def test_keys_screen(snap_compare: SnapCompare, tmp_path: Path) -> None:
    assert snap_compare(
        seeded_app(tmp_path),
        terminal_size=NARROW,
        run_before=pressing("question_mark"),
    )


def test_key_entry(
    snap_compare: SnapCompare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key modal over the Services tab: a key is stored, a new one typed masked."""
    register_keyed(monkeypatch)
    keyring = MemoryKeyring()
    keyring.keys[("qoins", "work_api")] = "sk-stored"
    use_keyring(monkeypatch, keyring)
    config = app_data.CONFIG.replace(
        "services:\n", f"services:\n  work_api:\n    type: {KEYED}\n", 1
    )
    assert snap_compare(
        seeded_app(tmp_path, config=config),
        terminal_size=NARROW,
        run_before=pressing("2", "ctrl+end", "k", *"sk-new"),
    )


def test_budget_entry(
    snap_compare: SnapCompare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The budget modal over the Services tab: claude_code's $50.00, 75 typed."""
    config = tmp_path / "config.yml"
    config.write_text(app_data.CONFIG)
    # The path the modal names must not depend on where pytest puts tmp_path.
    monkeypatch.chdir(tmp_path)
    store = Store(tmp_path / "qoins.duckdb")
    app_data.seed_store(store)
    app = QoinsApp(load_file(Path("config.yml")), store, clock=app_data.frozen_clock)
    assert snap_compare(app, terminal_size=NARROW, run_before=pressing("2", "e", *"75"))


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x50"])
def test_alerts(
    snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]
) -> None:
    """The active alerts: a critical one with a failed e-mail to retry, a
    projection with a failed desktop notice, a spike whose Slack gave up; the total
    counts the covered one the list leaves to `all`."""
    assert snap_compare(
        seeded_app(tmp_path, alerts=True), terminal_size=size, run_before=pressing("4")
    )


def test_all_alerts(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """All alerts: the acknowledged and the cleared one say so under their rule,
    the covered one why it was not sent."""
    assert snap_compare(
        seeded_app(tmp_path, alerts=True),
        terminal_size=NARROW,
        run_before=pressing("4", "slash", "slash"),
    )


def test_alert_detail(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """The critical alert opened: its message, and the e-mail's error in full."""
    assert snap_compare(
        seeded_app(tmp_path, alerts=True),
        terminal_size=NARROW,
        run_before=pressing("4", "enter"),
    )


def test_no_alerts(snap_compare: SnapCompare, tmp_path: Path) -> None:
    assert snap_compare(
        seeded_app(tmp_path), terminal_size=NARROW, run_before=pressing("4")
    )


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["80x24", "160x50"])
def test_alert_rules(
    snap_compare: SnapCompare, tmp_path: Path, size: tuple[int, int]
) -> None:
    assert snap_compare(
        seeded_app(tmp_path), terminal_size=size, run_before=pressing("4", "R")
    )
