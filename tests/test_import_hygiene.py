"""``qoins --refresh`` never imports Textual (STYLE.md, architecture habit 2).

Checked twice: in a fresh interpreter after a real refresh, and by import-linter's
forbidden contracts in pyproject.toml.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sysconfig.get_path("scripts")) / "lint-imports"

PROBE = """\
import json, sys
{prelude}
from qoins_tui.cli import main
code = main(["--refresh"])
ui = sorted(m for m in sys.modules if m.split(".")[0] in ("textual", "plotext")
            or m.startswith("textual"))
print(json.dumps({{"code": code, "ui": ui}}))
"""


def refresh_in_fresh_process(tmp_path: Path, prelude: str = "") -> dict[str, object]:
    config = tmp_path / "config.yml"
    config.write_text(
        "budget:\n  timezone: UTC\n"
        "subscriptions:\n  - name: editor\n    amount: 9.00\n    start: 2025-01-10\n"
    )
    env = dict(os.environ)
    env["QOINS_CONFIG"] = str(config)
    env["QOINS_DB"] = str(tmp_path / "store.duckdb")
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(prelude=prelude)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "subscriptions: ok" in result.stderr
    report = json.loads(result.stdout)
    assert isinstance(report, dict)
    return report


def test_refresh_imports_no_textual_module(tmp_path: Path) -> None:
    report = refresh_in_fresh_process(tmp_path)

    assert report == {"code": 0, "ui": []}


def test_the_probe_sees_textual_when_it_is_imported(tmp_path: Path) -> None:
    report = refresh_in_fresh_process(tmp_path, prelude="import textual.app")

    ui = report["ui"]
    assert isinstance(ui, list)
    assert "textual" in ui
    assert "textual.app" in ui


def run_lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(root)
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        timeout=300,
    )


def test_the_import_contracts_pass() -> None:
    result = run_lint_imports(REPO)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "file"),
    [
        ("qoins_tui.store", "qoins_tui/store.py"),
        ("qoins_tui.refresh", "qoins_tui/refresh.py"),
        ("collectors.subscriptions", "collectors/subscriptions.py"),
        ("qoins_tui", "qoins_tui/__init__.py"),
        ("qoins_tui.cli", "qoins_tui/cli.py"),
    ],
)
def test_the_import_contracts_catch_textual_on_the_refresh_path(
    tmp_path: Path, module: str, file: str
) -> None:
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(REPO / "pyproject.toml", copy)
    for package in ("qoins_tui", "collectors"):
        shutil.copytree(
            REPO / package, copy / package, ignore=shutil.ignore_patterns("*.pyc")
        )
    target = copy / file
    target.write_text(target.read_text() + "\nimport textual  # noqa: E402\n")

    result = run_lint_imports(copy)

    assert result.returncode != 0
    assert f"{module} -> textual" in result.stdout
