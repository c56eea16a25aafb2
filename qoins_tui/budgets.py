"""Budgets of every scope, listed and set from the shell and from the app.

A scope is ``total`` (``budget.monthly_limit``) or a source's name
(``services.<name>.budget_limit``); ``project:NAME`` and ``member:NAME`` are named
by the design and come with projects and team allocation. :func:`set_budget` writes
the amount into ``config.yml`` and records the change in the store.

The write changes the amount's own text and nothing else, so every other byte of
the file (comments, order, indentation, quoting) stays as the user wrote it: the
positions come from ruamel.yaml's round-trip composer, and the result is read back
in round-trip mode and must equal the old settings with just this one change, and
pass the config's own checks, before it replaces the file. (Dumping the round-trip
tree instead would re-indent the file and move inline comments.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode

from collectors import DETECTED_TYPES
from qoins_tui import locations
from qoins_tui.config import Settings, parse_config, read_document
from qoins_tui.errors import BudgetError, ConfigError
from qoins_tui.refresh import planned_sources
from qoins_tui.store import BudgetChange, Store

TOTAL = "total"
LATER_SCOPES = ("project", "member")
"""Scope prefixes of the design that come with projects and team allocation."""
REMOVE = "none"
_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,2})?")
"""Up to 15 digits before the point: far beyond any budget, well inside what the
store's DECIMAL(38,12) holds."""
_BOM = "\ufeff"
_INDENT = 2
"""Indentation of sections QOINs adds to a file without any."""


@dataclass(frozen=True)
class BudgetLine:
    scope: str
    amount: Decimal | None
    """None where the scope has no budget."""


@dataclass(frozen=True)
class BudgetUpdate:
    """What :func:`set_budget` did."""

    scope: str
    old: Decimal | None
    new: Decimal | None
    currency: str
    path: Path
    changed: bool
    """False when the scope had that amount already: nothing written or recorded."""
    created: bool
    """True when no config file existed and this one was created."""


def default_config_path() -> Path:
    """Where a first config is created: the user config dir, which QOINs reads
    whenever the working folder has no config.yml."""
    return locations.config_dir() / "config.yml"


def source_scopes(settings: Settings) -> list[str]:
    """Every source a budget can be set on: those under ``services``, those QOINs
    detects or runs without an entry, and the agent-log types that need none."""
    names = [s.name for s in settings.sources]
    names += [s.name for s in planned_sources(settings)]
    names += [collector.type for collector in DETECTED_TYPES]
    return list(dict.fromkeys(names))


def list_budgets(settings: Settings) -> list[BudgetLine]:
    """The total, then every source scope, each with its amount or None."""
    lines = [BudgetLine(TOTAL, settings.budget.monthly_limit)]
    for name in source_scopes(settings):
        source = settings.source(name)
        lines.append(BudgetLine(name, source.budget_limit if source else None))
    return lines


def budget_keys(settings: Settings, scope: str) -> tuple[str, ...]:
    """The keys of ``config.yml`` that hold the budget of ``scope``."""
    if scope == TOTAL:
        return ("budget", "monthly_limit")
    prefix, colon, _ = scope.partition(":")
    if colon and prefix in LATER_SCOPES:
        raise BudgetError(
            f"budget scope {scope!r}: project and member budgets come with projects "
            "and team allocation, which are not in this version of QOINs; a budget "
            "is set on total or on a source's name."
        )
    known = source_scopes(settings)
    if scope not in known:
        where = settings.path or "config.yml"
        raise BudgetError(
            f"unknown budget scope {scope!r}: {where} has no source of that name and "
            f"QOINs detects none. Scopes: {', '.join([TOTAL, *known])}. A new "
            "source goes under services in config.yml first."
        )
    return ("services", scope, "budget_limit")


def parse_amount(text: str, currency: str) -> Decimal | None:
    """A budget amount as written on the command line; None for ``none``."""
    if text == REMOVE:
        return None
    if not _AMOUNT.fullmatch(text):
        raise BudgetError(
            f"amount {text!r} is not accepted: write a plain number of {currency} "
            f"with at most two decimals and 15 digits, such as 50 or 49.99, or "
            f"{REMOVE} to remove the budget."
        )
    return Decimal(text)


