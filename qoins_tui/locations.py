"""Where QOINs keeps its files: the store, the config and logs, from platformdirs.

Every path QOINs uses by default comes from here, so tests and users can point
them elsewhere with one flag or environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "qoins"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def default_db_path() -> Path:
    return data_dir() / "qoins.duckdb"


def key_names_path() -> Path:
    """The names QOINs stored keys under in the OS keyring (never the keys)."""
    return data_dir() / "key-names.json"


def db_path(flag: str | None) -> Path:
    """The store's file: ``--db`` beats ``QOINS_DB``, which beats the data dir."""
    if flag:
        return Path(flag).expanduser()
    env = os.environ.get("QOINS_DB")
    if env:
        return Path(env).expanduser()
    return default_db_path()


def config_candidates(flag: str | None) -> list[Path]:
    """Config files in the order they are tried; the first that exists is read."""
    if flag:
        return [Path(flag).expanduser()]
    env = os.environ.get("QOINS_CONFIG")
    if env:
        return [Path(env).expanduser()]
    return [Path.cwd() / "config.yml", config_dir() / "config.yml"]
