"""What a user with an OpenAI admin key sees after a refresh: the bill per day, line
item, model and project in the app and in ``qoins status --json``, beside the usage
estimate it replaces.

The API answers with the default bills of ``test_openai_api``: $3.42 and $1.08 for
project ``proj_demo1`` on Jan 1 and $0.50 without a project on Jan 2. Its usage:
gpt-x-mini on Jan 1 and again on Jan 3, today, which no bill covers yet (12,000
input of which 8,000 cached, 900 output each time), and a model without a price
on Jan 2 (1,000 input, 100 output).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from rich.text import Text
from textual.content import Content
from textual.widgets import DataTable, Static

from qoins_tui.app import QoinsApp
from qoins_tui.cli import main
from qoins_tui.config import load_file
from qoins_tui.refresh import run_refresh
from qoins_tui.services import SourceScreen
from qoins_tui.store import Store
from tests import test_openai_api as oa
from tests.keyrings import MemoryKeyring, use_keyring
from tests.test_app_pilot import press, settle

CONFIG = """\
services:
  openai:
    since: 2026-01-01
prices:
  gpt-x-mini:
    provider: openai
    input: 1.00
    cache_read: 0.10
    output: 4.00
"""
# gpt-x-mini: 4,000 uncached × 1.00 + 8,000 cached × 0.10 + 900 × 4.00 = 4,000 +
# 800 + 3,600 = 8,400 per million = $0.0084 a day; Jan 1's is replaced by its bill,
# Jan 3's counts.
ESTIMATE = Decimal("0.0084")
USAGE = {
    None: oa.page(
        [oa.bucket(0, [oa.usage("gpt-x-mini", 12000, 8000, 900)])], cursor="use_2"
    ),
    "use_2": oa.page(
        [
            oa.bucket(1, [oa.usage("gpt-unknown", 1000, 0, 100)]),
            oa.bucket(2, [oa.usage("gpt-x-mini", 12000, 8000, 900)]),
        ]
    ),
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def store(tmp_path: Path, config: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    keyring = MemoryKeyring()
    keyring.set_password("qoins", "openai", oa.KEY)
    use_keyring(monkeypatch, keyring)
    store = Store(tmp_path / "qoins.duckdb")
    (result,) = run_refresh(
        load_file(config),
        store,
        now=oa.NOW,
        transport=oa.MockOpenAI(usages=USAGE).transport(),
    )
    assert result.ok, result.error
    return store


def plain(cell: object) -> str:
    return cell.plain if isinstance(cell, Text) else str(cell)


async def test_the_source_screen_shows_bills_by_model_and_project(
    store: Store, config: Path
) -> None:
    app = QoinsApp(load_file(config), store, clock=lambda: oa.NOW)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await press(pilot, "2", "enter")
        screen = app.screen
        assert isinstance(screen, SourceScreen) and screen.source == "openai"
        table = screen.query_one("#source-services", DataTable)

        assert [plain(c.label) for c in table.columns.values()] == [
            "Service",
            "Model or SKU",
            "Project",
            "Charges",
            "Amount",
        ]
        assert [
            [plain(c) for c in table.get_row(r.key)] for r in table.ordered_rows
        ] == [
            ["gpt-x, input", "gpt-x", "proj_demo1", "1", "$3.42"],
            ["gpt-x, output", "gpt-x", "proj_demo1", "1", "$1.08"],
            # Clipped to the room the box leaves beside the chart.
            ["web search tool…", "—", "—", "1", "$0.50"],
            ["gpt-x-mini", "", "proj_demo1", "1", "$0.01"],
            ["gpt-x-mini", "", "proj_demo1", "1", "$0.01 not counted"],
            ["gpt-unknown", "", "proj_demo1", "1", "1.1K tokens not counted"],
        ]
        title = screen.query_one("#source-title", Static).content
        assert isinstance(title, Content)
        # Jan 1: bill 3.42 + 1.08 = 4.50 against the 0.0084 estimate.
        assert title.plain.splitlines()[-1] == (
            "OpenAI bill $4.50 · openai estimate $0.01 (−$4.49) on 1 day · "
            "the bill counts"
        )


def test_status_json_counts_the_bill_and_reconciles_the_estimate(
    store: Store, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "--config",
            str(config),
            "--db",
            str(store.path),
            "status",
            "--month",
            "2026-01",
            "--json",
        ]
    )

    assert code == 0
    status = json.loads(capsys.readouterr().out, parse_float=Decimal)
    # The bills, 3.42 + 1.08 + 0.50, and Jan 3's estimate; the estimates of the
    # billed days, priced or not, are replaced.
    assert status["spent"] == Decimal("5.00") + ESTIMATE
    assert status["estimated"] == ESTIMATE
    assert status["unpriced"] == {"tokens": 0, "models": []}
    assert status["reconciliation"] == [
        {
            "provider": "OpenAI",
            "source": "openai",
            "days": 1,
            "billed": Decimal("4.50"),
            "estimated": ESTIMATE,
            "difference": ESTIMATE - Decimal("4.50"),
        }
    ]
    assert {
        (s["service"], s["spent"])
        for s in status["services"]
        if s["source"] == "openai"
    } == {
        ("gpt-x, input", Decimal("3.42")),
        ("gpt-x, output", Decimal("1.08")),
        ("web search tool calls", Decimal("0.50")),
        ("gpt-x-mini", ESTIMATE),
    }
