"""What the agent-log collectors share: finding files, checking lines, git repos."""

from __future__ import annotations

import configparser
import json
import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

from collectors.base import BulkCollector, BulkSpec, CollectorError


def existing_dirs(dirs: Iterable[Path]) -> list[Path]:
    """The folders that exist, each once even when two names lead to the same one."""
    seen: set[str] = set()
    result = []
    for path in dirs:
        if not path.is_dir():
            continue
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            result.append(path)
    return result


def find_files(roots: Iterable[Path], pattern: str) -> list[Path]:
    """Files matching ``pattern`` anywhere below the roots, in a stable order."""
    found: dict[str, Path] = {}
    for root in roots:
        for path in root.rglob(pattern):
            if path.is_file():
                found.setdefault(os.path.realpath(path), path)
    return sorted(found.values())


def malformed_json_lines(path: Path, *, required_key: str | None = None) -> list[int]:
    """1-based numbers of lines that are not a JSON object (or lack the key).

    Only the numbers leave this function: a line's text may hold a user's prompt.
    """
    bad = []
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                line = raw.strip()
                if not line:
                    continue
                try:
                    value = json.loads(line)
                except ValueError:
                    bad.append(number)
                    continue
                if not isinstance(value, dict) or (
                    required_key is not None and required_key not in value
                ):
                    bad.append(number)
    except OSError:
        return bad
    return bad


def largest_line_bound(files: Iterable[Path]) -> int:
    """A ``maximum_object_size`` for ``read_json``: no line outgrows its file.

    DuckDB sizes its buffers by this bound, so a tight one reads faster than a
    blanket gigabyte; it stays between 1 MiB and 1 GiB.
    """
    largest = 0
    for path in files:
        try:
            largest = max(largest, path.stat().st_size)
        except OSError:
            continue
    return min(max(largest + 1, 1 << 20), 1 << 30)


def sql_columns(columns: Mapping[str, str]) -> str:
    """A DuckDB struct literal for ``read_json``'s ``columns`` option."""
    return (
        "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in columns.items()) + "}"
    )


@lru_cache(maxsize=4096)
def git_repository(folder: str) -> str | None:
    """The git repository of a working folder: its remote's name, else its root's.

    None when the folder no longer exists or is not inside a repository.
    """
    path = Path(folder)
    if not path.is_dir():
        return None
    for candidate in (path, *path.parents):
        marker = candidate / ".git"
        if marker.exists():
            return _remote_name(marker) or candidate.name
    return None


def _remote_name(marker: Path) -> str | None:
    git_dir = marker
    if marker.is_file():
        try:
            text = marker.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        if not text.startswith("gitdir:"):
            return None
        git_dir = (marker.parent / text.split(":", 1)[1].strip()).resolve()
        common = git_dir / "commondir"
        if common.is_file():
            git_dir = (git_dir / common.read_text().strip()).resolve()
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read(git_dir / "config", encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    section = 'remote "origin"'
    if not parser.has_option(section, "url"):
        return None
    url = parser.get(section, "url").rstrip("/")
    name = url.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return name.removesuffix(".git") or None


def check_log_settings(settings: Mapping[str, Any]) -> tuple[str, str] | None:
    """The settings every agent-log source shares: ``paths`` and ``billing``."""
    billing = settings.get("billing", "api")
    if billing not in ("api", "plan"):
        return (
            "billing",
            f"{billing!r} is not a billing mode; use api (you pay per token) or "
            "plan (a flat plan pays for it).",
        )
    paths = settings.get("paths")
    if paths is not None and (
        not isinstance(paths, list) or not all(isinstance(p, str) for p in paths)
    ):
        return ("paths", "must be a list of folders.")
    return None


class AgentLogCollector(BulkCollector):
    """A coding agent's JSONL logs: found in default folders or ``paths``, read in
    DuckDB by ``select``, working folders resolved to git repositories."""

    settings_keys = frozenset({"paths", "billing"})
    select: ClassVar[str]
    provider: ClassVar[str]
    provider_name: ClassVar[str]
    ordered: ClassVar[bool] = False

    @classmethod
    def default_roots(cls) -> list[Path]:
        """The folders the agent writes to on this machine."""
        raise NotImplementedError

    @classmethod
    def roots_from(cls, paths: Iterable[Path]) -> list[Path]:
        """The folders to read for the ``paths`` of a config entry."""
        return list(paths)

    @classmethod
    def check_settings(cls, settings: Mapping[str, Any]) -> tuple[str, str] | None:
        return check_log_settings(settings)

    @classmethod
    def detect(cls) -> bool:
        """True when a default folder holds at least one log (an empty one does
        not count: the agent may be installed but never used)."""
        return any(
            next(root.rglob("*.jsonl"), None) is not None
            for root in existing_dirs(cls.default_roots())
        )

    def roots(self) -> list[Path]:
        paths = self.context.settings.get("paths")
        if paths:
            roots = self.roots_from(Path(p).expanduser() for p in paths)
            if not existing_dirs(roots):
                shown = ", ".join(str(root) for root in roots)
                raise CollectorError(
                    f"none of the folders in paths exists ({shown}); check paths."
                )
            return roots
        return self.default_roots()

    def files(self) -> list[Path]:
        return find_files(existing_dirs(self.roots()), "*.jsonl")

    def spec(self, files: list[Path]) -> BulkSpec:
        return BulkSpec(
            target="usage",
            select=self.select,
            params={
                "files": [str(path) for path in files],
                "max_object_size": largest_line_bound(files),
            },
            provider=self.provider,
            provider_name=self.provider_name,
            ordered=self.ordered,
        )

    def repositories(self, origins: Iterable[str]) -> dict[str, str | None]:
        return {origin: git_repository(origin) for origin in origins}