def current_amount(settings: Settings, scope: str) -> Decimal | None:
    if scope == TOTAL:
        return settings.budget.monthly_limit
    source = settings.source(scope)
    return source.budget_limit if source else None


def set_budget(
    store: Store, config: Path | None, scope: str, amount: str, now: dt.datetime
) -> BudgetUpdate:
    """Set (or with ``none`` remove) the budget of ``scope`` in ``config`` and record
    the change; ``config`` None (no file anywhere) creates the user config dir's.

    Refuses a bad scope or amount with :class:`BudgetError` before anything is
    written; a file whose settings are already invalid is refused with its
    :class:`ConfigError`.
    """
    created = config is None
    path = default_config_path() if config is None else config
    bom, text = _read(path) if config is not None else ("", "")
    settings = parse_config(text, path)
    keys = budget_keys(settings, scope)
    currency = settings.budget.currency
    new = parse_amount(amount, currency)
    old = current_amount(settings, scope)
    if old == new:
        return BudgetUpdate(scope, old, new, currency, path, False, False)
    if new is None:
        changed = _without(text, keys)
    else:
        changed = _with(text, keys, format(new, "f"))
    _check(path, text, changed, keys, new)
    change = BudgetChange(scope, old, new, currency, now, str(path))
    with store.recording_budget_change(change):
        _replace(path, (bom + changed).encode("utf-8"))
    return BudgetUpdate(scope, old, new, currency, path, True, created)


# -- reading and writing the file ---------------------------------------------------


