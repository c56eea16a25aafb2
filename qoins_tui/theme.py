"""The app's colour themes: every YAML file in ``themes/``, registered and checked.

Each file holds the fields of a Textual :class:`~textual.theme.Theme` (name, primary,
secondary, accent, warning, error, success, background, surface, panel, dark,
variables). A file that cannot be used is skipped with a reason the app shows; a
configured ``theme`` that names none of them falls back to :data:`DEFAULT_THEME`.
Textual's own themes stay registered and untouched, but the app offers only these.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml
from textual.color import Color, ColorParseError
from textual.theme import Theme

import qoins_tui

logger = logging.getLogger(__name__)

DEFAULT_THEME = "qoins-dark"
FALLBACK_THEME = "textual-dark"
"""Used only when the default theme's file is missing from the installation."""

_COLOUR_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_FIELDS = frozenset(f.name for f in fields(Theme))


@dataclass(frozen=True)
class LoadedThemes:
    themes: list[Theme]
    problems: list[str]
    """One sentence per theme file that was skipped, naming the file and why."""


def themes_dir() -> Path:
    """``themes/`` inside an installed wheel, else at the top of a source checkout."""
    package = Path(qoins_tui.__file__).parent
    installed = package / "themes"
    return installed if installed.is_dir() else package.parent / "themes"


def load_themes(folder: Path | None = None) -> LoadedThemes:
    """Every ``*.yaml`` theme in ``folder`` (default: :func:`themes_dir`)."""
    folder = folder if folder is not None else themes_dir()
    themes: list[Theme] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            themes.append(parse_theme(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
            problem = f"{path.name}: {exc}"
            logger.warning("theme skipped: %s", problem)
            problems.append(problem)
    return LoadedThemes(themes, problems)


def parse_theme(text: str) -> Theme:
    """A Theme from one file's YAML; ValueError names the first field that is wrong."""
    data = yaml.safe_load(text)
    if not isinstance(data, Mapping):
        raise ValueError("a theme file holds a mapping of Theme fields.")
    unknown = sorted(str(key) for key in data if key not in _FIELDS)
    if unknown:
        raise ValueError(
            f"unknown field {unknown[0]!r}; accepted: {', '.join(sorted(_FIELDS))}."
        )
    for key in ("name", "primary"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ValueError(f"{key!r} is required and must be text.")
    values: dict[str, Any] = dict(data)
    for key in _COLOUR_FIELDS:
        value = values.get(key)
        if value is None:
            continue
        try:
            Color.parse(value)
        except ColorParseError as exc:
            raise ValueError(f"{key}: {value!r} is not a colour ({exc}).") from exc
    if not isinstance(values.get("dark", True), bool):
        raise ValueError("dark must be true or false.")
    variables = values.get("variables", {})
    if not isinstance(variables, Mapping):
        raise ValueError("variables must be a mapping of names to values.")
    values["variables"] = {str(k): str(v) for k, v in variables.items()}
    return Theme(**values)


def choose_theme(
    wanted: str | None, available: Iterable[str]
) -> tuple[str, str | None]:
    """The theme to use out of ``available`` and, when ``wanted`` is not one of
    them, a sentence saying why and naming the ones there are."""
    names = sorted(set(available))
    default = DEFAULT_THEME if DEFAULT_THEME in names else FALLBACK_THEME
    if wanted is None or wanted in names:
        return (wanted or default), None
    choice = (
        f"Set theme: in config.yml to one of {', '.join(names)}."
        if names
        else f"No theme files were found in {themes_dir()}."
    )
    return default, (
        f"The config names theme {wanted!r}, which QOINs does not know; it uses "
        f"{default} instead. {choice}"
    )
