"""Keyring backends and a source type that takes a key, for the tests of API keys.

:class:`MemoryKeyring` keeps keys in a dict; :class:`HangingKeyring` does not answer
until it is released, like a Secret Service waiting on a prompt. :func:`use_keyring`
makes one of them the backend QOINs finds for the rest of a test. Neither has a
priority, so keyring never picks one by itself. :class:`KeyedCollector` is a source
type that takes an API key; :func:`register_keyed` lets a test's config use it.
"""

from __future__ import annotations

import threading
import time

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from collectors import COLLECTOR_TYPES
from collectors.base import RecordBatch, RecordCollector

KEYED = "keyed_api"


class MemoryKeyring(KeyringBackend):
    """Keys in a dict by (service, user)."""

    def __init__(self) -> None:
        KeyringBackend.__init__(self)
        self.keys: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.keys.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.keys[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.keys.pop((service, username), None) is None:
            raise PasswordDeleteError("no such key")


class HangingKeyring(KeyringBackend):
    """Every call waits until :meth:`release`; ``calls`` counts the calls made."""

    def __init__(self) -> None:
        KeyringBackend.__init__(self)
        self.calls = 0
        self._released = threading.Event()

    def get_password(self, service: str, username: str) -> str | None:
        self.calls += 1
        self._released.wait()
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self.get_password(service, username)

    def delete_password(self, service: str, username: str) -> None:
        self.get_password(service, username)

    def release(self) -> None:
        """Let every waiting call return, and wait until they have."""
        self._released.set()
        wait_for_keyring_calls()


def wait_for_keyring_calls(timeout_s: float = 5.0) -> None:
    """Wait until no keyring call QOINs gave up on is still running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(
        t.name == "qoins-keyring" and t.is_alive() for t in threading.enumerate()
    ):
        time.sleep(0.01)


def use_keyring(monkeypatch: pytest.MonkeyPatch, backend: KeyringBackend) -> None:
    """Make ``backend`` the one QOINs gets from keyring until the test ends."""
    monkeypatch.setattr(keyring, "get_keyring", lambda: backend)


class KeyedCollector(RecordCollector):
    """A source that needs an API key and brings in nothing."""

    type = KEYED
    title = "Keyed API"
    settings_keys = frozenset({"api_key"})
    secret_keys = ("api_key",)

    def collect(self) -> RecordBatch:
        return RecordBatch([])


def register_keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let configs name ``type: keyed_api`` until the test ends."""
    monkeypatch.setitem(COLLECTOR_TYPES, KEYED, KeyedCollector)
