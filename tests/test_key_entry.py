"""The key modal of the Services tab, driven by Textual's pilot.

The app has two sources: ``claude_code``, which reads logs and takes no key, and
``work_api``, a source type that takes an API key (:mod:`tests.keyrings`). Keys go
to an in-memory keyring, or to one that fails or hangs; the typed key must never
show up on screen, in a toast or in the widget tree's text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from keyring.backends import fail
from textual.content import Content
from textual.pilot import Pilot
from textual.widgets import Input, Static

from qoins_tui import keys
from qoins_tui.app import QoinsApp
from qoins_tui.key_entry import KeyEntryScreen
from qoins_tui.services import SourceScreen, notes_content
from qoins_tui.store import Store
from tests import app_data
from tests.conftest import make_settings
from tests.keyrings import (
    KEYED,
    HangingKeyring,
    MemoryKeyring,
    register_keyed,
    use_keyring,
)
from tests.test_app_pilot import Toast, cell, footer_keys, press, record_toasts, settle

CONFIG = f"""\
services:
  claude_code:
    billing: plan
  work_api:
    type: {KEYED}
"""
SECRET = "sk-typed-42"


@pytest.fixture
def memory(monkeypatch: pytest.MonkeyPatch) -> MemoryKeyring:
    backend = MemoryKeyring()
    use_keyring(monkeypatch, backend)
    return backend


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> QoinsApp:
    register_keyed(monkeypatch)
    return QoinsApp(
        make_settings(CONFIG),
        Store(tmp_path / "qoins.duckdb"),
        clock=app_data.frozen_clock,
    )


@asynccontextmanager
async def on_services(app: QoinsApp) -> AsyncIterator[Pilot[None]]:
    """The app at 80×24 on the Services tab, ``claude_code`` selected."""
    async with app.run_test(size=(80, 24)) as pilot:
        await press(pilot, "2")
        assert app.services._selected_key() == "claude_code"
        yield pilot


def modal(app: QoinsApp) -> KeyEntryScreen:
    assert isinstance(app.screen, KeyEntryScreen)
    return app.screen


def text(screen: KeyEntryScreen, selector: str) -> str:
    content = screen.query_one(selector, Static).content
    return content.plain if isinstance(content, Content) else str(content)


def everything_shown(app: QoinsApp, toasts: list[Toast]) -> str:
    """Every Static's text on every screen, and every toast."""
    shown = [
        str(widget.content)
        for screen in app.screen_stack
        for widget in screen.query(Static)
    ]
    shown += [f"{t.title} {t.message}" for t in toasts]
    return "\n".join(shown)


async def test_k_opens_the_modal_for_a_source_that_takes_a_key(
    app: QoinsApp, memory: MemoryKeyring
) -> None:
    async with on_services(app) as pilot:
        assert "k" not in footer_keys(app)
        await press(pilot, "down")
        assert "k" in footer_keys(app)
        assert app.screen.active_bindings["k"].binding.description == "Key"

        await press(pilot, "k")

        screen = modal(app)
        assert (screen.source, screen.user) == ("work_api", "work_api")
        assert screen.query_one("#key-entry").border_title == "API key for work_api"
        assert text(screen, "#key-state") == "No key stored yet."
        assert screen.query_one("#key", Input).password
        assert screen.focused is screen.query_one("#key", Input)


