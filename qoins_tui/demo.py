"""``qoins --demo``: throwaway demo sources, run through the real refresh.

The cloud part is the FinOps Foundation's FOCUS sample (shipped in ``demo/`` with its
licence), its dates moved into last month and this month up to now. The coding-agent
logs (Claude Code, Codex CLI, Gemini CLI), a Cursor usage export and the
subscriptions are generated, the same for a given day. Nothing of the
user's is read and nothing is sent anywhere.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from importlib import resources
from pathlib import Path

from qoins_tui.analysis import Month
from qoins_tui.config import Settings, parse_config

SAMPLE_MONTH = Month(2024, 9)
TIME_COLUMNS = (
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BillingPeriodStart",
    "BillingPeriodEnd",
)
PROJECTS = ("qoinbots-game", "uroboro-ai", "qry-zone")
MODELS = (
    ("claude-sonnet-4-5-20250929", 0.7),
    ("claude-haiku-4-5-20251001", 0.25),
    ("claude-next-preview", 0.05),
)
"""The last model is one no price table knows: the demo shows unpriced usage."""

CONFIG = """\
budget:
  monthly_limit: 110.00
  currency: USD
  timezone: {timezone}
services:
  claude_code:
    paths: ["{folder}/claude/projects"]
    budget_limit: 50.00
  codex:
    paths: ["{folder}/codex"]
    billing: plan
  gemini_cli:
    paths: ["{folder}/gemini"]
  cursor:
    paths: ["{folder}/cursor/*.csv"]
  cloud:
    type: focus
    paths: ["{folder}/cloud/*.csv"]
    budget_limit: 30.00
subscriptions:
  - name: GitHub Copilot
    provider: GitHub
    amount: 10.00
    currency: USD
    period: monthly
    start: 2025-01-05
  - name: Docker Team
    provider: Docker
    amount: 9.00
    currency: USD
    period: monthly
    seats: 1
    start: 2025-03-01
  - name: ChatGPT Plus
    provider: OpenAI
    amount: 20.00
    currency: USD
    period: monthly
    start: 2025-06-14
  - name: qoins.dev
    provider: Domain registrar
    amount: 12.00
    currency: USD
    period: yearly
    start: {domain_start}
"""


def build_demo(folder: Path, now: dt.datetime, timezone: str = "UTC") -> Settings:
    """Write the demo's sources into ``folder``; return the settings that read them."""
    today = now.astimezone(dt.UTC).date()
    month = Month.of(today)
    _write_cloud(folder / "cloud", month.previous(), now)
    _write_cloud(folder / "cloud", month, now)
    _write_repositories(folder / "work")
    _write_claude_logs(folder / "claude" / "projects", folder / "work", now)
    _write_codex_logs(folder / "codex", folder / "work", now)
    _write_gemini_logs(folder / "gemini" / "tmp", folder / "work", now)
    _write_cursor_export(folder / "cursor", now)
    text = CONFIG.format(
        folder=folder.as_posix(),
        timezone=timezone,
        domain_start=(month.previous().first_day + dt.timedelta(days=19)).isoformat(),
    )
    return parse_config(text)


def _sample_rows() -> tuple[list[str], list[dict[str, str]]]:
    source = resources.files("qoins_tui").joinpath("demo/focus_sample_1.0.csv")
    reader = csv.DictReader(io.StringIO(source.read_text(encoding="utf-8"), newline=""))
    return list(reader.fieldnames or []), list(reader)


