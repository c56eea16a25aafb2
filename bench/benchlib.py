"""What the benchmark scripts share: measured child processes and statement timings.

Not a benchmark itself. Each measured step runs in a fresh process so that its peak
memory is its own: the parent reads the child's ``ru_maxrss`` from ``wait4``, and
the child reports its ``VmHWM`` as a cross-check. The statement timer wraps
``duckdb.connect`` inside a child so that every statement QOINs' store runs is timed
(execution plus fetch) without touching QOINs' code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
MB = 1_000_000
CODE_DIRS = ("qoins_tui", "collectors")


@dataclass
class Measured:
    """One child process: what it printed (its last line, JSON), its time and memory."""

    figures: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    peak_mb: float = 0.0
    exit_code: int = 0
    stdout: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def run_measured(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
    json_output: bool = True,
) -> Measured:
    """Run ``command`` to its end; wall time from start to exit, peak RSS from wait4."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        cwd=cwd,
        env=dict(env) if env is not None else None,
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = output.decode("utf-8", errors="replace")
    measured = Measured(
        wall_s=wall,
        peak_mb=usage.ru_maxrss * 1024 / MB,  # Linux reports KiB
        exit_code=proc.returncode,
        stdout=text,
    )
    if json_output and proc.returncode == 0 and text.strip():
        measured.figures = json.loads(text.strip().splitlines()[-1])
    return measured


def python_child(script: str, *args: str) -> list[str]:
    """The command line that runs a script's child mode in a new interpreter."""
    return [sys.executable, script, *args]


def high_water_mb() -> float:
    """This process's peak resident memory since its exec (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / MB
    return float("nan")


def machine_line() -> str:
    """Cores, load and CPU pressure: other work on the machine skews every figure."""
    load = os.getloadavg()
    line = f"{os.cpu_count()} cores, load {load[0]:.2f} / {load[1]:.2f} (1 / 5 min)"
    try:
        pressure = Path("/proc/pressure/cpu").read_text().split()[1]
        line += f", CPU pressure {pressure.replace('avg10=', '')} % (10 s)"
    except (OSError, IndexError):
        pass
    return line


def qoins_revision() -> str:
    """The commit the measured code is at, and whether its code has local changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", *CODE_DIRS],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no git)"
    return head + (" with uncommitted changes in its code" if dirty else "")


def verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


# -- statement timings inside a child -------------------------------------------


@contextmanager
def statement_timer(log: list[dict[str, Any]]) -> Iterator[None]:
    """Time every statement run through ``duckdb.connect`` connections meanwhile."""
    from unittest import mock

    import duckdb

    real_connect = duckdb.connect

    def timed_connect(*args: Any, **kwargs: Any) -> TimedConnection:
        return TimedConnection(real_connect(*args, **kwargs), log)

    with mock.patch.object(duckdb, "connect", timed_connect):
        yield


class TimedConnection:
    """A DuckDB connection that adds each statement's time (run and fetch) to a log."""

    def __init__(self, con: Any, log: list[dict[str, Any]]) -> None:
        self._con = con
        self._log = log

    def _entry(self, label: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"sql": label, "seconds": 0.0}
        self._log.append(entry)
        return entry

    def execute(self, query: str, *args: Any, **kwargs: Any) -> TimedResult:
        entry = self._entry(_label(query))
        started = time.perf_counter()
        result = self._con.execute(query, *args, **kwargs)
        entry["seconds"] = time.perf_counter() - started
        return TimedResult(result, entry)

    def executemany(self, query: str, *args: Any, **kwargs: Any) -> Any:
        entry = self._entry(_label(query))
        started = time.perf_counter()
        result = self._con.executemany(query, *args, **kwargs)
        entry["seconds"] = time.perf_counter() - started
        return result

    def close(self) -> None:
        entry = self._entry("(closing the connection: checkpoint)")
        started = time.perf_counter()
        self._con.close()
        entry["seconds"] = time.perf_counter() - started

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


class TimedResult:
    """A statement's result whose fetch time counts for the statement."""

    def __init__(self, result: Any, entry: dict[str, Any]) -> None:
        self._result = result
        self._entry = entry

    def fetchall(self) -> Any:
        started = time.perf_counter()
        rows = self._result.fetchall()
        self._entry["seconds"] += time.perf_counter() - started
        return rows

    def __getattr__(self, name: str) -> Any:
        return getattr(self._result, name)


def _label(query: str) -> str:
    return " ".join(query.split())[:100]


def print_statements(
    statements: Sequence[Mapping[str, Any]], total: float, *, title: str, top: int = 6
) -> None:
    """The statements that took longest (same text summed), and what the rest took."""
    merged: dict[str, float] = {}
    for entry in statements:
        label = str(entry["sql"])
        merged[label] = merged.get(label, 0.0) + float(entry["seconds"])
    ranked = sorted(merged.items(), key=lambda item: item[1], reverse=True)
    print(f"\n{title}, {total:.2f} s in all:")
    shown = 0.0
    for sql, seconds in ranked[:top]:
        shown += seconds
        print(f"  {seconds:7.2f} s  {100 * seconds / total:5.1f} %  {sql}")
    in_sql = sum(merged.values())
    rest = max(in_sql - shown, 0.0)
    print(f"  {rest:7.2f} s  {100 * rest / total:5.1f} %  the other statements")
    python = max(total - in_sql, 0.0)
    print(f"  {python:7.2f} s  {100 * python / total:5.1f} %  outside SQL (Python)")
