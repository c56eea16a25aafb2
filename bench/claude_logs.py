#!/usr/bin/env python3
"""Benchmark: reading a large Claude Code log tree, QOINs against ccusage.

What it measures. A Claude Code log tree of about ``--size-mb`` MiB (default 1024)
is generated under ``bench/.work/claude/`` (cached): JSON-lines sessions of several
projects over 60 days, in the shape Claude Code writes them (SOURCES.md section 5):
user lines with prompts and tool results (and their ``toolUseResult`` copies),
assistant lines with thinking, text and tool_use content, one line per content
block repeating the response's ``message.id``, ``requestId`` and ``message.usage``,
some streaming snapshots with a smaller ``output_tokens`` before the final line,
sidechain (subagent) lines inline and in ``<session>/subagents/`` files,
``<synthetic>`` and API-error lines, summary and file-history lines, and resumed
sessions whose new file repeats earlier lines. Models are claude-sonnet-4-5,
claude-opus-4-5 and claude-haiku-4-5 (dated ids), which genai-prices and
ccusage both price at Anthropic's published rates; every request stays under
200,000 total input tokens (input + cache read + cache write), above which the
two price tables differ. The generator also writes the ground truth: each unique
response counted once, priced with Decimal at the published rates.

Then, in one run and with the tree in the page cache:

  (a) QOINs' first refresh of the tree: ``run_refresh`` with one source,
      ``claude_code``, found through ``CLAUDE_CONFIG_DIR``, into a new store;
  (b) QOINs' second refresh with nothing changed;
  (c) ccusage 20.0.24 (npm ``ccusage`` and its native package, installed into
      ``bench/.work/npm``): ``ccusage claude daily --json --offline --breakdown
      --timezone UTC --mode calculate`` with ``TZ=UTC`` and the same
      ``CLAUDE_CONFIG_DIR``.

Each runs in its own process; wall time is from start to exit, peak memory the
process's ``ru_maxrss``; for QOINs the time inside ``run_refresh`` is shown too.
Then tokens (input, output, cache write, cache read) and dollars per UTC day and
model are compared: QOINs' store (charges of source ``claude_code`` grouped by
the UTC day of ``period_start`` and model), ccusage's JSON and the ground truth.

Goals:

  * QOINs' first refresh is faster than ccusage's read of the same tree;
  * QOINs' second refresh, with nothing changed, takes under 1 s;
  * tokens per day and model are equal in QOINs and ccusage (and the truth);
  * dollars per day are equal. ccusage adds costs in binary floating point and
    prints them unrounded, so differences under $0.000001 count as equal (and
    the largest is printed); QOINs keeps exact decimals.

It is not a test: it never fails because a goal is missed; it says so.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import datetime as dt
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from benchlib import (
    MB,
    ROOT,
    WORK,
    high_water_mb,
    machine_line,
    print_statements,
    python_child,
    qoins_revision,
    run_measured,
    statement_timer,
    verdict,
)

CLAUDE_WORK = WORK / "claude"
NPM_PREFIX = WORK / "npm"
CCUSAGE_VERSION = "20.0.24"
GENERATOR_VERSION = 1
"""Bump when the generated tree's shape changes, so cached trees are made again."""

SOURCE = "claude_code"
SECOND_REFRESH_GOAL_S = 1.0
FLOAT_TOLERANCE = Decimal("0.000001")
MIB = 1 << 20

# Anthropic's published rates in USD per million tokens: input, output, 5-minute
# cache write, 1-hour cache write, cache read (platform.claude.com pricing page).
RATE_KINDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
PUBLISHED_RATES: dict[str, dict[str, Decimal]] = {
    "claude-sonnet-4-5-20250929": dict(
        zip(RATE_KINDS, map(Decimal, ("3", "15", "3.75", "6", "0.30")), strict=True)
    ),
    "claude-opus-4-5-20251101": dict(
        zip(RATE_KINDS, map(Decimal, ("5", "25", "6.25", "10", "0.50")), strict=True)
    ),
    "claude-haiku-4-5-20251001": dict(
        zip(RATE_KINDS, map(Decimal, ("1", "5", "1.25", "2", "0.10")), strict=True)
    ),
}
SONNET, OPUS, HAIKU = PUBLISHED_RATES

WINDOW_START = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
WINDOW_DAYS = 60
WINDOW_END = WINDOW_START + dt.timedelta(days=WINDOW_DAYS)
CONTEXT_LIMIT = 190_000
"""A request's total input tokens stay below this (and so below 200,000)."""
TOOL_RESULT_TOKEN_CAP = 25_000

PROJECTS = (
    ("qoins", 5),
    ("billing-api", 4),
    ("web-dashboard", 3),
    ("infra", 2),
    ("ml-pipeline", 2),
    ("mobile-app", 1),
    ("docs-site", 1),
    ("data-etl", 1),
)
VERSIONS = ("1.0.88", "2.0.14", "2.0.37", "2.1.3")
_WORD_TEXT = (
    "def return import self None True False class async await for while if else "
    "elif try except finally with as lambda yield from raise assert pass break "
    "continue const let function => {} [] () ; : , . = == != <= >= + - * / % "
    "the a of to and in is it that this on for be are not store refresh charge "
    "budget cost token model usage session file path line read write query select "
    "duckdb table column value error warning test fixture config source collector "
    "é ü ß 中文 日本語 ✓ → … 🚀 \"quoted\" 'single' back\\slash tab\there"
)
WORDS = _WORD_TEXT.split(" ")


# -- generating the tree ----------------------------------------------------------


class TextPool:
    """Some MB of code-like text (quotes, escapes, non-ASCII); slices fill lines."""

    def __init__(self, rng: random.Random, size: int = 4 * MIB) -> None:
        parts: list[str] = []
        length = 0
        while length < size:
            words = rng.choices(WORDS, k=12)
            indent = " " * rng.choice((0, 4, 8, 12))
            line = indent + " ".join(words) + "\n"
            parts.append(line)
            length += len(line)
        self.text = "".join(parts)

    def take(self, rng: random.Random, chars: int) -> str:
        chars = max(1, min(chars, len(self.text) - 1))
        start = rng.randrange(len(self.text) - chars)
        return self.text[start : start + chars]


