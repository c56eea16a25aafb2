"""The Codex CLI log collector, end to end: rollout files → refresh → stored charges.

Every rollout is written into ``tmp_path`` in the real line shapes (``session_meta``,
``turn_context``, ``event_msg``/``token_count``), ``CODEX_HOME`` points at it, and the
expected figures are worked out by hand in the comments. Rates come from a price
override for a made-up model, in USD per million tokens:

    gpt-test: input 1.25, output 10, cache_read 0.125

so a charge is (plain input × 1.25 + cached × 0.125 + output × 10) / 1,000,000.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from collectors.codex import CodexCollector, default_session_dirs
from qoins_tui.config import Settings
from qoins_tui.refresh import SourceResult, run_refresh
from qoins_tui.store import Store
from tests.conftest import make_settings

NOW = dt.datetime(2026, 1, 10, 12, 0, tzinfo=dt.UTC)
PRICES = """
prices:
  gpt-test:
    input: 1.25
    output: 10
    cache_read: 0.125
"""

PARENT = "019b8f00-0000-7000-8000-000000000001"
CHILD = "019b8f00-0000-7000-8000-000000000002"
GRANDCHILD = "019b8f00-0000-7000-8000-000000000003"
OTHER = "019b8f00-0000-7000-8000-000000000004"

Usage = tuple[int, int, int, int]
"""input (cached included), cached input, output (reasoning included), reasoning."""


def meta(
    ts: str,
    session: str,
    cwd: Path | str,
    *,
    forked_from: str | None = None,
    spawned_by: str | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": session,
        "timestamp": ts,
        "cwd": str(cwd),
        "originator": "codex_cli_rs",
        "cli_version": "0.80.0",
        "instructions": None,
        "source": "cli",
        "model_provider": "openai",
    }
    if forked_from is not None:
        payload["forked_from_id"] = forked_from
    if spawned_by is not None:
        payload["source"] = {
            "subagent": {"thread_spawn": {"parent_thread_id": spawned_by, "depth": 1}}
        }
    return {"timestamp": ts, "type": "session_meta", "payload": payload}


def context(ts: str, model: str, cwd: Path | str) -> dict[str, Any]:
    return {
        "timestamp": ts,
        "type": "turn_context",
        "payload": {
            "cwd": str(cwd),
            "approval_policy": "on-request",
            "sandbox_policy": {"type": "workspace-write"},
            "model": model,
            "summary": "auto",
        },
    }


def usage(values: Usage) -> dict[str, int]:
    inp, cached, out, reasoning = values
    return {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
        "total_tokens": inp + out,
    }


def tokens(ts: str, total: Usage, last: Usage) -> dict[str, Any]:
    return {
        "timestamp": ts,
        "type": "event_msg",
        "payload": {
            "type": "token_count",
            "info": {
                "total_token_usage": usage(total),
                "last_token_usage": usage(last),
                "model_context_window": 272000,
            },
            "rate_limits": None,
        },
    }


def said(ts: str, role: str, text: str) -> dict[str, Any]:
    return {
        "timestamp": ts,
        "type": "response_item",
        "payload": {
            "type": "message",
            "role": role,
            "content": [{"type": "input_text", "text": text}],
        },
    }


def rollout(home: Path, session: str, day: str = "2026/01/05") -> Path:
    stamp = day.replace("/", "-") + "T10-00-00"
    return home / "sessions" / day / f"rollout-{stamp}-{session}.jsonl"


def write(
    path: Path, lines: Sequence[dict[str, Any] | str], *, end: str = "\n"
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines)
    path.write_text(text + end, encoding="utf-8")
    return path


def refresh(store: Store, settings: Settings | None = None) -> SourceResult:
    results = run_refresh(settings or make_settings(PRICES), store, now=NOW)
    [result] = [r for r in results if r.source == "codex"]
    assert result.ok, result.error
    return result


def charges(store: Store) -> list[dict[str, Any]]:
    with store.connect() as con:
        cursor = con.execute(
            """SELECT period_start, model, input_tokens, cache_read_tokens,
                      cache_write_5m_tokens, cache_write_1h_tokens, output_tokens,
                      billed_cost, cost_basis, provider, origin, repository,
                      resource_id, billing
               FROM charges WHERE source = 'codex'
               ORDER BY period_start, resource_id"""
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def total_cost(rows: list[dict[str, Any]]) -> Decimal:
    return sum((r["billed_cost"] for r in rows), Decimal(0))


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    monkeypatch.setenv("CODEX_HOME", str(codex_home))
    return codex_home


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "shop-api"
    (folder / ".git").mkdir(parents=True)
    return folder


def parent_lines(cwd: Path) -> list[dict[str, Any]]:
    """The parent session: two turns.

    Turn 1: input 1,000 (no cache), output 100 (20 of it reasoning).
    Turn 2: cumulative 3,000 / 800 cached / 300 out, so the turn is
    input 2,000 of which 800 cached, output 200.
    """
    return [
        meta("2026-01-05T10:00:00.000Z", PARENT, cwd),
        context("2026-01-05T10:00:01.000Z", "gpt-test", cwd),
        said("2026-01-05T10:00:01.100Z", "user", "please refactor the billing code"),
        tokens(
            "2026-01-05T10:00:05.000Z",
            total=(1000, 0, 100, 20),
            last=(1000, 0, 100, 20),
        ),
        tokens(
            "2026-01-05T10:00:09.000Z",
            total=(3000, 800, 300, 20),
            last=(2000, 800, 200, 0),
        ),
    ]


def test_turns_are_deltas_of_the_cumulative_total(
    store: Store, home: Path, project: Path
) -> None:
    write(
        rollout(home, PARENT),
        [
            meta("2026-01-05T10:00:00.000Z", PARENT, project),
            context("2026-01-05T10:00:01.000Z", "gpt-test", project),
            said("2026-01-05T10:00:01.100Z", "user", "SECRET-PROMPT do not store"),
            tokens(
                "2026-01-05T10:00:05.000Z",
                total=(1000, 0, 100, 20),
                last=(1000, 0, 100, 20),
            ),
            # The CLI re-emits the same cumulative total (a rate-limit update),
            # repeating last_token_usage: summing "last" would count turn 1 twice.
            tokens(
                "2026-01-05T10:00:06.000Z",
                total=(1000, 0, 100, 20),
                last=(1000, 0, 100, 20),
            ),
            said("2026-01-05T10:00:07.000Z", "assistant", "SECRET-ANSWER here"),
            tokens(
                "2026-01-05T10:00:09.000Z",
                total=(3000, 800, 300, 20),
                last=(2000, 800, 200, 0),
            ),
        ],
    )

    result = refresh(store)

    rows = charges(store)
    assert len(rows) == 2
    first, second = rows
    # Turn 1: 1,000 plain input, no cache, 100 output (reasoning 20 is inside it).
    # 1,000 × 1.25 + 100 × 10 = 1,250 + 1,000 = 2,250 → $0.002250
    assert (first["input_tokens"], first["cache_read_tokens"]) == (1000, 0)
    assert first["output_tokens"] == 100
    assert first["billed_cost"] == Decimal("0.002250")
    assert first["period_start"] == at("2026-01-05T10:00:05Z")
    # Turn 2: Δinput 2,000 of which Δcached 800, so plain input 1,200; output 200.
    # 1,200 × 1.25 + 800 × 0.125 + 200 × 10 = 1,500 + 100 + 2,000 = 3,600 → $0.003600
    # (cached at the input rate would be 2,000 × 1.25 + 2,000 = 4,500 → $0.0045)
    assert (second["input_tokens"], second["cache_read_tokens"]) == (1200, 800)
    assert second["output_tokens"] == 200
    assert (second["cache_write_5m_tokens"], second["cache_write_1h_tokens"]) == (0, 0)
    assert second["billed_cost"] == Decimal("0.003600")
    # $0.002250 + $0.003600 = $0.005850; summing last_token_usage would give
    # $0.008100 (turn 1 twice).
    assert total_cost(rows) == Decimal("0.005850")
    for row in rows:
        assert row["model"] == "gpt-test"
        assert row["cost_basis"] == "estimated"
        assert row["provider"] == "OpenAI"
        assert row["origin"] == str(project)
        assert row["repository"] == "shop-api"
        assert row["resource_id"] == PARENT
        assert row["billing"] == "api"
    # 7 lines: 3 counted token_count lines, of which the re-emitted one collapses
    # into turn 1; the other 4 lines are skipped.
    counts = result.counts
    assert (counts.read, counts.new, counts.duplicate) == (7, 2, 1)
    assert (counts.skipped, counts.malformed, counts.unpriced) == (4, 0, 0)


def test_no_prompt_or_answer_text_reaches_the_store(
    store: Store, home: Path, project: Path
) -> None:
    write(
        rollout(home, PARENT),
        [
            meta("2026-01-05T10:00:00.000Z", PARENT, project),
            context("2026-01-05T10:00:01.000Z", "gpt-test", project),
            said("2026-01-05T10:00:01.100Z", "user", "SECRET-PROMPT do not store"),
            said("2026-01-05T10:00:04.000Z", "assistant", "SECRET-ANSWER here"),
            tokens(
                "2026-01-05T10:00:05.000Z",
                total=(1000, 0, 100, 20),
                last=(1000, 0, 100, 20),
            ),
            "{broken line with SECRET-BROKEN text",
        ],
    )

    result = refresh(store)

    with store.connect() as con:
        stored = [
            con.execute(f"SELECT * FROM {table}").fetchall()
            for table in ("charges", "usage_lines", "files", "refreshes")
        ]
    text = repr(stored) + repr(result)
    assert "SECRET" not in text


def test_model_comes_from_the_latest_turn_context(
    store: Store, home: Path, project: Path
) -> None:
    write(
        rollout(home, PARENT),
        [
            meta("2026-01-05T10:00:00.000Z", PARENT, project),
            # No turn_context before the first turn: its model is not known.
            tokens(
                "2026-01-05T10:00:05.000Z",
                total=(1000, 0, 100, 0),
                last=(1000, 0, 100, 0),
            ),
            context("2026-01-05T10:01:00.000Z", "gpt-test", project),
            tokens(
                "2026-01-05T10:01:05.000Z",
                total=(3000, 0, 300, 0),
                last=(2000, 0, 200, 0),
            ),
            context("2026-01-05T10:02:00.000Z", "mystery-9", project),
            tokens(
                "2026-01-05T10:02:05.000Z",
                total=(7000, 0, 700, 0),
                last=(4000, 0, 400, 0),
            ),
        ],
    )

    result = refresh(store)

    rows = charges(store)
    assert [r["model"] for r in rows] == [None, "gpt-test", "mystery-9"]
    unknown, priced, mystery = rows
    # No model known: tokens kept (1,000 in, 100 out), no price, never $0.
    assert unknown["cost_basis"] == "unpriced"
    assert unknown["billed_cost"] is None
    assert (unknown["input_tokens"], unknown["output_tokens"]) == (1000, 100)
    # gpt-test: Δ 2,000 in, 200 out → 2,000 × 1.25 + 200 × 10 = 4,500 → $0.0045
    assert priced["billed_cost"] == Decimal("0.0045")
    # A model no table prices: Δ 4,000 in, 400 out kept, cost NULL.
    assert mystery["cost_basis"] == "unpriced"
    assert mystery["billed_cost"] is None
    assert (mystery["input_tokens"], mystery["output_tokens"]) == (4000, 400)
    assert result.counts.unpriced == 2


@pytest.mark.parametrize(
    "marker",
    ["forked_from_id", "thread_spawn", "forked_from_id without the parent's meta"],
)
def test_a_fork_counts_only_its_own_turns(
    store: Store, home: Path, project: Path, marker: str
) -> None:
    write(rollout(home, PARENT), parent_lines(project))
    # The fork (or spawned subagent) opens with its own session_meta naming the
    # parent, then replays the parent's rollout as it was, stamped at the fork
    # time, then runs one turn of its own that continues the parent's total.
    fork_meta = (
        meta("2026-01-05T11:00:00.000Z", CHILD, project, spawned_by=PARENT)
        if marker == "thread_spawn"
        else meta("2026-01-05T11:00:00.000Z", CHILD, project, forked_from=PARENT)
    )
    replay = [
        {**line, "timestamp": f"2026-01-05T11:00:00.{n:03d}Z"}
        for n, line in enumerate(parent_lines(project), start=1)
    ]
    if "without" in marker:
        replay = replay[1:]
    write(
        rollout(home, CHILD),
        [
            fork_meta,
            *replay,
            context("2026-01-05T11:00:05.000Z", "gpt-test", project),
            # Own turn: cumulative 3,000 → 5,500 input, 800 → 2,800 cached,
            # 300 → 350 output.
            tokens(
                "2026-01-05T11:00:09.000Z",
                total=(5500, 2800, 350, 20),
                last=(2500, 2000, 50, 0),
            ),
        ],
    )

    result = refresh(store)

    rows = charges(store)
    # Parent turn 1: $0.002250 and turn 2: $0.003600 (as in the first test), each
    # once and dated at its original time, not at the fork's replay.
    # Fork's own turn: Δin 2,500 of which 2,000 cached → 500 plain; output 50.
    # 500 × 1.25 + 2,000 × 0.125 + 50 × 10 = 625 + 250 + 500 = 1,375 → $0.001375
    assert [(r["period_start"], r["billed_cost"]) for r in rows] == [
        (at("2026-01-05T10:00:05Z"), Decimal("0.002250")),
        (at("2026-01-05T10:00:09Z"), Decimal("0.003600")),
        (at("2026-01-05T11:00:09Z"), Decimal("0.001375")),
    ]
    own = rows[2]
    assert (own["input_tokens"], own["cache_read_tokens"]) == (500, 2000)
    assert own["output_tokens"] == 50
    assert own["resource_id"] == CHILD
    # $0.005850 + $0.001375 = $0.007225; the replay counted again would add
    # $0.005850 (→ $0.013075), and the fork's total taken from zero would bill
    # 5,500 input (2,800 cached) and 350 output again.
    assert total_cost(rows) == Decimal("0.007225")
    # The two replayed turns collapse into the parent's.
    assert (result.counts.new, result.counts.duplicate) == (3, 2)


def test_a_fork_that_inherits_the_total_without_a_replay(
    store: Store, home: Path, project: Path
) -> None:
    write(rollout(home, PARENT), parent_lines(project))
    # A fork whose file does not replay the parent's history but whose counter
    # still continues from the parent's total (3,000 / 800 / 300): its first
    # token_count is counted from its last_token_usage.
    write(
        rollout(home, CHILD),
        [
            meta("2026-01-05T11:00:00.000Z", CHILD, project, forked_from=PARENT),
            context("2026-01-05T11:00:05.000Z", "gpt-test", project),
            tokens(
                "2026-01-05T11:00:09.000Z",
                total=(5500, 2800, 350, 20),
                last=(2500, 2000, 50, 0),
            ),
        ],
    )

    refresh(store)

    rows = charges(store)
    # Own turn as before: 500 plain, 2,000 cached, 50 out → $0.001375. Taken
    # from zero it would be 2,700 plain, 2,800 cached, 350 out:
    # 3,375 + 350 + 3,500 = 7,225 → $0.007225 for one turn.
    assert rows[-1]["billed_cost"] == Decimal("0.001375")
    assert total_cost(rows) == Decimal("0.007225")


def test_a_fork_read_before_its_parent_still_counts_the_parent_once(
    store: Store, home: Path, project: Path
) -> None:
    replay = [
        {**line, "timestamp": f"2026-01-05T11:00:00.{n:03d}Z"}
        for n, line in enumerate(parent_lines(project), start=1)
    ]
    write(
        rollout(home, CHILD),
        [
            meta("2026-01-05T11:00:00.000Z", CHILD, project, forked_from=PARENT),
            *replay,
            context("2026-01-05T11:00:05.000Z", "gpt-test", project),
            tokens(
                "2026-01-05T11:00:09.000Z",
                total=(5500, 2800, 350, 20),
                last=(2500, 2000, 50, 0),
            ),
        ],
    )
    refresh(store)
    # Only the fork is on disk: the replayed turns are the only record of the
    # parent's work, so they count once, at the replay's time.
    assert total_cost(charges(store)) == Decimal("0.007225")

    write(rollout(home, PARENT), parent_lines(project))
    result = refresh(store)

    rows = charges(store)
    # Once the parent's own log is read, its copies win: same three charges,
    # the parent's two now at their original times. Total still $0.007225.
    assert [r["period_start"] for r in rows] == [
        at("2026-01-05T10:00:05Z"),
        at("2026-01-05T10:00:09Z"),
        at("2026-01-05T11:00:09Z"),
    ]
    assert total_cost(rows) == Decimal("0.007225")
    # No new charge; the two replayed copies are replaced by the originals.
    assert (result.counts.files_read, result.counts.new) == (1, 0)
    assert result.counts.changed == 2


def test_a_fork_of_a_fork_counts_each_turn_once(
    store: Store, home: Path, project: Path
) -> None:
    parent = parent_lines(project)
    write(rollout(home, PARENT), parent)
    child_own = [
        context("2026-01-05T11:00:05.000Z", "gpt-test", project),
        tokens(
            "2026-01-05T11:00:09.000Z",
            total=(5500, 2800, 350, 20),
            last=(2500, 2000, 50, 0),
        ),
    ]
    child = [
        meta("2026-01-05T11:00:00.000Z", CHILD, project, forked_from=PARENT),
        *[{**line, "timestamp": "2026-01-05T11:00:00.500Z"} for line in parent],
        *child_own,
    ]
    write(rollout(home, CHILD), child)
    # The grandchild replays the child's whole rollout (which itself holds the
    # parent's), then runs a turn: cumulative 5,500 → 6,500 input, 2,800 → 3,600
    # cached, 350 → 400 output.
    write(
        rollout(home, GRANDCHILD),
        [
            meta("2026-01-05T12:00:00.000Z", GRANDCHILD, project, forked_from=CHILD),
            *[{**line, "timestamp": "2026-01-05T12:00:00.500Z"} for line in child],
            context("2026-01-05T12:00:05.000Z", "gpt-test", project),
            tokens(
                "2026-01-05T12:00:09.000Z",
                total=(6500, 3600, 400, 20),
                last=(1000, 800, 50, 0),
            ),
        ],
    )

    refresh(store)

    rows = charges(store)
    # Grandchild's own turn: Δin 1,000 of which 800 cached → 200 plain; output 50.
    # 200 × 1.25 + 800 × 0.125 + 50 × 10 = 250 + 100 + 500 = 850 → $0.000850
    # Total: parent $0.005850 + child $0.001375 + grandchild $0.000850 = $0.008075
    assert [r["billed_cost"] for r in rows] == [
        Decimal("0.002250"),
        Decimal("0.003600"),
        Decimal("0.001375"),
        Decimal("0.000850"),
    ]
    assert [r["resource_id"] for r in rows] == [PARENT, PARENT, CHILD, GRANDCHILD]
    assert total_cost(rows) == Decimal("0.008075")


def test_a_session_in_sessions_and_archived_sessions_counts_once(
    store: Store, home: Path, project: Path
) -> None:
    active = write(rollout(home, PARENT), parent_lines(project))
    archived = home / "archived_sessions" / active.name
    write(archived, parent_lines(project))

    result = refresh(store)

    rows = charges(store)
    # Same two turns in both copies: $0.002250 + $0.003600 = $0.005850, not twice.
    assert len(rows) == 2
    assert total_cost(rows) == Decimal("0.005850")
    assert (result.counts.files_read, result.counts.new) == (2, 2)
    assert result.counts.duplicate == 2


def test_a_malformed_line_is_skipped_and_named(
    store: Store, home: Path, project: Path
) -> None:
    path = write(
        rollout(home, PARENT),
        [
            meta("2026-01-05T10:00:00.000Z", PARENT, project),
            context("2026-01-05T10:00:01.000Z", "gpt-test", project),
            tokens(
                "2026-01-05T10:00:05.000Z",
                total=(1000, 0, 100, 20),
                last=(1000, 0, 100, 20),
            ),
            '{"timestamp":"2026-01-05T10:00:07.000Z","type":"event_msg","payload":{"ty',
            # The last line has no trailing newline and is still read.
            tokens(
                "2026-01-05T10:00:09.000Z",
                total=(3000, 800, 300, 20),
                last=(2000, 800, 200, 0),
            ),
        ],
        end="",
    )

    result = refresh(store)

    # Both turns despite the broken line 4: $0.002250 + $0.003600 = $0.005850.
    assert total_cost(charges(store)) == Decimal("0.005850")
    assert (result.counts.read, result.counts.malformed) == (5, 1)
    assert result.counts.notes == [f"{path}: skipped malformed line 4"]


def test_a_negative_plain_input_is_a_data_error(
    store: Store, home: Path, project: Path
) -> None:
    write(
        rollout(home, PARENT),
        [
            meta("2026-01-05T10:00:00.000Z", PARENT, project),
            context("2026-01-05T10:00:01.000Z", "gpt-test", project),
            tokens(
                "2026-01-05T10:00:05.000Z",
                total=(1000, 0, 100, 0),
                last=(1000, 0, 100, 0),
            ),
            # Cached input grows by 900 while input grows by 100: plain input
            # 100 − 900 = −800 is impossible; the turn is refused, not priced.
            tokens(
                "2026-01-05T10:00:09.000Z",
                total=(1100, 900, 150, 0),
                last=(100, 900, 50, 0),
            ),
        ],
    )

    result = refresh(store)

    rows = charges(store)
    # Only turn 1: 1,000 × 1.25 + 100 × 10 = 2,250 → $0.002250
    assert [r["billed_cost"] for r in rows] == [Decimal("0.002250")]
    assert result.counts.malformed == 1


def test_a_reset_total_starts_the_count_again(
    store: Store, home: Path, project: Path
) -> None:
    write(
        rollout(home, PARENT),
        [
            meta("2026-01-05T10:00:00.000Z", PARENT, project),
            context("2026-01-05T10:00:01.000Z", "gpt-test", project),
            tokens(
                "2026-01-05T10:00:05.000Z",
                total=(1000, 0, 100, 0),
                last=(1000, 0, 100, 0),
            ),
            # Context window overflow: the CLI sets the total to the window size
            # with every counter at zero; nothing was used.
            tokens("2026-01-05T10:00:06.000Z", total=(0, 0, 0, 0), last=(0, 0, 0, 0)),
            tokens(
                "2026-01-05T10:00:09.000Z",
                total=(400, 0, 40, 0),
                last=(400, 0, 40, 0),
            ),
        ],
    )

    refresh(store)

    rows = charges(store)
    # Turn 1: $0.002250. After the reset, 400 in and 40 out:
    # 400 × 1.25 + 40 × 10 = 500 + 400 = 900 → $0.000900. A delta taken against
    # the old total would lose this turn.
    assert [r["billed_cost"] for r in rows] == [
        Decimal("0.002250"),
        Decimal("0.000900"),
    ]


def test_a_stale_snapshot_adds_nothing(store: Store, home: Path, project: Path) -> None:
    write(
        rollout(home, PARENT),
        [
            *parent_lines(project),
            # A snapshot older than the highest total seen (3,000 / 800 / 300)
            # arrives late, then the count resumes from the true total.
            tokens(
                "2026-01-05T10:00:10.000Z",
                total=(2000, 500, 200, 0),
                last=(1000, 500, 100, 0),
            ),
            tokens(
                "2026-01-05T10:00:15.000Z",
                total=(3500, 1000, 350, 20),
                last=(500, 200, 50, 0),
            ),
        ],
    )

    refresh(store)

    rows = charges(store)
    # Turns 1 and 2: $0.002250 + $0.003600. Turn 3 against the highest total:
    # Δin 500 of which 200 cached → 300 plain, Δout 50:
    # 300 × 1.25 + 200 × 0.125 + 50 × 10 = 375 + 25 + 500 = 900 → $0.000900.
    # Against the stale snapshot it would be 1,000 plain, 500 cached, 150 out
    # → $0.0028125.
    assert [r["billed_cost"] for r in rows] == [
        Decimal("0.002250"),
        Decimal("0.003600"),
        Decimal("0.000900"),
    ]
    assert total_cost(rows) == Decimal("0.006750")


def test_refresh_reads_only_changed_files_and_appended_turns(
    store: Store, home: Path, project: Path
) -> None:
    path = write(rollout(home, PARENT), parent_lines(project))
    write(
        rollout(home, OTHER, day="2026/01/06"),
        [
            meta("2026-01-06T09:00:00.000Z", OTHER, project),
            context("2026-01-06T09:00:01.000Z", "gpt-test", project),
            tokens(
                "2026-01-06T09:00:05.000Z",
                total=(800, 0, 80, 0),
                last=(800, 0, 80, 0),
            ),
        ],
    )
    refresh(store)
    # $0.005850 + (800 × 1.25 + 80 × 10 = 1,800 → $0.001800) = $0.007650
    assert total_cost(charges(store)) == Decimal("0.007650")

    unchanged = refresh(store)

    assert (unchanged.counts.files_read, unchanged.counts.files_skipped) == (0, 2)
    assert (unchanged.counts.read, unchanged.counts.new) == (0, 0)

    with path.open("a", encoding="utf-8") as handle:
        handle.write(
            json.dumps(
                tokens(
                    "2026-01-05T10:05:00.000Z",
                    total=(4000, 1800, 340, 20),
                    last=(1000, 1000, 40, 0),
                )
            )
            + "\n"
        )
    appended = refresh(store)

    # Appended turn: Δin 1,000 all cached, Δout 40 →
    # 0 × 1.25 + 1,000 × 0.125 + 40 × 10 = 125 + 400 = 525 → $0.000525
    assert (appended.counts.files_read, appended.counts.files_skipped) == (1, 1)
    assert (appended.counts.new, appended.counts.changed) == (1, 0)
    rows = charges(store)
    assert len(rows) == 4
    assert total_cost(rows) == Decimal("0.008175")


def test_paths_setting_replaces_codex_home(
    store: Store, tmp_path: Path, home: Path, project: Path
) -> None:
    write(rollout(home, OTHER), parent_lines(project))
    elsewhere = tmp_path / "work-codex"
    write(rollout(elsewhere, PARENT), parent_lines(project))
    settings = make_settings(
        PRICES + f"services:\n  codex:\n    paths: ['{elsewhere}']\n    billing: plan\n"
    )

    refresh(store, settings)

    rows = charges(store)
    assert [r["resource_id"] for r in rows] == [PARENT, PARENT]
    assert {r["billing"] for r in rows} == {"plan"}


def test_default_session_dirs_follow_every_codex_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    monkeypatch.setenv("CODEX_HOME", f"{first}, {second}")
    assert default_session_dirs() == [
        first / "sessions",
        first / "archived_sessions",
        second / "sessions",
        second / "archived_sessions",
    ]
    assert not CodexCollector.detect()
    (second / "archived_sessions").mkdir(parents=True)
    assert not CodexCollector.detect(), "an empty folder is no sign of use"
    (second / "archived_sessions" / "rollout-x.jsonl").write_text("{}\n")
    assert CodexCollector.detect()

    monkeypatch.delenv("CODEX_HOME")
    home = Path.home()
    assert default_session_dirs() == [
        home / ".codex" / "sessions",
        home / ".codex" / "archived_sessions",
    ]


def test_settings_are_checked() -> None:
    assert CodexCollector.check_settings({"billing": "plan", "paths": ["~/x"]}) is None
    assert CodexCollector.check_settings({"billing": "free"}) is not None
    assert CodexCollector.check_settings({"paths": "~/x"}) is not None
