"""What QOINs looked for on this machine and what it found, for the welcome panel.

``qoins`` opens the user's own data when it finds a config, agent logs or a filled
store; otherwise it shows the welcome panel (or, from ``make run``, the demo).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from collectors.claude_code import ClaudeCodeCollector, default_project_dirs
from collectors.codex import CodexCollector, default_session_dirs
from collectors.gemini_cli import GeminiCliCollector, default_tmp_dirs
from qoins_tui import locations
from qoins_tui.config import Settings
from qoins_tui.store import Store


@dataclass(frozen=True)
class Finding:
    what: str
    where: str
    found: bool


def _home_relative(path: Path) -> str:
    home = Path.home()
    try:
        return f"~/{path.relative_to(home)}"
    except ValueError:
        return str(path)


def findings(settings: Settings, config_flag: str | None = None) -> list[Finding]:
    """Each place QOINs looks for data, in the order it looks."""
    result = []
    if settings.path is not None:
        result.append(Finding("config", _home_relative(settings.path), True))
    else:
        places = " or ".join(
            _home_relative(p) for p in locations.config_candidates(config_flag)
        )
        result.append(Finding("config", places, False))
    for what, dirs, found in (
        ("Claude Code logs", default_project_dirs(), ClaudeCodeCollector.detect()),
        ("Codex CLI logs", default_session_dirs(), CodexCollector.detect()),
        ("Gemini CLI logs", default_tmp_dirs(), GeminiCliCollector.detect()),
    ):
        result.append(Finding(what, ", ".join(_home_relative(d) for d in dirs), found))
    return result


def has_user_data(settings: Settings, store: Store) -> bool:
    """True when the user has a config, agent logs or anything in the store."""
    if settings.path is not None:
        return True
    if any(f.found for f in findings(settings)[1:]):
        return True
    return store.path.exists() and not store.is_empty()