@dataclasses.dataclass
class Context:
    """One conversation's prompt cache: what is cached and what was added since."""

    kind: str
    """``5m``, ``1h``, ``mixed`` (both cache writes) or ``flat`` (no split object)."""
    cached: int = 0
    pending: int = 0
    last: dt.datetime | None = None


@dataclasses.dataclass
class Truth:
    """What the generator wrote, counted once per unique response."""

    by_day_model: dict[tuple[str, str], list[int]] = dataclasses.field(
        default_factory=dict
    )
    lines: int = 0
    responses: int = 0
    assistant_lines: int = 0
    snapshot_lines: int = 0
    sidechain_responses: int = 0
    synthetic_lines: int = 0
    api_error_lines: int = 0
    resumed_files: int = 0
    repeated_lines: int = 0
    truncated_lines: int = 0
    files: int = 0
    bytes: int = 0
    example: dict[str, Any] | None = None

    def count(self, day: str, model: str, usage: dict[str, int]) -> None:
        row = self.by_day_model.setdefault((day, model), [0, 0, 0, 0, 0, 0])
        row[0] += 1
        for index, kind in enumerate(RATE_KINDS, start=1):
            row[index] += usage[kind]
        self.responses += 1


def iso(moment: dt.datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def hex_id(rng: random.Random, prefix: str, length: int = 24) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(rng.choices(alphabet, k=length))


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class SessionWriter:
    """Writes one session file (and its subagent files) and counts the truth."""

    def __init__(
        self,
        tree: Path,
        rng: random.Random,
        pool: TextPool,
        truth: Truth,
        project: str,
        start: dt.datetime,
    ) -> None:
        self.rng = rng
        self.pool = pool
        self.truth = truth
        self.project = project
        self.cwd = f"/home/dev/src/{project}"
        self.folder = tree / "projects" / ("-home-dev-src-" + project)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.session_id = new_uuid(rng)
        self.version = rng.choice(VERSIONS)
        self.speed = self.version.startswith("2.1")
        self.branch = rng.choice(("main", "main", "feature/budgets", "fix/refresh"))
        self.model = rng.choices((SONNET, OPUS, HAIKU), weights=(55, 35, 10))[0]
        kind = rng.choices(("1h", "5m", "mixed", "flat"), weights=(4, 3, 1, 2))[0]
        self.context = Context(kind)
        self.clock = start
        self.parent: str | None = None
        self.sidechain = False
        self.agent_id: str | None = None
        self.path = self.folder / f"{self.session_id}.jsonl"
        self.handle: TextIO = self.path.open("w", encoding="utf-8", buffering=MIB)
        self.written: list[str] = []
        self.keep_lines = 0
        truth.files += 1

    # lines ----------------------------------------------------------------

    def emit(self, line: dict[str, Any]) -> None:
        text = json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"
        self.handle.write(text)
        self.truth.lines += 1
        self.truth.bytes += len(text.encode("utf-8"))
        if len(self.written) < self.keep_lines:
            self.written.append(text)

    def base(self, kind: str, moment: dt.datetime) -> dict[str, Any]:
        line: dict[str, Any] = {
            "parentUuid": self.parent,
            "isSidechain": self.sidechain,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": self.version,
            "gitBranch": self.branch,
        }
        if self.agent_id is not None:
            line["agentId"] = self.agent_id
        line["type"] = kind
        return line

    def finish(self, line: dict[str, Any], moment: dt.datetime) -> dict[str, Any]:
        own = new_uuid(self.rng)
        line["uuid"] = own
        line["timestamp"] = iso(moment)
        self.parent = own
        return line

    def tick(self, low: float, high: float) -> dt.datetime:
        self.clock += dt.timedelta(seconds=self.rng.uniform(low, high))
        return self.clock

    # the conversation -----------------------------------------------------

    def prompt(self) -> None:
        moment = self.tick(5, 400)
        text = self.pool.take(self.rng, int(self.rng.lognormvariate(5.5, 1.0)))
        line = self.base("user", moment)
        line["message"] = {"role": "user", "content": text}
        self.emit(self.finish(line, moment))
        self.context.pending += max(1, len(text) // 4)
        if self.version >= "2.0" and self.rng.random() < 0.5:
            self.emit(
                {
                    "type": "file-history-snapshot",
                    "messageId": self.parent,
                    "snapshot": {
                        "messageId": self.parent,
                        "trackedFileBackups": {},
                        "timestamp": iso(moment),
                    },
                    "isSnapshotUpdate": False,
                }
            )

    def usage(self, moment: dt.datetime) -> tuple[dict[str, int], dict[str, Any]]:
        """The next request's tokens, from the cache state; never 200k input or more."""
        ctx, rng = self.context, self.rng
        new = max(ctx.pending, 1)
        ttl = 3600 if ctx.kind in ("1h", "mixed") else 300
        if ctx.last is not None and (moment - ctx.last).total_seconds() > ttl:
            new += ctx.cached
            ctx.cached = 0
        if ctx.cached + new > CONTEXT_LIMIT:
            ctx.cached = 0
            new = rng.randint(12_000, 40_000)
        if ctx.last is None:
            ctx.cached = rng.choice((0, 0, 11_000, 14_500))
            new += rng.randint(3_000, 22_000)
        uncached = rng.choice((1, 2, 3, 4, 5, 6, 8, 10))
        if rng.random() < 0.05:
            uncached = rng.randint(20, 3_000)
        uncached = min(uncached, new)
        write = new - uncached
        read = ctx.cached
        output = max(1, min(int(rng.lognormvariate(5.4, 1.3)), 32_000))
        if ctx.kind == "1h":
            w5, w1 = 0, write
        elif ctx.kind == "mixed":
            w1 = rng.randint(0, write)
            w5 = write - w1
        else:
            w5, w1 = write, 0
        assert uncached + read + write < 200_000
        ctx.cached = read + write
        ctx.pending = output
        ctx.last = moment
        counted = {
            "input": uncached,
            "output": output,
            "cache_write_5m": w5,
            "cache_write_1h": w1,
            "cache_read": read,
        }
        usage: dict[str, Any] = {
            "input_tokens": uncached,
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
        }
        if ctx.kind != "flat":
            usage["cache_creation"] = {
                "ephemeral_5m_input_tokens": w5,
                "ephemeral_1h_input_tokens": w1,
            }
        usage["output_tokens"] = output
        usage["service_tier"] = "standard"
        if self.speed:
            usage["speed"] = "standard"
        return counted, usage

    def blocks(self, model: str, final: bool) -> list[dict[str, Any]]:
        rng, pool = self.rng, self.pool
        blocks: list[dict[str, Any]] = []
        if model != HAIKU and rng.random() < 0.3:
            signature = base64.b64encode(rng.randbytes(rng.randint(200, 1200)))
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": pool.take(rng, int(rng.lognormvariate(6.5, 0.8))),
                    "signature": signature.decode(),
                }
            )
        if rng.random() < 0.7 or final:
            blocks.append(
                {
                    "type": "text",
                    "text": pool.take(rng, int(rng.lognormvariate(5.8, 1.0))),
                }
            )
        if not final:
            for _ in range(rng.choices((1, 2, 3), weights=(7, 2, 1))[0]):
                blocks.append(self.tool_use())
        return blocks

    def tool_use(self) -> dict[str, Any]:
        rng = self.rng
        name = rng.choices(
            ("Read", "Bash", "Edit", "Grep", "Glob", "Write", "TodoWrite", "Task"),
            weights=(30, 25, 15, 10, 5, 5, 5, 2 if not self.sidechain else 0),
        )[0]
        path = f"{self.cwd}/src/{rng.choice(WORDS[:20])}_{rng.randint(1, 99)}.py"
        inputs: dict[str, Any] = {
            "Read": {"file_path": path},
            "Bash": {"command": f"pytest -q tests/test_{rng.randint(1, 50)}.py"},
            "Edit": {
                "file_path": path,
                "old_string": self.pool.take(rng, rng.randint(20, 800)),
                "new_string": self.pool.take(rng, rng.randint(20, 800)),
            },
            "Grep": {"pattern": rng.choice(WORDS[:40]), "path": self.cwd},
            "Glob": {"pattern": "**/*.py"},
            "Write": {
                "file_path": path,
                "content": self.pool.take(rng, rng.randint(200, 6000)),
            },
            "TodoWrite": {"todos": [{"content": "refresh", "status": "pending"}]},
            "Task": {
                "description": "explore the store",
                "prompt": self.pool.take(rng, rng.randint(100, 1500)),
                "subagent_type": "general-purpose",
            },
        }
        return {
            "type": "tool_use",
            "id": hex_id(rng, "toolu_01"),
            "name": name,
            "input": inputs[name],
        }

    def respond(self, final: bool) -> list[dict[str, Any]]:
        """One model response: a line per content block, maybe streaming snapshots."""
        rng = self.rng
        model = self.model
        moment = self.tick(1.5, 25)
        counted, usage = self.usage(moment)
        blocks = self.blocks(model, final)
        message_id = hex_id(rng, "msg_01")
        request_id = hex_id(rng, "req_011C")
        final_output = usage["output_tokens"]
        lines = [(block, final_output) for block in blocks]
        if rng.random() < 0.3:
            # Streaming snapshots: early lines still carry a growing output count.
            if len(blocks) == 1:
                lines.insert(0, (blocks[0], rng.randint(1, final_output)))
            else:
                for index in range(rng.randint(1, len(blocks) - 1)):
                    lines[index] = (blocks[index], rng.randint(1, final_output))
        stop = "end_turn" if final else "tool_use"
        # Keep every line of a response on the response's UTC day.
        span = dt.timedelta(milliseconds=400 * (len(lines) + 1))
        if (moment + span).date() != moment.date():
            moment = dt.datetime.combine(
                moment.date() + dt.timedelta(days=1), dt.time(0, 0, 1), tzinfo=dt.UTC
            )
        for index, (block, output) in enumerate(lines):
            line_usage = dict(usage, output_tokens=output)
            if output < final_output:
                self.truth.snapshot_lines += 1
            at = moment + dt.timedelta(milliseconds=rng.randint(150, 400) * index)
            line = self.base("assistant", at)
            line["message"] = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [block],
                "stop_reason": stop if index == len(lines) - 1 else None,
                "stop_sequence": None,
                "usage": line_usage,
            }
            line["requestId"] = request_id
            self.emit(self.finish(line, at))
            self.truth.assistant_lines += 1
        self.clock = moment + span
        day = moment.date().isoformat()
        self.truth.count(day, model, counted)
        if self.sidechain:
            self.truth.sidechain_responses += 1
        if self.truth.example is None and all(counted.values()):
            self.truth.example = {
                "record_key": f"{message_id}:{request_id}",
                "model": model,
                "day": day,
                "usage": usage,
                "counted": counted,
            }
        return [b for b in blocks if b["type"] == "tool_use"]

    def tool_result(self, tool: dict[str, Any], tree: Path) -> None:
        rng = self.rng
        if tool["name"] == "Task" and not self.sidechain:
            text = self.subagent(tree)
        else:
            size = int(rng.lognormvariate(7.3, 1.6))
            text = self.pool.take(rng, min(size, 1_500_000))
        moment = self.tick(0.1, 20)
        line = self.base("user", moment)
        line["message"] = {
            "role": "user",
            "content": [
                {
                    "tool_use_id": tool["id"],
                    "type": "tool_result",
                    "content": text,
                    "is_error": rng.random() < 0.03,
                }
            ],
        }
        self.finish(line, moment)
        if tool["name"] == "Bash":
            line["toolUseResult"] = {
                "stdout": text,
                "stderr": "",
                "interrupted": False,
                "isImage": False,
            }
        elif tool["name"] == "Read":
            lines = text.count("\n") + 1
            line["toolUseResult"] = {
                "type": "text",
                "file": {
                    "filePath": tool["input"]["file_path"],
                    "content": text,
                    "numLines": lines,
                    "startLine": 1,
                    "totalLines": lines,
                },
            }
        self.emit(line)
        self.context.pending += min(max(1, len(text) // 4), TOOL_RESULT_TOKEN_CAP)

    def subagent(self, tree: Path) -> str:
        """A Task tool's subagent: sidechain responses, inline or in its own file."""
        rng = self.rng
        saved = (self.handle, self.parent, self.context, self.model, self.keep_lines)
        own_file = self.version >= "2.0" and rng.random() < 0.7
        if own_file:
            agent = rng.getrandbits(32).to_bytes(4, "big").hex()
            folder = self.folder / self.session_id / "subagents"
            folder.mkdir(parents=True, exist_ok=True)
            self.handle = (folder / f"agent-{agent}.jsonl").open(
                "w", encoding="utf-8", buffering=MIB
            )
            self.agent_id = agent
            self.keep_lines = 0
            self.truth.files += 1
        self.sidechain = True
        self.parent = None
        self.context = Context(self.context.kind)
        if rng.random() < 0.5:
            self.model = HAIKU
        self.prompt()
        steps = rng.randint(3, 15)
        for step in range(steps):
            tools = self.respond(final=step == steps - 1)
            for tool in tools:
                self.tool_result(tool, tree)
        if own_file:
            self.handle.close()
        self.sidechain = False
        self.agent_id = None
        self.handle, self.parent, self.context, self.model, self.keep_lines = saved
        return self.pool.take(rng, rng.randint(200, 4000))

    def odd_lines(self) -> None:
        """Lines that are not usage: a synthetic reply, an API error."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.012 or roll > 0.997:
            error = roll > 0.997
            moment = self.tick(0.5, 3)
            line = self.base("assistant", moment)
            line["message"] = {
                "id": new_uuid(rng),
                "model": "<synthetic>",
                "role": "assistant",
                "stop_reason": "stop_sequence",
                "stop_sequence": "",
                "type": "message",
                "usage": {
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                },
                "content": [
                    {
                        "type": "text",
                        "text": "API Error: 529 overloaded"
                        if error
                        else "No response requested.",
                    }
                ],
            }
            if error:
                line["isApiErrorMessage"] = True
                self.truth.api_error_lines += 1
            else:
                self.truth.synthetic_lines += 1
            self.emit(self.finish(line, moment))

    def run(self, target_bytes: int, tree: Path) -> None:
        rng = self.rng
        if rng.random() < 0.3:
            self.emit(
                {
                    "type": "summary",
                    "summary": self.pool.take(rng, 60),
                    "leafUuid": new_uuid(rng),
                }
            )
        start_bytes = self.truth.bytes
        while self.truth.bytes - start_bytes < target_bytes:
            if self.clock >= WINDOW_END - dt.timedelta(hours=1):
                break
            if rng.random() < 0.02:
                self.clock += dt.timedelta(minutes=rng.uniform(20, 240))
            self.prompt()
            self.odd_lines()
            steps = rng.choices((1, 2, 4, 8, 16), weights=(2, 3, 4, 3, 1))[0]
            for step in range(steps):
                tools = self.respond(final=step == steps - 1)
                for tool in tools:
                    self.tool_result(tool, tree)

    def close(self, truncate: bool) -> None:
        if truncate:
            # A killed session: its last line stops half way, without a newline. It
            # repeats part of an earlier line, so the truth does not change.
            self.handle.write('{"parentUuid":"' + str(self.parent) + '","isSidech')
            self.truth.truncated_lines += 1
        self.handle.close()


def generate_tree(size_mb: int, seed: int, truncated: int, tree: Path) -> None:
    """Write the tree and its truth file (last, so a tree with one is complete)."""
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    rng = random.Random(seed)
    pool = TextPool(rng)
    truth = Truth()
    target = size_mb * MIB
    names = [name for name, _ in PROJECTS]
    weights = [weight for _, weight in PROJECTS]
    sessions = 0
    while truth.bytes < target:
        day = rng.randrange(WINDOW_DAYS)
        hour = rng.choices(range(24), weights=[1] * 6 + [4] * 16 + [3, 2])[0]
        start = WINDOW_START + dt.timedelta(
            days=day, hours=hour, seconds=rng.uniform(0, 3600)
        )
        project = rng.choices(names, weights=weights)[0]
        writer = SessionWriter(tree, rng, pool, truth, project, start)
        resumed = rng.random() < 0.05
        if resumed:
            writer.keep_lines = rng.randint(40, 600)
        size = int(min(max(rng.lognormvariate(14.7, 0.9), 50_000), 40 * MIB))
        writer.run(min(size, target - truth.bytes + 1), tree)
        writer.close(truncate=sessions < truncated)
        sessions += 1
        if (
            resumed
            and writer.written
            and writer.clock < WINDOW_END - dt.timedelta(hours=14)
        ):
            later = writer.clock + dt.timedelta(hours=rng.uniform(1, 12))
            follow = SessionWriter(tree, rng, pool, truth, project, later)
            follow.model, follow.version = writer.model, writer.version
            follow.speed, follow.context.kind = writer.speed, writer.context.kind
            for text in writer.written:
                follow.handle.write(text)
                truth.lines += 1
                truth.repeated_lines += 1
                truth.bytes += len(text.encode("utf-8"))
            truth.resumed_files += 1
            follow.run(int(size * rng.uniform(0.1, 0.5)), tree)
            follow.close(truncate=False)
    write_truth(truth, tree)


def truth_path(tree: Path) -> Path:
    return tree.with_name(tree.name + ".truth.json")


def write_truth(truth: Truth, tree: Path) -> None:
    data = dataclasses.asdict(truth)
    data["by_day_model"] = [
        [day, model, *values]
        for (day, model), values in sorted(truth.by_day_model.items())
    ]
    partial = truth_path(tree).with_suffix(".partial")
    partial.write_text(json.dumps(data, indent=1))
    partial.rename(truth_path(tree))


def load_truth(tree: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(truth_path(tree).read_text())
    return data


def ensure_tree(size_mb: int, seed: int, truncated: int) -> tuple[Path, float | None]:
    """The cached tree for these options, generated now (in a child) when missing."""
    tree = (
        CLAUDE_WORK / f"tree-{size_mb}mb-seed{seed}-t{truncated}-v{GENERATOR_VERSION}"
    )
    if truth_path(tree).exists():
        return tree, None
    CLAUDE_WORK.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    subprocess.run(
        python_child(
            __file__,
            "--child",
            "generate",
            "--size-mb",
            str(size_mb),
            "--seed",
            str(seed),
            "--truncated-files",
            str(truncated),
            "--tree",
            str(tree),
        ),
        check=True,
        cwd=ROOT,
    )
    return tree, time.perf_counter() - started


def tree_files(tree: Path) -> Iterator[Path]:
    return (path for path in (tree / "projects").rglob("*.jsonl") if path.is_file())


def warm(tree: Path) -> int:
    """Read every file once, so that both readers find the tree in the page cache."""
    total = 0
    for path in tree_files(tree):
        with path.open("rb") as handle:
            while chunk := handle.read(MIB):
                total += len(chunk)
    return total


# -- QOINs' refresh, in a child ---------------------------------------------------


def refresh_child(db: Path) -> None:
    """One ``run_refresh`` of the Claude Code source; figures as one JSON line."""
    from qoins_tui.config import BudgetConfig, Settings, SourceConfig
    from qoins_tui.refresh import run_refresh
    from qoins_tui.store import Store

    settings = Settings(
        budget=BudgetConfig(timezone="UTC"),
        sources=(SourceConfig(SOURCE, SOURCE, {}),),
    )
    log: list[dict[str, Any]] = []
    with statement_timer(log):
        started = time.perf_counter()
        results = run_refresh(settings, Store(db), only=[SOURCE])
        seconds = time.perf_counter() - started
    result = results[0]
    counts = dataclasses.asdict(result.counts)
    counts["notes"] = len(counts["notes"])
    print(
        json.dumps(
            {
                "seconds": seconds,
                "ok": result.ok,
                "error": result.error,
                "summary": result.summary(),
                "counts": counts,
                "hwm_mb": high_water_mb(),
                "statements": log,
            }
        )
    )


def run_refresh_child(tree: Path, db: Path) -> dict[str, Any]:
    env = dict(os.environ, CLAUDE_CONFIG_DIR=str(tree), TZ="UTC")
    measured = run_measured(
        python_child(__file__, "--child", "refresh", "--db", str(db)), env=env
    )
    if not measured.ok or not measured.figures:
        return {"failed": f"exit code {measured.exit_code}"}
    figures = measured.figures
    figures["peak_mb"] = measured.peak_mb
    figures["process_seconds"] = measured.wall_s
    return figures


def remove_database(db: Path) -> None:
    for stale in (db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)


def qoins_daily(db: Path) -> dict[tuple[str, str], list[Any]]:
    """Charges of the Claude Code source by UTC day of ``period_start`` and model."""
    from qoins_tui.store import Store

    with Store(db).connect() as con:
        rows = con.execute(
            """SELECT strftime(timezone('UTC', period_start), '%Y-%m-%d') AS day,
                      model, count(*),
                      sum(input_tokens), sum(output_tokens),
                      sum(cache_write_5m_tokens), sum(cache_write_1h_tokens),
                      sum(cache_read_tokens), sum(billed_cost),
                      count(*) FILTER (WHERE cost_basis = 'unpriced')
               FROM charges WHERE source = ?
               GROUP BY ALL ORDER BY ALL""",
            [SOURCE],
        ).fetchall()
    return {(row[0], row[1]): list(row[2:]) for row in rows}


def qoins_charge(db: Path, record_key: str) -> tuple[Any, ...] | None:
    from qoins_tui.store import Store

    with Store(db).connect() as con:
        rows = con.execute(
            """SELECT billed_cost, input_tokens, output_tokens, cache_write_5m_tokens,
                      cache_write_1h_tokens, cache_read_tokens, price_version
               FROM charges WHERE source = ? AND record_key = ?""",
            [SOURCE, record_key],
        ).fetchall()
    return tuple(rows[0]) if rows else None


# -- ccusage ----------------------------------------------------------------------


def native_package() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}
    return f"@ccusage/ccusage-linux-{arch.get(machine, machine)}"


def ensure_ccusage() -> tuple[Path | None, str]:
    """The installed ccusage entry point, installing it with npm when missing."""
    entry = NPM_PREFIX / "node_modules" / ".bin" / "ccusage"
    wanted = ["ccusage@" + CCUSAGE_VERSION, f"{native_package()}@{CCUSAGE_VERSION}"]
    if not entry.exists():
        npm = shutil.which("npm")
        if npm is None:
            return None, "npm is not installed (needed: npm install " + " ".join(
                wanted
            ) + ")"
        NPM_PREFIX.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [npm, "install", "--prefix", str(NPM_PREFIX), "--no-audit", *wanted],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0 or not entry.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-8:]
            return None, (
                f"npm install --prefix {NPM_PREFIX} {' '.join(wanted)} failed "
                f"(exit code {done.returncode}):\n    " + "\n    ".join(tail)
            )
    try:
        version = subprocess.run(
            [str(entry), "--version"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{entry} --version could not run: {exc}"
    if version.returncode != 0:
        return None, (
            f"{entry} --version failed (exit code {version.returncode}): "
            f"{version.stderr.strip()[-400:]}"
        )
    return entry, version.stdout.strip()


def ccusage_command(entry: Path) -> list[str]:
    return [
        str(entry),
        "claude",
        "daily",
        "--json",
        "--offline",
        "--breakdown",
        "--timezone",
        "UTC",
        "--mode",
        "calculate",
    ]


def run_ccusage(entry: Path, tree: Path) -> dict[str, Any]:
    env = dict(os.environ, CLAUDE_CONFIG_DIR=str(tree), TZ="UTC", NO_COLOR="1")
    measured = run_measured(
        ccusage_command(entry), env=env, cwd=WORK, json_output=False
    )
    if not measured.ok:
        return {"failed": f"exit code {measured.exit_code}"}
    try:
        report: dict[str, Any] = json.loads(measured.stdout)
    except ValueError as exc:
        return {"failed": f"its output is not JSON ({exc})"}
    return {
        "seconds": measured.wall_s,
        "peak_mb": measured.peak_mb,
        "report": report,
    }


def ccusage_daily(report: dict[str, Any]) -> dict[tuple[str, str], list[Any]]:
    """ccusage's JSON by (day, model): input, output, cache write, cache read, cost."""
    result: dict[tuple[str, str], list[Any]] = {}
    for day in report.get("daily", []):
        for entry in day.get("modelBreakdowns", []):
            key = (day["date"], entry["modelName"])
            row = result.setdefault(key, [0, 0, 0, 0, Decimal(0)])
            row[0] += entry["inputTokens"]
            row[1] += entry["outputTokens"]
            row[2] += entry["cacheCreationTokens"]
            row[3] += entry["cacheReadTokens"]
            row[4] += Decimal(repr(entry["cost"]))
    return result


# -- the comparison -----------------------------------------------------------------


def truth_daily(truth: dict[str, Any]) -> dict[tuple[str, str], list[Any]]:
    """The ground truth by (day, model): responses, the four token sums and dollars."""
    result: dict[tuple[str, str], list[Any]] = {}
    for day, model, responses, i, o, w5, w1, r in truth["by_day_model"]:
        rates = PUBLISHED_RATES[model]
        cost = (
            i * rates["input"]
            + o * rates["output"]
            + w5 * rates["cache_write_5m"]
            + w1 * rates["cache_write_1h"]
            + r * rates["cache_read"]
        ) / Decimal(1_000_000)
        result[(day, model)] = [responses, i, o, w5 + w1, r, cost]
    return result


def compare(
    qoins: dict[tuple[str, str], list[Any]],
    cc: dict[tuple[str, str], list[Any]] | None,
    truth: dict[tuple[str, str], list[Any]],
) -> dict[str, Any]:
    """Print the per-day table and the mismatches; return the verdict figures."""
    keys = sorted(set(qoins) | set(truth) | set(cc or {}))
    days = sorted({day for day, _ in keys})
    zero4 = [0, 0, 0, 0]

    def q_tokens(key: tuple[str, str]) -> list[int]:
        row = qoins.get(key)
        if row is None:
            return zero4
        return [int(row[1]), int(row[2]), int(row[3] + row[4]), int(row[5])]

    def q_cost(key: tuple[str, str]) -> Decimal:
        row = qoins.get(key)
        return Decimal(row[6]) if row is not None and row[6] is not None else Decimal(0)

    def c_tokens(key: tuple[str, str]) -> list[int]:
        row = (cc or {}).get(key)
        return [int(v) for v in row[:4]] if row is not None else zero4

    def c_cost(key: tuple[str, str]) -> Decimal:
        row = (cc or {}).get(key)
        return Decimal(row[4]) if row is not None else Decimal(0)

    def t_tokens(key: tuple[str, str]) -> list[int]:
        row = truth.get(key)
        return [int(v) for v in row[1:5]] if row is not None else zero4

    def t_cost(key: tuple[str, str]) -> Decimal:
        row = truth.get(key)
        return Decimal(row[5]) if row is not None else Decimal(0)

    token_pairs_cc = sum(q_tokens(k) == c_tokens(k) for k in keys)
    token_pairs_truth = sum(q_tokens(k) == t_tokens(k) for k in keys)
    print(
        "\nPer UTC day, all models (tokens in millions; '=' means QOINs, ccusage and "
        "the truth agree for every model that day):"
    )
    header = (
        f"{'day':<10} {'resp.':>6} {'input':>7} {'output':>7} {'c.write':>8} "
        f"{'c.read':>8} {'tok':>3}  {'QOINs $':>12} {'ccusage $':>12} "
        f"{'truth $':>12} {'QOINs-cc $':>11}"
    )
    print(header)
    print("-" * len(header))
    max_day_diff_cc = Decimal(0)
    max_day_diff_truth = Decimal(0)
    max_pair_diff_cc = Decimal(0)
    for day in days:
        day_keys = [k for k in keys if k[0] == day]
        tokens = [sum(q_tokens(k)[i] for k in day_keys) for i in range(4)]
        responses = sum(int(qoins[k][0]) for k in day_keys if k in qoins)
        same = all(
            q_tokens(k) == t_tokens(k) and (cc is None or q_tokens(k) == c_tokens(k))
            for k in day_keys
        )
        q = sum((q_cost(k) for k in day_keys), Decimal(0))
        c = sum((c_cost(k) for k in day_keys), Decimal(0))
        t = sum((t_cost(k) for k in day_keys), Decimal(0))
        if cc is not None:
            max_day_diff_cc = max(max_day_diff_cc, abs(q - c))
            for k in day_keys:
                max_pair_diff_cc = max(max_pair_diff_cc, abs(q_cost(k) - c_cost(k)))
        max_day_diff_truth = max(max_day_diff_truth, abs(q - t))
        c_text = f"{c:12.6f}" if cc is not None else f"{'-':>12}"
        d_text = f"{q - c:+11.9f}" if cc is not None else f"{'-':>11}"
        print(
            f"{day:<10} {responses:>6,} {tokens[0] / 1e6:>7.3f} "
            f"{tokens[1] / 1e6:>7.3f} {tokens[2] / 1e6:>8.2f} "
            f"{tokens[3] / 1e6:>8.1f} {'=' if same else 'DIF':>3}  "
            f"{q:12.6f} {c_text} {t:12.6f} {d_text}"
        )

    print("\nPer model, whole window (tokens; dollars):")
    models = sorted({model for _, model in keys})
    for model in models:
        model_keys = [k for k in keys if k[1] == model]
        for label, tok, cost in (
            ("QOINs", q_tokens, q_cost),
            ("ccusage", c_tokens, c_cost),
            ("truth", t_tokens, t_cost),
        ):
            if label == "ccusage" and cc is None:
                continue
            sums = [sum(tok(k)[i] for k in model_keys) for i in range(4)]
            dollars = sum((cost(k) for k in model_keys), Decimal(0))
            print(
                f"  {model:<27} {label:<8} input {sums[0]:>12,}  output "
                f"{sums[1]:>12,}  cache write {sums[2]:>15,}  cache read "
                f"{sums[3]:>16,}  ${dollars:,.6f}"
            )

    mismatches = [
        k
        for k in keys
        if q_tokens(k) != t_tokens(k) or (cc is not None and q_tokens(k) != c_tokens(k))
    ]
    if mismatches:
        print(f"\n{len(mismatches)} (day, model) pairs whose tokens differ (first 15):")
        for k in mismatches[:15]:
            print(f"  {k[0]} {k[1]}")
            print(f"    QOINs   {q_tokens(k)}  ${q_cost(k)}")
            if cc is not None:
                print(f"    ccusage {c_tokens(k)}  ${c_cost(k)}")
            print(f"    truth   {t_tokens(k)}  ${t_cost(k)}")
    return {
        "pairs": len(keys),
        "token_pairs_cc": token_pairs_cc,
        "token_pairs_truth": token_pairs_truth,
        "max_day_diff_cc": max_day_diff_cc,
        "max_pair_diff_cc": max_pair_diff_cc,
        "max_day_diff_truth": max_day_diff_truth,
        "unpriced": sum(int(row[7]) for row in qoins.values()),
    }


def hand_check(example: dict[str, Any] | None, db: Path) -> None:
    """One response priced by hand from its log line and the published rates."""
    if example is None:
        return
    counted = example["counted"]
    rates = PUBLISHED_RATES[example["model"]]
    parts = [
        f"{counted[kind]:,} x ${rates[kind]}" for kind in RATE_KINDS if counted[kind]
    ]
    by_hand = sum(
        (counted[kind] * rates[kind] for kind in RATE_KINDS), Decimal(0)
    ) / Decimal(1_000_000)
    stored = qoins_charge(db, example["record_key"])
    print(f"\nOne response by hand ({example['model']}, {example['record_key']}):")
    print(f"  usage in the log line: {json.dumps(example['usage'])}")
    print(f"  (input, output, 5m write, 1h write, cache read) = {' + '.join(parts)}")
    print(f"  / 1,000,000 = ${by_hand}")
    if stored is None:
        print("  QOINs stored no charge with that key")
    else:
        same = "equal" if Decimal(stored[0]) == by_hand else "DIFFERENT"
        print(f"  QOINs stored ${stored[0]} ({stored[6]}): {same}")


def price_check() -> None:
    """QOINs' rates (config overrides, then genai-prices) against the published ones."""
    from qoins_tui.pricing import PriceBook

    book = PriceBook()
    print("\nQOINs' price table against Anthropic's published rates (USD per MTok):")
    for model, published in PUBLISHED_RATES.items():
        rates = book("anthropic", model, WINDOW_START.date())
        if rates is None:
            print(f"  {model}: QOINs has no price (unpriced)")
            continue
        same = all(rates.base[kind] == published[kind] for kind in RATE_KINDS)
        listed = ", ".join(f"{kind} {rates.base[kind]}" for kind in RATE_KINDS)
        tier = (
            f"; a tier above {rates.threshold:,} input tokens (unused here)"
            if rates.threshold is not None
            else ""
        )
        print(f"  {model}: {listed} -> {'equal' if same else 'DIFFERENT'}{tier}")


# -- main -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(
            "Measure QOINs' refresh of a generated ~1 GB Claude Code log tree "
            "against ccusage, and compare tokens and dollars per day and model. "
            "Goals: QOINs' first refresh faster than ccusage, second refresh "
            "under 1 s, equal tokens and dollars."
        )
    )
    parser.add_argument(
        "--size-mb", type=int, default=1024, help="size of the log tree in MiB"
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="random seed of the generated tree"
    )
    parser.add_argument(
        "--truncated-files",
        type=int,
        default=0,
        help="sessions whose last line is cut off (a killed session); default 0",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="first reads of each tool (new store each time); the best counts",
    )
    parser.add_argument(
        "--skip-ccusage", action="store_true", help="measure and check QOINs only"
    )
    parser.add_argument(
        "--child", choices=("generate", "refresh"), help=argparse.SUPPRESS
    )
    parser.add_argument("--tree", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "generate":
        generate_tree(args.size_mb, args.seed, args.truncated_files, args.tree)
        return 0
    if args.child == "refresh":
        refresh_child(args.db)
        return 0
    if args.size_mb < 1 or args.repeat < 1 or args.truncated_files < 0:
        parser.error("--size-mb and --repeat must be at least 1")

    print(f"Claude Code log benchmark: QOINs against ccusage {CCUSAGE_VERSION}")
    print(f"machine: {machine_line()}")
    print(f"QOINs: commit {qoins_revision()}")
    tree, made_in = ensure_tree(args.size_mb, args.seed, args.truncated_files)
    truth = load_truth(tree)
    files = sum(1 for _ in tree_files(tree))
    how = f"generated in {made_in:.0f} s" if made_in is not None else "cached"
    print(
        f"tree: {tree.relative_to(ROOT)} ({how}): {truth['bytes'] / MB:,.0f} MB in "
        f"{files:,} files, {truth['lines']:,} lines"
    )
    print(
        f"  {truth['responses']:,} unique responses in {truth['assistant_lines']:,} "
        f"assistant lines ({truth['snapshot_lines']:,} streaming snapshots), "
        f"{truth['sidechain_responses']:,} sidechain responses, "
        f"{truth['synthetic_lines']:,} <synthetic> and {truth['api_error_lines']:,} "
        f"API-error lines, {truth['resumed_files']:,} resumed sessions repeating "
        f"{truth['repeated_lines']:,} lines, {truth['truncated_lines']:,} cut-off "
        "last lines"
    )
    read = warm(tree)
    print(f"  read once to warm the page cache ({read / MB:,.0f} MB)")

    entry: Path | None = None
    cc_note = "skipped (--skip-ccusage)"
    if not args.skip_ccusage:
        entry, cc_note = ensure_ccusage()
        if entry is None:
            print(f"\nccusage could not be installed or run: {cc_note}")
        else:
            print(f"ccusage: {cc_note} ({' '.join(ccusage_command(entry)[1:])})")

    db = CLAUDE_WORK / "bench.duckdb"
    firsts: list[dict[str, Any]] = []
    ccs: list[dict[str, Any]] = []
    print(
        f"\n{'run':>3}  {'QOINs 1st refresh':>26}  {'peak':>8}  "
        f"{'ccusage':>9}  {'peak':>8}"
    )
    for run in range(1, args.repeat + 1):
        remove_database(db)
        first = run_refresh_child(tree, db)
        firsts.append(first)
        cc: dict[str, Any] = {"failed": cc_note}
        if entry is not None:
            cc = run_ccusage(entry, tree)
            ccs.append(cc)
        if "failed" in first:
            print(f"{run:>3}  QOINs' refresh failed: {first['failed']}")
            return 1
        cc_text = (
            f"{cc['seconds']:>7.2f} s  {cc['peak_mb']:>5.0f} MB"
            if "failed" not in cc
            else f"failed: {cc['failed']}"
        )
        print(
            f"{run:>3}  {first['process_seconds']:>7.2f} s "
            f"(run_refresh {first['seconds']:>6.2f} s)  {first['peak_mb']:>5.0f} MB  "
            f"{cc_text}"
        )
    seconds_runs = [run_refresh_child(tree, db) for _ in range(3)]
    failed = [r for r in seconds_runs if "failed" in r]
    if failed:
        print(f"QOINs' second refresh failed: {failed[0]['failed']}")
        return 1
    second = seconds_runs[0]
    print(
        "QOINs, refreshes with nothing changed: "
        + ", ".join(
            f"{r['seconds']:.3f} s ({r['process_seconds']:.2f} s process)"
            for r in seconds_runs
        )
    )
    best_first = min(firsts, key=lambda r: float(r["process_seconds"]))
    print(f"\nQOINs, first refresh:  {best_first['summary']}")
    print(f"QOINs, second refresh: {second['summary']}")
    if not best_first["ok"]:
        print(f"QOINs reported a problem: {best_first['error']}")

    ok_ccs = [c for c in ccs if "failed" not in c]
    cc_rows = ccusage_daily(ok_ccs[-1]["report"]) if ok_ccs else None
    figures = compare(qoins_daily(db), cc_rows, truth_daily(truth))
    hand_check(truth.get("example"), db)
    price_check()

    print("\nVerdicts")
    if ok_ccs:
        best_cc = min(ok_ccs, key=lambda r: float(r["seconds"]))
        q_s, c_s = float(best_first["process_seconds"]), float(best_cc["seconds"])
        print(
            f"  QOINs' first refresh faster than ccusage: QOINs {q_s:.2f} s (whole "
            f"process; {best_first['seconds']:.2f} s in run_refresh) vs ccusage "
            f"{c_s:.2f} s, {c_s / q_s:.2f}x -> {verdict(q_s < c_s)}"
        )
    else:
        print(f"  QOINs' first refresh faster than ccusage: not measured ({cc_note})")
    s_s = float(second["seconds"])
    print(
        f"  second refresh, nothing changed, under {SECOND_REFRESH_GOAL_S:g} s: "
        f"{s_s:.3f} s in run_refresh, the first of three "
        f"({second['process_seconds']:.2f} s with interpreter start) -> "
        f"{verdict(s_s < SECOND_REFRESH_GOAL_S)}"
    )
    pairs = figures["pairs"]
    if cc_rows is not None:
        print(
            f"  tokens per day and model equal to ccusage: {figures['token_pairs_cc']} "
            f"of {pairs} pairs -> {verdict(figures['token_pairs_cc'] == pairs)}"
        )
        day_diff = figures["max_day_diff_cc"]
        print(
            f"  dollars per day equal to ccusage: largest |QOINs - ccusage| "
            f"${day_diff:.2e} per day (${figures['max_pair_diff_cc']:.2e} per day "
            f"and model); ccusage sums float64 and does not round, so under "
            f"${FLOAT_TOLERANCE} counts as equal -> "
            f"{verdict(day_diff < FLOAT_TOLERANCE)}"
        )
    print(
        f"  against the generator's truth (Decimal, published rates): tokens "
        f"{figures['token_pairs_truth']} of {pairs} pairs equal, largest dollar "
        f"difference per day ${figures['max_day_diff_truth']} -> "
        f"{verdict(figures['token_pairs_truth'] == pairs)}"
        f"{'' if figures['max_day_diff_truth'] == 0 else ' (dollars differ)'}"
    )
    if figures["unpriced"]:
        print(f"  QOINs left {figures['unpriced']:,} responses unpriced")
    print_statements(
        best_first["statements"],
        float(best_first["seconds"]),
        title="Where QOINs' first refresh spends its time (best run), by statement",
    )
    print_statements(
        second["statements"],
        float(second["seconds"]),
        title="Where the second refresh spends its time, by statement",
        top=3,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
