"""Codex CLI session logs (being written)."""

from __future__ import annotations

import os
from pathlib import Path

from collectors.base import BulkCollector


class CodexCollector(BulkCollector):
    type = "codex"
    title = "Codex CLI logs"


def default_session_dirs() -> list[Path]:
    home = Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex")
    return [home / "sessions", home / "archived_sessions"]
