"""The modal that stores a source's API key in the OS keyring from the app.

The key is typed into a masked field and stored through :mod:`qoins_tui.keys` in a
thread worker, so a keyring that is slow to answer never freezes the app. The modal
says whether a key is stored, never what it is; Enter stores, escape cancels.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Static

from qoins_tui import keys
from qoins_tui.entry import EntryScreen, Refused
from qoins_tui.errors import KeyringUnavailable, QoinsError


class KeyState(Message, bubble=False):
    """Whether the keyring holds the key (None: unknown), or why it cannot say."""

    def __init__(self, stored: bool | None, error: str | None = None) -> None:
        super().__init__()
        self.stored = stored
        self.error = error


class KeyStored(Message, bubble=False):
    """The keyring took the key."""


class KeyEntryScreen(EntryScreen[bool]):
    """A masked field for one source's key; dismissed with True once it is stored."""

    CSS_PATH = "key_entry.tcss"
    FIELD = "key"
    NOTE = "key-state"
    ERROR = "key-error"
    REFUSED_NOTE = "Not stored."

    def __init__(self, source: str, user: str) -> None:
        super().__init__()
        self.source = source
        self.user = user

    def compose(self) -> ComposeResult:
        with Vertical(id="key-entry") as box:
            box.border_title = f"API key for {self.source}"
            box.border_subtitle = "enter stores · esc cancels"
            yield Static(
                f"Kept in the OS keyring (service {keys.SERVICE}, user {self.user}); "
                "QOINs never shows it again.",
                id="key-where",
                markup=False,
            )
            yield Static(
                Content.styled("Looking in the keyring…", "$text-muted"),
                id="key-state",
            )
            yield Input(password=True, placeholder="Paste or type the key", id="key")
            yield Static(id="key-error")

    def on_mount(self) -> None:
        self._look_up()

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="key-state",
        description="Looking for a stored key",
    )
    def _look_up(self) -> None:
        try:
            stored = keys.has_key(self.user)
        except KeyringUnavailable as exc:
            self.post_message(KeyState(None, exc.message))
            return
        self.post_message(KeyState(stored))

    def on_key_state(self, message: KeyState) -> None:
        if message.error is not None:
            self.show_note("The keyring cannot be read.")
            self.show_error(message.error)
        elif message.stored:
            self.show_note("A key is stored; one typed here replaces it.")
        else:
            self.show_note("No key stored yet.")

    @on(Input.Submitted, "#key")
    def _submit(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            self.show_error("Type or paste the key first: an empty key is not stored.")
            return
        self.start_saving("Storing the key…")
        self._store(event.value)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="key-store",
        description="Storing a key in the keyring",
    )
    def _store(self, value: str) -> None:
        try:
            keys.set_key(self.user, value)
        except QoinsError as exc:
            self.post_message(Refused(exc.message))
            return
        self.post_message(KeyStored())

    def on_key_stored(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
