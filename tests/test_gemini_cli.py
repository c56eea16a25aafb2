"""The Gemini CLI log collector, end to end: chat files → refresh → stored charges.

Session files are written into ``tmp_path`` in Gemini CLI's two layouts (a whole
``.json`` session object, and ``.jsonl`` records appended one per line),
``GEMINI_DATA_DIR`` points at them, and the expected figures are worked out by hand
in the comments. Rates come from a price override for a made-up model, in USD per
million tokens:

    gemini-test: input 1.00, output 10.00, cache_read 0.25

so a charge is (plain input × 1 + cached × 0.25 + (output + thoughts) × 10) /
1,000,000, where plain input is ``input − cached`` (Gemini's ``input`` includes the
cached tokens).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from collectors.gemini_cli import GeminiCliCollector, chat_files, default_tmp_dirs
from qoins_tui.analysis import Month
from qoins_tui.config import Settings
from qoins_tui.discovery import findings
from qoins_tui.refresh import SourceResult, run_refresh
from qoins_tui.store import Store
from qoins_tui.summary import month_query
from tests.conftest import make_settings

NOW = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC)
PRICES = """
prices:
  gemini-test:
    input: 1.00
    output: 10.00
    cache_read: 0.25
"""
SECRET = "private words of the user"


def gemini(
    message_id: str,
    tokens: dict[str, int] | None,
    *,
    ts: str = "2026-01-05T09:01:00Z",
    model: str = "gemini-test",
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": message_id,
        "timestamp": ts,
        "type": "gemini",
        "content": "an answer with " + SECRET,
        "thoughts": [{"subject": "Plan", "description": SECRET}],
        "model": model,
    }
    if tokens is not None:
        record["tokens"] = tokens
    return record


def user(message_id: str, ts: str = "2026-01-05T09:00:30Z") -> dict[str, Any]:
    return {"id": message_id, "timestamp": ts, "type": "user", "content": SECRET}


def tokens(
    inp: int, out: int, cached: int = 0, thoughts: int = 0, tool: int = 0
) -> dict[str, int]:
    return {
        "input": inp,
        "output": out,
        "cached": cached,
        "thoughts": thoughts,
        "tool": tool,
        "total": inp + out + thoughts + tool,
    }


def session(session_id: str, *messages: dict[str, Any]) -> dict[str, Any]:
    return {
        "sessionId": session_id,
        "projectHash": "9f0c" * 16,
        "startTime": "2026-01-05T09:00:00Z",
        "lastUpdated": "2026-01-05T09:05:00Z",
        "messages": list(messages),
    }


def chats(root: Path, project: str = "proj") -> Path:
    folder = root / "tmp" / project / "chats"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list[dict[str, Any] | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def gemini_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "gemini"
    monkeypatch.setenv("GEMINI_DATA_DIR", str(root))
    return root


def refresh(store: Store, settings: Settings | None = None) -> SourceResult:
    results = run_refresh(settings or make_settings(PRICES), store, now=NOW)
    [result] = [r for r in results if r.source == "gemini_cli"]
    assert result.ok, result.error
    return result


def charges(store: Store) -> list[dict[str, Any]]:
    with store.connect() as con:
        cursor = con.execute(
            """SELECT record_key, model, billed_cost, cost_basis, input_tokens,
                      cache_read_tokens, output_tokens, origin, resource_id,
                      provider, billing
               FROM charges WHERE source = 'gemini_cli' ORDER BY record_key"""
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def total(store: Store) -> Decimal:
    return sum((c["billed_cost"] or Decimal(0) for c in charges(store)), Decimal(0))


def test_the_reference_example_prices_uncached_input_and_thoughts_as_output(
    store: Store, gemini_dir: Path
) -> None:
    write_json(
        chats(gemini_dir) / "session-2026-01-05T09-00-g1.json",
        session(
            "g-1",
            user("u-1"),
            gemini("m-1", tokens(5000, 300, cached=4000, thoughts=200)),
        ),
    )

    result = refresh(store)

    # Uncached input 5,000 − 4,000 = 1,000; output billed 300 + 200 = 500.
    # 1,000 × 1.00 + 4,000 × 0.25 + 500 × 10.00 = 1,000 + 1,000 + 5,000 = 7,000
    # → $0.007000.
    [charge] = charges(store)
    assert charge["record_key"] == "gemini:g-1:m-1"
    assert (charge["input_tokens"], charge["cache_read_tokens"]) == (1000, 4000)
    assert charge["output_tokens"] == 500
    assert charge["billed_cost"] == Decimal("0.007")
    assert charge["cost_basis"] == "estimated"
    assert charge["provider"] == "Google"
    assert charge["resource_id"] == "g-1"
    assert (result.counts.read, result.counts.new, result.counts.skipped) == (2, 1, 1)


def test_tool_use_prompt_tokens_are_billed_as_input(
    store: Store, gemini_dir: Path
) -> None:
    write_json(
        chats(gemini_dir) / "s.json",
        session("g-1", gemini("m-1", tokens(3000, 100, cached=1000, tool=500))),
    )

    refresh(store)

    # Plain input 3,000 − 1,000 + 500 tool = 2,500; 2,500 × 1 + 1,000 × 0.25
    # + 100 × 10 = 2,500 + 250 + 1,000 = 3,750 → $0.00375.
    [charge] = charges(store)
    assert charge["input_tokens"] == 2500
    assert charge["billed_cost"] == Decimal("0.00375")


def test_a_rewritten_json_session_changes_and_adds_nothing(
    store: Store, gemini_dir: Path
) -> None:
    path = chats(gemini_dir) / "s.json"
    first = session("g-1", user("u-1"), gemini("m-1", tokens(5000, 300, 4000, 200)))
    write_json(path, first)
    refresh(store)
    before = charges(store)

    rewritten = dict(first, lastUpdated="2026-01-05T09:09:00Z")
    write_json(path, rewritten)
    again = refresh(store)

    assert again.counts.files_read == 1
    assert (again.counts.new, again.counts.changed) == (0, 0)
    assert charges(store) == before

    grown = dict(rewritten, messages=[*first["messages"], gemini("m-2", tokens(10, 1))])
    write_json(path, grown)
    third = refresh(store)

    # m-2 alone is new: 10 × 1 + 1 × 10 = 20 → $0.00002; m-1 stays $0.007.
    assert (third.counts.new, third.counts.changed) == (1, 0)
    assert total(store) == Decimal("0.00702")


def test_a_jsonl_session_counts_each_message_once(
    store: Store, gemini_dir: Path
) -> None:
    with_tokens = gemini("m-1", tokens(2000, 100, cached=500, thoughts=50))
    write_jsonl(
        chats(gemini_dir) / "session-2026-01-05T09-00-g2.jsonl",
        [
            {
                "sessionId": "g-2",
                "projectHash": "ab" * 32,
                "startTime": "2026-01-05T09:00:00Z",
                "lastUpdated": "2026-01-05T09:00:00Z",
            },
            user("u-1"),
            gemini("m-1", None),
            {"$set": {"lastUpdated": "2026-01-05T09:01:00Z"}},
            with_tokens,
            dict(with_tokens, toolCalls=[{"id": "t-1", "name": "read_file"}]),
            gemini("m-2", {"prompt": 1000, "candidates": 20}),
            {"$rewindTo": "m-2"},
        ],
    )

    result = refresh(store)

    # m-1, written three times (before its tokens, with them, after a tool call):
    # plain 2,000 − 500 = 1,500; 1,500 × 1 + 500 × 0.25 + (100 + 50) × 10
    # = 1,500 + 125 + 1,500 = 3,125 → $0.003125.
    # m-2 in the older field names, rewound later but spent all the same:
    # 1,000 × 1 + 20 × 10 = 1,200 → $0.0012. Together $0.004325.
    assert [c["record_key"] for c in charges(store)] == [
        "gemini:g-2:m-1",
        "gemini:g-2:m-2",
    ]
    assert total(store) == Decimal("0.004325")
    # 8 lines: 3 usage (one a copy), 5 skipped (metadata, user, m-1 without
    # tokens, $set, $rewindTo).
    assert result.counts.read == 8
    assert (result.counts.skipped, result.counts.duplicate) == (5, 1)


def test_a_session_resumed_from_json_into_jsonl_counts_once(
    store: Store, gemini_dir: Path
) -> None:
    folder = chats(gemini_dir)
    first = gemini("m-1", tokens(1_000_000, 0))
    write_json(folder / "session-2026-01-05T09-00-g3.json", session("g-3", first))
    write_jsonl(
        folder / "session-2026-01-05T09-00-g3.jsonl",
        [
            {"sessionId": "g-3", "projectHash": "cd" * 32},
            first,
            gemini("m-2", tokens(2_000_000, 0), ts="2026-01-06T10:00:00Z"),
        ],
    )

    result = refresh(store)

    # m-1 once (1,000,000 × 1.00 = $1.00) and m-2 ($2.00).
    assert total(store) == Decimal("3.00")
    assert result.counts.duplicate == 1


def test_a_broken_file_is_counted_and_the_others_still_read(
    store: Store, gemini_dir: Path
) -> None:
    folder = chats(gemini_dir)
    good = session("g-4", gemini("m-1", tokens(1_000_000, 0)))
    broken = folder / "broken.json"
    broken.write_text(json.dumps(good, indent=2)[:-40], encoding="utf-8")
    write_json(folder / "good.json", good | {"sessionId": "g-5"})
    lines = write_jsonl(
        folder / "lines.jsonl",
        [
            {"sessionId": "g-6", "projectHash": "ef" * 32},
            '{"id":"m-9","type":"gemini","content":"' + SECRET,
            gemini("m-1", tokens(2_000_000, 0)),
        ],
    )

    result = refresh(store)

    # good.json: $1.00; lines.jsonl: $2.00 beside its torn line.
    assert total(store) == Decimal("3.00")
    assert result.counts.malformed == 2
    notes = " | ".join(result.counts.notes)
    assert f"{broken}: skipped malformed line " in notes
    assert f"{lines}: skipped malformed line 2" in notes
    assert SECRET not in notes


def test_usage_without_a_timestamp_or_with_more_cached_than_input_is_malformed(
    store: Store, gemini_dir: Path
) -> None:
    no_time = gemini("m-1", tokens(100, 10))
    del no_time["timestamp"]
    write_json(
        chats(gemini_dir) / "s.json",
        session(
            "g-7",
            no_time,
            gemini("m-2", tokens(100, 10, cached=500)),
            gemini("m-3", tokens(1_000_000, 0)),
        ),
    )

    result = refresh(store)

    # Only m-3 counts: 1,000,000 × 1.00 = $1.00; cached 500 > input 100 is never
    # priced.
    assert [c["record_key"] for c in charges(store)] == ["gemini:g-7:m-3"]
    assert total(store) == Decimal("1.00")
    assert result.counts.malformed == 2


def test_unknown_models_stay_unpriced_with_their_tokens(
    store: Store, gemini_dir: Path
) -> None:
    write_json(
        chats(gemini_dir) / "s.json",
        session(
            "g-8",
            gemini("m-1", tokens(3000, 100, cached=1000), model="gemini-mystery-9"),
            gemini("m-2", tokens(1_000_000, 0)),
        ),
    )

    result = refresh(store)

    rows = {c["record_key"]: c for c in charges(store)}
    mystery = rows["gemini:g-8:m-1"]
    assert mystery["billed_cost"] is None
    assert mystery["cost_basis"] == "unpriced"
    assert (mystery["input_tokens"], mystery["cache_read_tokens"]) == (2000, 1000)
    assert result.counts.unpriced == 1
    settings = make_settings(PRICES)
    q = month_query(settings, Month(2026, 1).first_day, Month(2026, 1).end)
    # 2,000 plain + 1,000 cached + 100 output = 3,100 tokens without a price.
    assert store.unpriced(q) == [("Google", "gemini-mystery-9", 3100)]
    assert sum(s.spent for s in store.spend_by_service(q)) == Decimal("1.00")


def test_bundled_prices_know_gemini_models_under_google(
    store: Store, gemini_dir: Path
) -> None:
    write_json(
        chats(gemini_dir) / "s.json",
        session("g-9", gemini("m-1", tokens(1000, 100), model="gemini-2.5-flash")),
    )

    refresh(store, make_settings())

    [charge] = charges(store)
    assert charge["cost_basis"] == "estimated"
    assert charge["billed_cost"] is not None and charge["billed_cost"] > 0


def test_two_data_dirs_in_gemini_data_dir_are_both_read(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tmp_path / "laptop" / ".gemini"
    second = tmp_path / "backup" / ".gemini"
    write_json(
        chats(first) / "a.json", session("g-a", gemini("m-1", tokens(1_000_000, 0)))
    )
    write_json(
        chats(second) / "b.json", session("g-b", gemini("m-1", tokens(2_000_000, 0)))
    )
    # The second entry names the tmp folder itself, as ccusage's users write it.
    monkeypatch.setenv("GEMINI_DATA_DIR", f"{first}, {second / 'tmp'}")

    refresh(store)

    # $1.00 + $2.00.
    assert total(store) == Decimal("3.00")


def test_a_session_without_an_id_is_keyed_by_its_file_name(
    store: Store, gemini_dir: Path
) -> None:
    folder = chats(gemini_dir)
    write_jsonl(folder / "session-x1.jsonl", [gemini("m-1", tokens(10, 1))])
    doc = session("unused", gemini("m-1", tokens(10, 1)))
    del doc["sessionId"]
    write_json(folder / "session-x2.json", doc)

    refresh(store)

    assert [c["record_key"] for c in charges(store)] == [
        "gemini:session-x1:m-1",
        "gemini:session-x2:m-1",
    ]


def test_unchanged_files_are_not_read_again(store: Store, gemini_dir: Path) -> None:
    folder = chats(gemini_dir)
    write_json(folder / "a.json", session("g-1", gemini("m-1", tokens(10, 1))))
    write_jsonl(
        folder / "b.jsonl",
        [{"sessionId": "g-2", "projectHash": "x"}, gemini("m-1", tokens(10, 1))],
    )
    refresh(store)

    again = refresh(store)

    assert (again.counts.files_read, again.counts.files_skipped) == (0, 2)
    assert again.counts.read == 0


def test_found_in_the_default_folder_without_a_config_entry(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    project = home / ".gemini" / "tmp" / "proj"
    write_json(
        project / "chats" / "s.json",
        session("g-1", gemini("m-1", tokens(1_000_000, 0))),
    )
    write_json(project / "logs.json", [{"sessionId": "g-1", "message": SECRET}])
    subagent = project / "chats" / "g-1" / "sub-1.jsonl"
    write_jsonl(
        subagent,
        [{"sessionId": "sub-1", "kind": "subagent"}, gemini("m-1", tokens(10, 1))],
    )

    assert GeminiCliCollector.detect()
    assert default_tmp_dirs() == [home / ".gemini" / "tmp"]
    assert chat_files(default_tmp_dirs()) == [subagent, project / "chats" / "s.json"]
    result = refresh(store)

    # The session ($1.00) and its subagent (10 × 1 + 1 × 10 = $0.00002); logs.json
    # beside chats/ is not a chat file and is not read.
    assert total(store) == Decimal("1.00002")
    assert (result.counts.files_read, result.counts.malformed) == (2, 0)
    gemini_finding = [f for f in findings(make_settings()) if "Gemini" in f.what]
    assert [(f.where, f.found) for f in gemini_finding] == [("~/.gemini/tmp", True)]


def test_an_empty_default_folder_is_not_detected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".gemini" / "tmp" / "proj" / "chats").mkdir(parents=True)

    assert not GeminiCliCollector.detect()


def test_the_project_root_file_gives_the_working_folder_and_repository(
    store: Store, gemini_dir: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "work" / "checkout"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "config").write_text(
        '[remote "origin"]\n\turl = git@example.com:team/uroboro-ai.git\n'
    )
    folder = chats(gemini_dir, "checkout")
    (folder.parent / ".project_root").write_text(str(repo), encoding="utf-8")
    write_json(folder / "s.json", session("g-1", gemini("m-1", tokens(10, 1))))
    write_json(
        chats(gemini_dir, "0" * 64) / "t.json",
        session("g-2", gemini("m-1", tokens(10, 1))),
    )

    refresh(store)

    with store.connect() as con:
        rows = con.execute(
            "SELECT resource_id, origin, repository FROM charges ORDER BY 1"
        ).fetchall()
    assert rows == [("g-1", str(repo), "uroboro-ai"), ("g-2", None, None)]


def test_plan_billing_shows_value_not_spend(store: Store, gemini_dir: Path) -> None:
    write_json(
        chats(gemini_dir) / "s.json",
        session("g-1", gemini("m-1", tokens(1_000_000, 0))),
    )
    settings = make_settings(PRICES + "services:\n  gemini_cli:\n    billing: plan\n")

    refresh(store, settings)

    q = month_query(settings, Month(2026, 1).first_day, Month(2026, 1).end)
    assert store.spend_by_service(q) == []
    assert store.plan_value(q) == {"gemini_cli": Decimal("1.00")}


def test_no_prompt_or_answer_text_reaches_the_store(
    store: Store, gemini_dir: Path
) -> None:
    folder = chats(gemini_dir)
    write_json(
        folder / "a.json", session("g-1", user("u-1"), gemini("m-1", tokens(10, 1)))
    )
    write_jsonl(
        folder / "b.jsonl",
        [{"sessionId": "g-2", "projectHash": "x"}, user("u-1"), gemini("m-1", None)],
    )

    refresh(store)

    with store.connect() as con:
        tables = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        for table in tables:
            text = " ".join(
                str(r) for r in con.execute(f"SELECT * FROM {table}").fetchall()
            )
            assert SECRET not in text
