"""Shared fixtures: a store in a temporary folder, a parsed config, and no network.

Tests that need a local system service call :func:`require_service`: on a machine
without it they skip with the reason, and under ``QOINS_REQUIRE_SERVICES=1`` (as in
CI) they fail instead.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from qoins_tui.config import Settings, parse_config
from qoins_tui.store import Store

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else address
    if (
        isinstance(host, str)
        and host not in ("127.0.0.1", "::1", "localhost")
        and (self.family in (socket.AF_INET, socket.AF_INET6))
    ):
        raise OSError(f"tests must not reach the network (tried {address!r})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The command line's ``main`` puts its own stderr handler on the root logger;
    restore pytest's."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """No test reads the developer's own config, store or agent logs."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    for name in (
        "QOINS_CONFIG",
        "QOINS_DB",
        "CLAUDE_CONFIG_DIR",
        "CODEX_HOME",
        "GEMINI_DATA_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(home)
    yield


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "qoins.duckdb")


def make_settings(text: str = "") -> Settings:
    """Settings from YAML text; the zone is UTC unless the text names one."""
    if "timezone" not in text:
        text = (
            "budget:\n  timezone: UTC\n" + text
            if "budget:" not in text
            else text.replace("budget:\n", "budget:\n  timezone: UTC\n", 1)
        )
    return parse_config(text)


def require_service(name: str, available: bool, why: str) -> None:
    """Skip a test whose local service is missing, or fail it where CI requires it."""
    if available:
        return
    message = f"{name} is not available here: {why}"
    if os.environ.get("QOINS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} (QOINS_REQUIRE_SERVICES=1: service tests must run)")
    pytest.skip(message)