async def test_typing_then_enter_stores_the_key(
    app: QoinsApp, memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    toasts = record_toasts(monkeypatch, app)
    async with on_services(app) as pilot:
        await press(pilot, "down", "k", *SECRET)
        assert SECRET not in everything_shown(app, toasts)

        await press(pilot, "enter")

        assert not isinstance(app.screen, KeyEntryScreen)
        assert memory.keys == {("qoins", "work_api"): SECRET}
        assert keys.stored_names() == ["work_api"]
        assert [(t.title, t.message, t.markup) for t in toasts] == [
            (
                "Key stored",
                "The key of work_api is in the OS keyring; the next refresh uses it.",
                False,
            )
        ]
        assert SECRET not in everything_shown(app, toasts)


async def test_escape_cancels_and_stores_nothing(
    app: QoinsApp, memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    toasts = record_toasts(monkeypatch, app)
    async with on_services(app) as pilot:
        await press(pilot, "down", "k", *SECRET, "escape")

        assert not isinstance(app.screen, KeyEntryScreen)
        assert memory.keys == {}
        assert toasts == []


async def test_an_empty_key_is_refused_in_the_modal(
    app: QoinsApp, memory: MemoryKeyring
) -> None:
    async with on_services(app) as pilot:
        await press(pilot, "down", "k", "space", "enter")

        screen = modal(app)
        assert text(screen, "#key-error") == (
            "Type or paste the key first: an empty key is not stored."
        )
        assert memory.keys == {}


async def test_the_modal_says_a_key_is_stored_never_which(
    app: QoinsApp, memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory.keys[("qoins", "work_api")] = SECRET
    toasts = record_toasts(monkeypatch, app)
    async with on_services(app) as pilot:
        await press(pilot, "down", "k")

        screen = modal(app)
        assert text(screen, "#key-state") == (
            "A key is stored; one typed here replaces it."
        )
        assert screen.query_one("#key", Input).value == ""
        assert SECRET not in everything_shown(app, toasts)

        await press(pilot, *"sk-new", "enter")
        assert memory.keys == {("qoins", "work_api"): "sk-new"}


async def test_a_keyring_that_cannot_store_keeps_the_modal_open(
    app: QoinsApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_keyring(monkeypatch, fail.Keyring())
    async with on_services(app) as pilot:
        await press(pilot, "down", "k")
        screen = modal(app)
        assert text(screen, "#key-state") == "The keyring cannot be read."
        assert text(screen, "#key-error").startswith("No OS keyring is available")

        await press(pilot, *SECRET, "enter")

        assert modal(app) is screen
        assert text(screen, "#key-state") == "Not stored."
        assert text(screen, "#key-error").startswith("No OS keyring is available")
        field = screen.query_one("#key", Input)
        assert not field.disabled and screen.focused is field
        await press(pilot, "escape")
        assert not isinstance(app.screen, KeyEntryScreen)


async def test_escape_waits_while_the_keyring_is_storing(
    app: QoinsApp, memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancelling would not take back a key the keyring is about to hold."""
    hanging = HangingKeyring()
    monkeypatch.setattr(keys, "TIMEOUT_S", 1.0)
    async with on_services(app) as pilot:
        await press(pilot, "down", "k", *SECRET)
        use_keyring(monkeypatch, hanging)
        await pilot.press("enter", "escape")
        screen = modal(app)
        assert text(screen, "#key-state") == "Storing the key…"
        assert screen.query_one("#key", Input).disabled

        await settle(pilot)

        assert modal(app) is screen
        assert text(screen, "#key-error").startswith(
            "The OS keyring did not answer within 1 s"
        )
        hanging.release()


async def test_k_on_a_source_that_takes_no_key_says_so(
    app: QoinsApp, memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    toasts = record_toasts(monkeypatch, app)
    async with on_services(app) as pilot:
        await press(pilot, "k")

        assert not isinstance(app.screen, KeyEntryScreen)
        assert [(t.title, t.message) for t in toasts] == [
            ("No key to store", "claude_code (Claude Code logs) needs no API key.")
        ]


async def test_help_lists_the_key_once(app: QoinsApp) -> None:
    services = dict(app.key_sections())["Services tab"]
    assert [line for line in services if line[0] == "k"] == [
        ("k", "Store the selected source's API key in the OS keyring")
    ]


async def test_k_on_the_source_screen_stores_its_key(
    app: QoinsApp, memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    toasts = record_toasts(monkeypatch, app)
    async with on_services(app) as pilot:
        await press(pilot, "enter")
        assert isinstance(app.screen, SourceScreen)
        assert "k" not in footer_keys(app)
        await press(pilot, "k")
        assert [(t.title, t.message) for t in toasts] == [
            ("No key to store", "claude_code (Claude Code logs) needs no API key.")
        ]
        await press(pilot, "escape", "down", "enter")
        assert isinstance(app.screen, SourceScreen)
        assert "k" in footer_keys(app)

        await press(pilot, "k", *SECRET, "enter")

        assert isinstance(app.screen, SourceScreen)
        assert memory.keys == {("qoins", "work_api"): SECRET}


async def test_help_lists_the_source_screens_key(app: QoinsApp) -> None:
    source = dict(app.key_sections())["A source's screen"]
    assert ("k", "Store this source's API key in the OS keyring") in source


async def test_a_refresh_without_a_key_shows_no_key_until_one_is_stored(
    app: QoinsApp, memory: MemoryKeyring
) -> None:
    async with on_services(app) as pilot:
        await press(pilot, "r")
        table = app.services.table
        assert cell(table, "work_api", "status") == "no key"
        [row] = [r for r in app.services.visible_rows if r.name == "work_api"]
        # The status contract knows failed only; "no key" says why.
        assert (row.status, row.no_key) == ("failed", True)
        assert row.error is not None and "qoins keys set work_api" in row.error
        assert notes_content(row).plain == (
            "✖ The last refresh failed before it read anything."
        )

        await press(pilot, "down", "k", *SECRET, "enter", "r")

        # The refresh log takes the real time and the app a frozen clock, so the
        # success may read as ok or stale; it no longer fails.
        [row] = [r for r in app.services.visible_rows if r.name == "work_api"]
        assert (row.no_key, row.error) == (False, None)
        assert cell(table, "work_api", "status") in ("ok", "stale")
