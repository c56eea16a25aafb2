"""Claude Code logs: de-duplication, cache and tier pricing, skips, zones, folders.

Rates S of CASES.md through a price override: input 3.00, output 15.00, 5-minute
cache write 3.75, 1-hour cache write 6.00, cache read 0.30 USD per million tokens.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from qoins_tui.analysis import Month
from qoins_tui.config import Settings
from qoins_tui.refresh import run_refresh
from qoins_tui.store import Store
from qoins_tui.summary import month_query
from tests.conftest import make_settings

RATES_S = """
prices:
  claude-test-s:
    input: 3.00
    output: 15.00
    cache_write_5m: 3.75
    cache_write_1h: 6.00
    cache_read: 0.30
"""
NOW = dt.datetime(2025, 4, 30, 12, tzinfo=dt.UTC)


def line(
    message_id: str | None,
    request_id: str | None,
    usage: dict[str, Any],
    *,
    model: str = "claude-test-s",
    timestamp: str = "2025-04-02T10:00:00.000Z",
    **extra: Any,
) -> str:
    record: dict[str, Any] = {
        "type": "assistant",
        "uuid": extra.pop("uuid", f"u-{message_id}-{request_id}-{len(str(usage))}"),
        "timestamp": timestamp,
        "sessionId": "s-1",
        "message": {
            "model": model,
            "content": [{"type": "text", "text": "private words"}],
            "usage": usage,
        },
        **extra,
    }
    if message_id is not None:
        record["message"]["id"] = message_id
    if request_id is not None:
        record["requestId"] = request_id
    return json.dumps(record)


def usage(
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_write: int = 0,
    cache_read: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        **extra,
    }


def write_log(root: Path, name: str, lines: list[str], *, newline: bool = True) -> Path:
    path = root / "projects" / "-home-dev-proj" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + ("\n" if newline else "")
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def claude_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "claude"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(root))
    return root


def refresh(store: Store, settings: Settings, now: dt.datetime = NOW) -> Any:
    results = run_refresh(settings, store, now=now)
    assert [r.source for r in results] == ["claude_code"]
    return results[0]


def charges(store: Store) -> list[tuple[Any, ...]]:
    with store.connect() as con:
        return con.execute(
            """SELECT record_key, billed_cost, cost_basis, input_tokens,
                      output_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
                      cache_read_tokens
               FROM charges WHERE source = 'claude_code' ORDER BY record_key"""
        ).fetchall()


def total(store: Store) -> Decimal:
    with store.connect() as con:
        value = con.execute(
            "SELECT sum(billed_cost) FROM charges WHERE source = 'claude_code'"
        ).fetchall()[0][0]
    assert isinstance(value, Decimal)
    return value


C01_LINES = [
    line("msg_AA", "req_AA", usage(4, 12, cache_write=2000), uuid="u-1"),
    line("msg_AA", "req_AA", usage(4, 12, cache_write=2000), uuid="u-2"),
    line(
        "msg_BB",
        "req_BB",
        usage(10, 50, cache_read=3000),
        uuid="u-3",
        timestamp="2025-04-02T10:01:00.000Z",
    ),
]


def test_c01_one_response_on_several_lines_counts_once(
    store: Store, claude_dir: Path
) -> None:
    write_log(claude_dir, "s.jsonl", C01_LINES)

    result = refresh(store, make_settings(RATES_S))

    # msg_AA: 4×3 + 12×15 + 2,000×3.75 = 7,692 → $0.007692
    # msg_BB: 10×3 + 50×15 + 3,000×0.30 = 1,680 → $0.001680
    assert total(store) == Decimal("0.009372")
    rows = charges(store)
    assert [r[0] for r in rows] == ["msg_AA:req_AA", "msg_BB:req_BB"]
    assert sum(r[3] for r in rows) == 14
    assert sum(r[4] for r in rows) == 62
    assert sum(r[5] + r[6] for r in rows) == 2000
    assert sum(r[7] for r in rows) == 3000
    assert (result.counts.read, result.counts.counted) == (3, 2)
    assert result.counts.duplicate == 1
    assert total(store) != Decimal("0.017064")


def test_c01_missing_or_empty_request_id_falls_back_to_message_id(
    store: Store, claude_dir: Path
) -> None:
    write_log(
        claude_dir,
        "s.jsonl",
        [
            line("msg_X", None, usage(1_000_000)),
            line("msg_Y", "", usage(1_000_000)),
        ],
    )

    refresh(store, make_settings(RATES_S))

    # Two responses of 1,000,000 input tokens at 3.00 each: never one empty key.
    assert [r[0] for r in charges(store)] == ["msg_X", "msg_Y"]
    assert total(store) == Decimal("6.00")


def test_c01_every_report_path_gives_the_same_total(
    store: Store, claude_dir: Path
) -> None:
    write_log(claude_dir, "s.jsonl", C01_LINES)
    settings = make_settings(RATES_S)
    refresh(store, settings)

    q = month_query(settings, Month(2025, 4).first_day, Month(2025, 4).end)
    daily = store.daily_spend(q)
    by_service = store.spend_by_service(q)
    details = store.source_details(q, "claude_code")

    assert daily == {dt.date(2025, 4, 2): Decimal("0.009372")}
    assert sum(s.spent for s in by_service) == Decimal("0.009372")
    assert sum(d.amount or 0 for d in details) == Decimal("0.009372")


def test_keeps_the_line_with_most_tokens_across_streaming_snapshots(
    store: Store, claude_dir: Path
) -> None:
    write_log(
        claude_dir,
        "s.jsonl",
        [
            line("msg_1", "req_1", usage(4, 30, cache_read=20000)),
            line("msg_1", "req_1", usage(4, 210, cache_read=20000)),
        ],
    )

    refresh(store, make_settings(RATES_S))

    # The second snapshot: 4×3 + 210×15 + 20,000×0.30 = 12 + 3,150 + 6,000 = 9,162.
    assert total(store) == Decimal("0.009162")


def test_c02_one_hour_cache_writes_take_their_own_rate(
    store: Store, claude_dir: Path
) -> None:
    split = usage(
        100,
        500,
        cache_write=40000,
        cache_creation={
            "ephemeral_5m_input_tokens": 10000,
            "ephemeral_1h_input_tokens": 30000,
        },
    )
    write_log(claude_dir, "s.jsonl", [line("m", "r", split)])

    refresh(store, make_settings(RATES_S))

    # 100×3 + 500×15 + 10,000×3.75 + 30,000×6.00 = 225,300 → $0.225300
    assert total(store) == Decimal("0.225300")
    assert charges(store)[0][5:7] == (10000, 30000)


def test_c04_exclusive_input_is_never_reduced_by_cache_tokens(
    store: Store, claude_dir: Path
) -> None:
    write_log(
        claude_dir,
        "s.jsonl",
        [line("m", "r", usage(50, 200, cache_write=400, cache_read=9000))],
    )

    refresh(store, make_settings(RATES_S))

    # 50×3 + 9,000×0.30 + 400×3.75 + 200×15 = 150 + 2,700 + 1,500 + 3,000 = 7,350
    assert total(store) == Decimal("0.007350")


def test_negative_token_counts_are_a_data_error_never_priced(
    store: Store, claude_dir: Path
) -> None:
    write_log(claude_dir, "s.jsonl", [line("m", "r", usage(-5, 10))])

    result = refresh(store, make_settings(RATES_S))

    assert charges(store) == []
    assert result.counts.malformed == 1


C05_PRICES = """
prices:
  long-test:
    input: 3.00
    output: 15.00
    cache_read: 0.30
    cache_write_5m: 3.75
    tier_threshold: 200000
    input_above_200k: 6.00
    output_above_200k: 22.50
    cache_read_above_200k: 0.60
    cache_write_5m_above_200k: 7.50
  long-test-2:
    input: 5.00
    output: 25.00
    cache_write_5m: 6.25
    input_above_200k: 10.00
    output_above_200k: 37.50
    cache_write_5m_above_200k: 12.50
