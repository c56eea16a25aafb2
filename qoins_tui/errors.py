"""The errors QOINs raises on purpose, each with a title and a message to act on.

::

    QoinsError
    ├── ConfigError          a config file that cannot be read or is invalid (exit 2)
    ├── StoreError           the DuckDB file cannot be opened or written (exit 2)
    │   └── StoreBusyError   another process holds the file's lock past the wait
    ├── SourceError          one source failed; the others still refresh (exit 1)
    │   └── MissingSecretError  a ``${VAR}`` or key the source needs is not set
    ├── KeyringUnavailable   the OS keyring has no backend, is locked or does not answer
    ├── BudgetError          a budget change refused: its scope or amount (exit 2)
    └── ImportFormatError    ``qoins import`` met a file it does not recognise

The app turns them into toasts, the command line into one line on stderr and the
exit code DESIGN.md assigns.
"""

from __future__ import annotations


class QoinsError(Exception):
    """Base of every error QOINs reports to a user."""

    title = "QOINs error"

    def __init__(self, message: str, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message


class ConfigError(QoinsError):
    title = "Configuration error"


class StoreError(QoinsError):
    title = "Store unavailable"


class StoreBusyError(StoreError):
    title = "Store busy"


class SourceError(QoinsError):
    title = "Source failed"


class MissingSecretError(SourceError):
    title = "Missing secret"


class KeyringUnavailable(QoinsError):
    title = "Keyring unavailable"


class BudgetError(QoinsError):
    title = "Budget not changed"


class ImportFormatError(QoinsError):
    title = "Unknown file format"