def _write_cloud(folder: Path, month: Month, now: dt.datetime) -> None:
    """The sample's September 2024 moved onto ``month``, cut at ``now``."""
    folder.mkdir(parents=True, exist_ok=True)
    columns, rows = _sample_rows()
    shift = month.first_day - SAMPLE_MONTH.first_day
    cutoff = now.astimezone(dt.UTC).replace(tzinfo=None)
    kept = []
    for row in rows:
        moved = dict(row)
        for column in TIME_COLUMNS:
            value = row.get(column, "NULL")
            if value in ("NULL", ""):
                continue
            moment = dt.datetime.fromisoformat(value) + shift
            moved[column] = moment.strftime("%Y-%m-%d %H:%M:%S")
        start = dt.datetime.fromisoformat(moved["ChargePeriodStart"])
        if start.date() >= month.end or start >= cutoff:
            continue
        moved["BillingPeriodStart"] = f"{month.first_day} 00:00:00"
        moved["BillingPeriodEnd"] = f"{month.end} 00:00:00"
        kept.append(moved)
    with (folder / f"focus-{month}.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, quoting=csv.QUOTE_MINIMAL)
        writer.writeheader()
        writer.writerows(kept)


def _write_repositories(work: Path) -> None:
    for name in PROJECTS:
        repo = work / name
        (repo / ".git").mkdir(parents=True, exist_ok=True)
        (repo / ".git" / "config").write_text(
            f'[remote "origin"]\n\turl = https://example.com/dev/{name}.git\n',
            encoding="utf-8",
        )


def _write_codex_logs(home: Path, work: Path, now: dt.datetime) -> None:
    """A Codex CLI session on most weekdays of the last 40 days, paid by a plan."""
    rng = random.Random(f"codex {now.date().isoformat()}")
    for back in range(40, 0, -1):
        moment = now - dt.timedelta(days=back)
        if moment.weekday() >= 5 or rng.random() < 0.3:
            continue
        clock = moment.replace(hour=rng.randint(9, 17), minute=rng.randint(0, 59))
        session = f"00000000-0000-4000-8000-{back:012d}"
        folder = home / "sessions" / f"{clock:%Y/%m/%d}"
        folder.mkdir(parents=True, exist_ok=True)
        cwd = str(work / rng.choice(PROJECTS))
        lines: list[dict[str, object]] = [
            _codex_line(clock, "session_meta", {"id": session, "cwd": cwd}),
            _codex_line(clock, "turn_context", {"model": "gpt-5-codex", "cwd": cwd}),
        ]
        total = [0, 0, 0, 0]
        for _ in range(rng.randint(4, 14)):
            clock += dt.timedelta(seconds=rng.randint(30, 300))
            cached = rng.randint(20000, 150000)
            last = [
                cached + rng.randint(1000, 12000),
                cached,
                rng.randint(500, 6000),
                0,
            ]
            last[3] = last[2] // 3
            total = [a + b for a, b in zip(total, last, strict=True)]
            info = {
                "total_token_usage": _codex_usage(total),
                "last_token_usage": _codex_usage(last),
            }
            lines.append(
                _codex_line(clock, "event_msg", {"type": "token_count", "info": info})
            )
        path = folder / f"rollout-{clock:%Y-%m-%dT%H-%M-%S}-{session}.jsonl"
        path.write_text(
            "".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8"
        )


def _codex_line(
    moment: dt.datetime, kind: str, payload: dict[str, object]
) -> dict[str, object]:
    stamp = moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {"timestamp": stamp, "type": kind, "payload": payload}


def _codex_usage(values: list[int]) -> dict[str, int]:
    return {
        "input_tokens": values[0],
        "cached_input_tokens": values[1],
        "output_tokens": values[2],
        "reasoning_output_tokens": values[3],
        "total_tokens": values[0] + values[2],
    }


def _write_claude_logs(projects: Path, work: Path, now: dt.datetime) -> None:
    """About 45 days of Claude Code sessions over three git repositories."""
    rng = random.Random(now.date().isoformat())
    start = now - dt.timedelta(days=45)
    day = 0
    while start + dt.timedelta(days=day) < now:
        moment = start + dt.timedelta(days=day)
        sessions = rng.randint(0, 2) if moment.weekday() >= 5 else rng.randint(1, 4)
        if now - moment < dt.timedelta(days=8):
            sessions += 2
        for index in range(sessions):
            project = rng.choice(PROJECTS)
            folder = projects / f"-demo-work-{project}"
            folder.mkdir(parents=True, exist_ok=True)
            session = f"{moment:%Y%m%d}-{index}-{project}"
            _write_session(
                folder / f"{session}.jsonl", session, moment, work / project, now, rng
            )
        day += 1


def _write_session(
    path: Path,
    session: str,
    moment: dt.datetime,
    cwd: Path,
    now: dt.datetime,
    rng: random.Random,
) -> None:
    lines = []
    clock = moment.replace(hour=rng.randint(8, 18), minute=rng.randint(0, 59))
    model = rng.choices([m for m, _ in MODELS], weights=[w for _, w in MODELS])[0]
    for turn in range(rng.randint(6, 20)):
        clock += dt.timedelta(seconds=rng.randint(20, 240))
        if clock >= now:
            break
        usage = {
            "input_tokens": rng.randint(2, 400),
            "output_tokens": rng.randint(80, 2500),
            "cache_creation_input_tokens": rng.randint(0, 6000),
            "cache_read_input_tokens": rng.randint(5000, 90000),
        }
        stamp = clock.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        for block in range(rng.randint(1, 3)):
            lines.append(
                {
                    "type": "assistant",
                    "uuid": f"{session}-{turn}-{block}",
                    "sessionId": session,
                    "timestamp": stamp,
                    "cwd": str(cwd),
                    "requestId": f"req_{session}_{turn}",
                    "message": {
                        "id": f"msg_{session}_{turn}",
                        "model": model,
                        "content": [{"type": "text", "text": "(demo)"}],
                        "usage": usage,
                    },
                }
            )
    if lines:
        with path.open("w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(json.dumps(line) + "\n")


def _write_gemini_logs(tmp: Path, work: Path, now: dt.datetime) -> None:
    """A Gemini CLI session on most weekdays of the last 30 days, in the older
    whole-file JSON layout, with the project root file beside the chats."""
    rng = random.Random(f"gemini {now.date().isoformat()}")
    for day in range(30, -1, -1):
        moment = now - dt.timedelta(days=day)
        if moment.weekday() >= 5 or rng.random() < 0.3:
            continue
        project = rng.choice(PROJECTS)
        chats = tmp / project / "chats"
        chats.mkdir(parents=True, exist_ok=True)
        (tmp / project / ".project_root").write_text(str(work / project))
        clock = moment.replace(hour=rng.randint(8, 17), minute=rng.randint(0, 59))
        session = f"gemini-{moment:%Y%m%d}-{project}"
        messages = []
        for turn in range(rng.randint(3, 12)):
            clock += dt.timedelta(seconds=rng.randint(30, 300))
            if clock >= now:
                break
            prompt = rng.randint(4000, 60000)
            cached = rng.randint(0, prompt // 2)
            output = rng.randint(100, 3000)
            thoughts = rng.randint(0, 1500)
            messages.append(
                {
                    "id": f"{session}-{turn}",
                    "type": "gemini",
                    "timestamp": clock.astimezone(dt.UTC).isoformat(),
                    "content": "(demo)",
                    "model": "gemini-2.5-pro" if turn % 4 else "gemini-2.5-flash",
                    "tokens": {
                        "input": prompt,
                        "output": output,
                        "cached": cached,
                        "thoughts": thoughts,
                        "tool": 0,
                        "total": prompt + output + thoughts,
                    },
                }
            )
        if messages:
            (chats / f"session-{session}.json").write_text(
                json.dumps(
                    {
                        "sessionId": session,
                        "startTime": messages[0]["timestamp"],
                        "lastUpdated": messages[-1]["timestamp"],
                        "messages": messages,
                    }
                )
            )


CURSOR_HEADER = (
    "Date",
    "Kind",
    "Model",
    "Max Mode",
    "Input (w/ Cache Write)",
    "Input (w/o Cache Write)",
    "Cache Read",
    "Output Tokens",
    "Total Tokens",
    "Cost",
)


def _write_cursor_export(folder: Path, now: dt.datetime) -> None:
    """A Cursor usage export of the last 30 days: requests the plan includes, and
    from the last ten days on-demand requests billed by the request."""
    rng = random.Random(f"cursor {now.date().isoformat()}")
    rows = []
    for day in range(30, -1, -1):
        moment = now - dt.timedelta(days=day)
        for _ in range(rng.randint(0, 6) if moment.weekday() < 5 else 0):
            when = moment.replace(hour=rng.randint(8, 18), minute=rng.randint(0, 59))
            if when >= now:
                continue
            write, plain = rng.randint(0, 9000), rng.randint(500, 20000)
            read, output = rng.randint(0, 120000), rng.randint(100, 4000)
            on_demand = day < 10 and rng.random() < 0.4
            cost = (write * 3.75 + plain * 3 + read * 0.3 + output * 15) / 1_000_000
            rows.append(
                (
                    when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "On-Demand" if on_demand else "Included",
                    "claude-4.5-sonnet",
                    "No",
                    str(write),
                    str(plain),
                    str(read),
                    str(output),
                    str(write + plain + read + output),
                    f"${cost:.2f}" if on_demand else "Included",
                )
            )
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "usage-events.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CURSOR_HEADER)
        writer.writerows(sorted(rows, reverse=True))