"""


@pytest.mark.parametrize(
    ("model", "tokens", "expected"),
    [
        # A: 250,000×6 + 2,000×22.50 = 1,545,000 → $1.545 (the whole request tiered)
        ("long-test", usage(250_000, 2_000), "1.545"),
        # B: exactly 200,000 stays on the base tier: 600,000 + 30,000 → $0.63
        ("long-test", usage(200_000, 2_000), "0.63"),
        # C: 1,000 + 199,500 read + 500 write = 201,000 > 200k, tiered by cache:
        # 1,000×6 + 199,500×0.60 + 500×7.50 = 129,450 → $0.12945
        ("long-test", usage(1_000, 0, cache_write=500, cache_read=199_500), "0.12945"),
        # Override tiers honoured: 300,000×12.50 + 10×10 + 1,000×37.50 → $3.7876
        ("long-test-2", usage(10, 1_000, cache_write=300_000), "3.7876"),
    ],
)
def test_c05_long_context_tier_is_a_threshold(
    store: Store, claude_dir: Path, model: str, tokens: dict[str, Any], expected: str
) -> None:
    write_log(claude_dir, "s.jsonl", [line("m", "r", tokens, model=model)])

    refresh(store, make_settings(C05_PRICES))

    assert total(store) == Decimal(expected)


def test_bundled_prices_apply_the_long_context_tier(
    store: Store, claude_dir: Path
) -> None:
    write_log(
        claude_dir,
        "s.jsonl",
        [
            line("a", "r", usage(100_000, 1_000), model="claude-sonnet-4-5-20250929"),
            line("b", "r", usage(250_000, 1_000), model="claude-sonnet-4-5-20250929"),
        ],
    )

    refresh(store, make_settings())

    # Published Sonnet 4.5 rates: 3 / 15 up to 200k input, 6 / 22.50 above.
    # a: 100,000×3 + 1,000×15 = 315,000 → $0.315
    # b: 250,000×6 + 1,000×22.50 = 1,522,500 → $1.5225
    assert [r[1] for r in charges(store)] == [Decimal("0.315"), Decimal("1.5225")]


def test_c06_unknown_models_stay_unpriced_with_their_tokens(
    store: Store, claude_dir: Path
) -> None:
    write_log(
        claude_dir,
        "s.jsonl",
        [
            line("a", "r", usage(1_000_000)),
            line("b", "r", usage(100_000), model="openrouter/claude-test-s"),
            line("c", "r", usage(100_000), model="mystery-9"),
        ],
    )
    prices = RATES_S + "    aliases: [openrouter/claude-test-s]\n"

    result = refresh(store, make_settings(prices))

    # 1,000,000×3 → $3.00; the alias: 100,000×3 → $0.30; mystery-9 has no price.
    rows = {r[0]: r for r in charges(store)}
    assert rows["a:r"][1] == Decimal("3.00")
    assert rows["b:r"][1] == Decimal("0.30")
    assert rows["c:r"][1] is None
    assert rows["c:r"][2] == "unpriced"
    assert rows["c:r"][3] == 100_000
    assert result.counts.unpriced == 1
    settings = make_settings(prices)
    q = month_query(settings, Month(2025, 4).first_day, Month(2025, 4).end)
    assert store.unpriced(q) == [("Anthropic", "mystery-9", 100_000)]
    assert sum(s.spent for s in store.spend_by_service(q)) == Decimal("3.30")


def test_c07_days_are_local_in_the_configured_zone(
    store: Store, claude_dir: Path
) -> None:
    # 1,000,000 input tokens at 1.00 per million cost exactly $1.00.
    prices = "prices:\n  one-dollar:\n    input: 1.00\n    output: 1.00\n"
    write_log(
        claude_dir,
        "s.jsonl",
        [
            line(
                "a",
                "r",
                usage(1_000_000),
                model="one-dollar",
                timestamp="2025-03-04T03:30:00Z",
            ),
            line(
                "b",
                "r",
                usage(2_000_000),
                model="one-dollar",
                timestamp="2025-03-04T18:00:00Z",
            ),
            line(
                "c",
                "r",
                usage(4_000_000),
                model="one-dollar",
                timestamp="2025-03-05T02:15:00Z",
            ),
        ],
    )
    settings = make_settings("budget:\n  timezone: America/Los_Angeles\n" + prices)
    refresh(store, settings, now=dt.datetime(2025, 3, 20, tzinfo=dt.UTC))

    q = month_query(settings, dt.date(2025, 3, 1), dt.date(2025, 4, 1))
    daily = store.daily_spend(q)

    # Los Angeles is UTC−8 before 9 March: 03-03 19:30, 03-04 10:00, 03-04 18:15.
    assert daily == {
        dt.date(2025, 3, 3): Decimal("1.00"),
        dt.date(2025, 3, 4): Decimal("6.00"),
    }


def test_c07_today_in_tokyo(store: Store, claude_dir: Path) -> None:
    prices = "prices:\n  one-dollar:\n    input: 1.00\n    output: 1.00\n"
    write_log(
        claude_dir,
        "s.jsonl",
        [
            line(
                "a",
                "r",
                usage(5_000_000),
                model="one-dollar",
                timestamp="2025-05-21T10:00:00Z",
            ),
            line(
                "b",
                "r",
                usage(2_000_000),
                model="one-dollar",
                timestamp="2025-05-21T15:30:00Z",
            ),
            line(
                "c",
                "r",
                usage(1_000_000),
                model="one-dollar",
                timestamp="2025-05-21T16:00:00Z",
            ),
        ],
    )
    settings = make_settings("budget:\n  timezone: Asia/Tokyo\n" + prices)
    now = dt.datetime(2025, 5, 21, 16, 27, tzinfo=dt.UTC)
    refresh(store, settings, now=now)

    today = now.astimezone(settings.budget.zone).date()
    daily = store.daily_spend(month_query(settings, today, today + dt.timedelta(1)))

    # JST is UTC+9: 15:30Z and 16:00Z are 22 May; 10:00Z is still 21 May.
    assert today == dt.date(2025, 5, 22)
    assert daily == {dt.date(2025, 5, 22): Decimal("3.00")}


C13_TEXT = (
    '{"type":"assistant","requestId":"r1","message":{"id":"m1","model":"claude-test-s",'
    '"usage":{"input_tokens":100,"output_tokens":10,"cache_creation_input_tokens":0,'
    '"cache_read_input_tokens":0}}}\n'
    '{"type":"assistant","requestId":"r2","message":{"id":"m2","model":"claude-test-s",'
    '"usage":{"input_tokens":5\n'
    '{"type":"assistant","uuid":"x","message":{"id":"m9","content":"bad \x01 byte"}}\n'
    '{"type":"assistant","requestId":"r3","message":{"id":"m3","model":"claude-test-s",'
    '"usage":{"input_tokens":200,"output_tokens":20,"cache_creation_input_tokens":0,'
    '"cache_read_input_tokens":0}}}'
)
"""CASES.md C13 as written (its lines carry no timestamp), with its variant's line
holding a raw control character inserted before the last line."""


def test_c13_malformed_lines_are_skipped_counted_and_located(
    store: Store, claude_dir: Path
) -> None:
    path = write_log(claude_dir, "s.jsonl", [])
    path.write_text(C13_TEXT, encoding="utf-8")

    result = refresh(store, make_settings(RATES_S))

    # (100×3 + 10×15) + (200×3 + 20×15) = 450 + 900 = 1,350 → $0.001350; the last
    # line has no newline and still counts.
    assert total(store) == Decimal("0.001350")
    assert result.ok
    assert result.counts.malformed == 2
    assert result.counts.notes == [f"{path}: skipped malformed lines 2, 3"]
    assert "bad" not in " ".join(result.counts.notes)


def test_an_undated_line_takes_its_files_time_and_a_bad_date_is_malformed(
    store: Store, claude_dir: Path
) -> None:
    undated = json.loads(line("m1", "r1", usage(100, 10)))
    del undated["timestamp"]
    bad_date = json.loads(line("m2", "r2", usage(200, 20)))
    bad_date["timestamp"] = "yesterday"
    path = write_log(claude_dir, "s.jsonl", [json.dumps(undated), json.dumps(bad_date)])
    written = dt.datetime(2025, 4, 2, 23, 30, tzinfo=dt.UTC)
    os.utime(path, (written.timestamp(), written.timestamp()))

    result = refresh(store, make_settings(RATES_S))

    # The line with a date that does not parse is valid JSON, so no line number.
    assert result.counts.malformed == 1
    assert result.counts.notes == [
        f"{path}: skipped 1 line without a field QOINs needs (a timestamp)"
    ]
    with store.connect() as con:
        rows = con.execute(
            "SELECT record_key, period_start FROM charges WHERE source = 'claude_code'"
        ).fetchall()
    assert rows == [("m1:r1", written)]


def test_synthetic_error_and_other_lines_are_skipped(
    store: Store, claude_dir: Path
) -> None:
    write_log(
        claude_dir,
        "s.jsonl",
        [
            json.dumps({"type": "file-history-snapshot", "snapshot": {}}),
            json.dumps({"type": "user", "message": {"role": "user", "content": "hi"}}),
            line("syn", "r", usage(100, 100), model="<synthetic>"),
            line("err", "r", usage(100, 100), isApiErrorMessage=True),
            line("ok", "r", usage(1_000_000)),
        ],
    )

    result = refresh(store, make_settings(RATES_S))

    assert [r[0] for r in charges(store)] == ["ok:r"]
    assert (result.counts.read, result.counts.skipped) == (5, 4)


def test_sidechain_copy_of_a_response_is_dropped(
    store: Store, claude_dir: Path
) -> None:
    write_log(
        claude_dir,
        "s.jsonl",
        [
            line("m", "r", usage(1_000_000), isSidechain=True, cwd="/side"),
            line("m", "r", usage(1_000_000), isSidechain=False, cwd="/main"),
        ],
    )

    refresh(store, make_settings(RATES_S))

    with store.connect() as con:
        rows = con.execute("SELECT origin FROM charges").fetchall()
    assert rows == [("/main",)]


def test_resumed_session_repeating_lines_in_a_new_file_counts_once(
    store: Store, claude_dir: Path
) -> None:
    write_log(claude_dir, "first.jsonl", [line("m1", "r1", usage(1_000_000))])
    settings = make_settings(RATES_S)
    refresh(store, settings)
    write_log(
        claude_dir,
        "resumed.jsonl",
        [line("m1", "r1", usage(1_000_000)), line("m2", "r2", usage(2_000_000))],
    )

    result = refresh(store, settings)

    # m1 once ($3.00) and m2 ($6.00).
    assert total(store) == Decimal("9.00")
    assert (result.counts.new, result.counts.duplicate) == (1, 1)
    assert result.counts.files_skipped == 1


def test_unchanged_files_are_not_read_again_and_appends_are(
    store: Store, claude_dir: Path
) -> None:
    path = write_log(claude_dir, "s.jsonl", [line("m1", "r1", usage(1_000_000))])
    settings = make_settings(RATES_S)
    refresh(store, settings)

    again = refresh(store, settings)
    assert (again.counts.files_read, again.counts.read) == (0, 0)

    with path.open("a", encoding="utf-8") as handle:
        handle.write(line("m2", "r2", usage(1_000_000)) + "\n")
    appended = refresh(store, settings)

    assert (appended.counts.files_read, appended.counts.new) == (1, 1)
    assert appended.counts.changed == 0
    assert total(store) == Decimal("6.00")


def test_logs_deleted_by_claude_code_stay_in_the_ledger(
    store: Store, claude_dir: Path
) -> None:
    old = write_log(claude_dir, "old.jsonl", [line("m1", "r1", usage(1_000_000))])
    write_log(claude_dir, "new.jsonl", [line("m2", "r2", usage(2_000_000))])
    settings = make_settings(RATES_S)
    refresh(store, settings)

    old.unlink()
    result = refresh(store, settings)

    # $3.00 from the deleted file and $6.00 from the one still there.
    assert result.ok
    assert total(store) == Decimal("9.00")


def test_config_dir_list_and_projects_entries(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = tmp_path / "one"
    second = tmp_path / "two"
    write_log(first, "a.jsonl", [line("m1", "r", usage(1_000_000))])
    write_log(second, "b.jsonl", [line("m2", "r", usage(1_000_000))])
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", f"{first}, {second / 'projects'}")

    refresh(store, make_settings(RATES_S))

    assert total(store) == Decimal("6.00")


def test_default_folders_are_both_read_without_a_config_entry(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "cfg"))
    write_log(home / ".claude", "a.jsonl", [line("m1", "r", usage(1_000_000))])
    write_log(home / "cfg" / "claude", "b.jsonl", [line("m2", "r", usage(1_000_000))])

    refresh(store, make_settings(RATES_S))

    assert total(store) == Decimal("6.00")


def test_working_folder_and_git_repository_are_the_origin(
    store: Store, claude_dir: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "work" / "checkout"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "config").write_text(
        '[remote "origin"]\n\turl = git@example.com:team/uroboro-ai.git\n'
    )
    (repo / "src").mkdir()
    plain = tmp_path / "plain"
    plain.mkdir()
    write_log(
        claude_dir,
        "s.jsonl",
        [
            line("m1", "r", usage(10), cwd=str(repo / "src")),
            line("m2", "r", usage(10), cwd=str(plain)),
            line("m3", "r", usage(10), cwd="/gone/away"),
        ],
    )

    refresh(store, make_settings(RATES_S))

    with store.connect() as con:
        rows = con.execute(
            "SELECT origin, repository FROM charges ORDER BY record_key"
        ).fetchall()
    assert rows == [
        (str(repo / "src"), "uroboro-ai"),
        (str(plain), None),
        ("/gone/away", None),
    ]


def test_plan_billing_shows_value_not_spend(store: Store, claude_dir: Path) -> None:
    write_log(claude_dir, "s.jsonl", [line("m1", "r", usage(1_000_000))])
    settings = make_settings(RATES_S + "services:\n  claude_code:\n    billing: plan\n")
    refresh(store, settings)

    q = month_query(settings, Month(2025, 4).first_day, Month(2025, 4).end)

    assert store.spend_by_service(q) == []
    assert store.plan_value(q) == {"claude_code": Decimal("3.00")}


def test_switching_billing_mode_applies_to_stored_usage(
    store: Store, claude_dir: Path
) -> None:
    write_log(claude_dir, "s.jsonl", [line("m1", "r", usage(1_000_000))])
    refresh(store, make_settings(RATES_S))
    plan = make_settings(RATES_S + "services:\n  claude_code:\n    billing: plan\n")

    refresh(store, plan)

    q = month_query(plan, Month(2025, 4).first_day, Month(2025, 4).end)
    assert store.plan_value(q) == {"claude_code": Decimal("3.00")}


def test_no_prompt_text_reaches_the_store(store: Store, claude_dir: Path) -> None:
    write_log(claude_dir, "s.jsonl", C01_LINES)

    refresh(store, make_settings(RATES_S))

    with store.connect() as con:
        tables = [r[0] for r in con.execute("SHOW TABLES").fetchall()]
        for table in tables:
            text = " ".join(
                str(r) for r in con.execute(f"SELECT * FROM {table}").fetchall()
            )
            assert "private words" not in text
