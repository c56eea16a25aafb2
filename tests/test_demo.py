"""``qoins --demo``'s sources: each one refreshes, and the generated files' own
figures, summed here with the csv and json modules, are what the store counts."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

from qoins_tui.demo import build_demo
from qoins_tui.refresh import run_refresh
from qoins_tui.store import MonthQuery, Store

NOW = dt.datetime(2026, 12, 20, 15, 0, tzinfo=dt.UTC)
DECEMBER = MonthQuery(dt.date(2026, 12, 1), dt.date(2027, 1, 1), "UTC", "USD")


def test_every_demo_source_refreshes_and_counts_what_its_files_hold(
    tmp_path: Path,
) -> None:
    settings = build_demo(tmp_path, NOW)
    store = Store(tmp_path / "demo.duckdb")

    results = run_refresh(settings, store, now=NOW)

    assert [(r.source, r.ok, r.error) for r in results] == [
        (name, True, None)
        for name in (
            "claude_code",
            "codex",
            "gemini_cli",
            "cursor",
            "cloud",
            "subscriptions",
        )
    ]
    counted = {r.source: r.counts.counted for r in results}
    spent = {(s.source, s.service): s.spent for s in store.spend_by_service(DECEMBER)}

    # Cursor: every row is a request; on-demand ones in December are spend, at the
    # dollars written in their Cost cell.
    with (tmp_path / "cursor" / "usage-events.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    on_demand = sum(
        (
            Decimal(row["Cost"].removeprefix("$"))
            for row in rows
            if row["Kind"] == "On-Demand" and row["Date"].startswith("2026-12")
        ),
        Decimal(0),
    )
    assert counted["cursor"] == len(rows) > 0
    assert on_demand > 0
    assert sum(v for (s, _), v in spent.items() if s == "cursor") == on_demand

    # Gemini CLI: one charge per gemini message of the session files.
    messages = [
        message
        for path in (tmp_path / "gemini" / "tmp").glob("*/chats/*.json")
        for message in json.loads(path.read_text())["messages"]
    ]
    assert counted["gemini_cli"] == len(messages) > 0
    assert {m["model"] for m in messages} == {"gemini-2.5-pro", "gemini-2.5-flash"}
    assert sum(v for (s, _), v in spent.items() if s == "gemini_cli") > 0