def _read(path: Path) -> tuple[str, str]:
    """The byte-order mark, if any, and the text with its own line endings."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}).") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: is not UTF-8 text ({exc.reason}).") from exc
    if text.startswith(_BOM):
        return _BOM, text[1:]
    return "", text


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` beside the file and move it over the file in one step, so a
    crash leaves either the old config or the new one. A file nobody may write is
    left alone: replacing it would go round the protection its owner gave it."""
    target = path.resolve()
    if target.exists():
        mode = stat.S_IMODE(target.stat().st_mode)
        if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            raise BudgetError(
                f"{target}: is read-only (mode {mode:o}), so QOINs leaves it as it is; "
                "make it writable (chmod u+w) to set budgets."
            )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        raise BudgetError(f"{target}: cannot be written ({exc.strerror}).") from exc
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if target.exists():
            os.chmod(temporary, stat.S_IMODE(target.stat().st_mode))
        os.replace(temporary, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise BudgetError(f"{target}: cannot be written ({exc.strerror}).") from exc


def _check(
    path: Path, old: str, new: str, keys: Sequence[str], amount: Decimal | None
) -> None:
    """Refuse a rewrite that is not valid or changes more than ``keys``."""
    dotted = ".".join(keys)
    try:
        parse_config(new, path)
    except ConfigError as exc:
        raise BudgetError(
            f"{path}: writing {dotted} would leave an invalid config ({exc}); "
            "nothing was written."
        ) from exc
    expected = _plain(read_document(old, str(path))) or {}
    node = expected
    for key in keys[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    if amount is None:
        del node[keys[-1]]
    else:
        node[keys[-1]] = amount
    if _plain(read_document(new, str(path))) != _plain(expected):
        raise BudgetError(
            f"{path}: QOINs could not write {dotted} without changing other "
            f"settings; nothing was written. Set {dotted} in the file by hand."
        )


def _plain(value: Any) -> Any:
    """The data of a YAML tree, with an empty mapping the same as an empty value
    (the config reads both alike)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()} or None
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# -- editing the text at the positions of its nodes ----------------------------------


def _compose(text: str) -> Node | None:
    node: Node | None = YAML(typ="rt", pure=True).compose(text)
    return node


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """The index just past the line break of the line holding ``index``."""
    found = text.find("\n", index)
    return len(text) if found < 0 else found + 1


def _entry(mapping: MappingNode, key: str) -> tuple[Node, Node] | None:
    for key_node, value_node in mapping.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def _block(keys: Sequence[str], value: str, indent: int, unit: int, nl: str) -> str:
    """``keys`` as nested block mappings at ``indent``, the last holding ``value``."""
    lines = [
        " " * (indent + depth * unit) + f"{key}:" for depth, key in enumerate(keys)
    ]
    lines[-1] += f" {value}"
    return nl.join(lines) + nl


def _flow(keys: Sequence[str], value: str) -> str:
    """``keys`` as nested flow mappings, without the outer braces."""
    text = f"{keys[-1]}: {value}"
    for key in reversed(keys[:-1]):
        text = f"{key}: {{{text}}}"
    return text


def _splice(text: str, start: int, end: int, insert: str) -> str:
    return text[:start] + insert + text[end:]


def _append(text: str, addition: str) -> str:
    if text and not text.endswith("\n"):
        text += _newline(text)
    return text + addition


def _with(text: str, keys: Sequence[str], value: str) -> str:
    """``text`` with ``keys`` set to ``value``, creating the mappings it lacks."""
    nl = _newline(text)
    node = _compose(text)
    if node is None:
        return _append(text, _block(keys, value, 0, _INDENT, nl))
    parent: Node | None = None
    depth = 0
    while depth < len(keys) and isinstance(node, MappingNode):
        found = _entry(node, keys[depth])
        if found is None:
            return _insert(text, node, parent, keys[depth:], value, nl)
        parent, node = found
        depth += 1
    # ``node`` holds the amount, or is the empty value of a mapping still to fill.
    rest = keys[depth:]
    replacement = "{" + _flow(rest, value) + "}" if rest else value
    start, end = node.start_mark.index, node.end_mark.index
    if end > start:
        return _splice(text, start, end, replacement)
    # A value left empty (``key:``) has no text of its own: write it after the colon.
    assert parent is not None
    colon = text.index(":", parent.end_mark.index) + 1
    return _splice(text, colon, colon, f" {replacement}")


def _insert(
    text: str,
    mapping: MappingNode,
    parent: Node | None,
    keys: Sequence[str],
    value: str,
    nl: str,
) -> str:
    """``keys`` added to ``mapping``: first in a flow mapping, on the line after its
    parent's key in a block mapping (before any comment on its first entry), at the
    end of the file at the top level."""
    if mapping.flow_style:
        at = mapping.start_mark.index + 1
        addition = _flow(keys, value) + (", " if mapping.value else "")
        return _splice(text, at, at, addition)
    indent = mapping.start_mark.column
    if parent is None:
        return _append(text, _block(keys, value, indent, _INDENT, nl))
    unit = indent - parent.start_mark.column
    at = _line_end(text, parent.end_mark.index)
    return _splice(text, at, at, _block(keys, value, indent, unit, nl))


def _without(text: str, keys: Sequence[str]) -> str:
    """``text`` without the entry ``keys`` names, which the file holds; a block
    entry goes with its whole line, inline comment included."""
    mapping = _compose(text)
    for key in keys[:-1]:
        assert isinstance(mapping, MappingNode)
        found = _entry(mapping, key)
        assert found is not None
        mapping = found[1]
    assert isinstance(mapping, MappingNode)
    items = mapping.value
    index = next(i for i, (k, _) in enumerate(items) if k.value == keys[-1])
    key_node, value_node = items[index]
    if not mapping.flow_style:
        start = _line_start(text, key_node.start_mark.index)
        end = _line_end(text, value_node.end_mark.index)
    elif len(items) == 1:
        start, end = key_node.start_mark.index, value_node.end_mark.index
    elif index < len(items) - 1:
        start, end = key_node.start_mark.index, items[index + 1][0].start_mark.index
    else:
        start, end = items[index - 1][1].end_mark.index, value_node.end_mark.index
    return _splice(text, start, end, "")
