"""The base of the app's one-field modals (an API key, a budget).

A thread worker saves the field's value. While it saves, the field is disabled and
escape waits: cancelling could not take the save back. A refusal shows its reason
under the field and gives the field back.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual.binding import Binding, BindingType
from textual.content import Content
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static

T = TypeVar("T")


class Refused(Message, bubble=False):
    """Nothing was saved; ``error`` says why."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class EntryScreen(ModalScreen[T]):
    """A modal around the Input ``#FIELD``, with a muted note ``#NOTE`` above the
    error line ``#ERROR``; subclasses save in a worker that posts :class:`Refused`
    on failure and dismiss on success."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", key_display="esc"),
    ]
    FIELD: ClassVar[str]
    NOTE: ClassVar[str]
    ERROR: ClassVar[str]
    REFUSED_NOTE: ClassVar[str]
    """The note once a save was refused."""

    def __init__(self) -> None:
        super().__init__()
        self.saving = False

    def start_saving(self, note: str) -> None:
        """Disable the field and say what is being done, before the worker runs."""
        self.saving = True
        self.query_one(f"#{self.FIELD}", Input).disabled = True
        self.show_error("")
        self.show_note(note)
        self.refresh_bindings()

    def on_refused(self, message: Refused) -> None:
        self.saving = False
        self.show_note(self.REFUSED_NOTE)
        self.show_error(message.error)
        field = self.query_one(f"#{self.FIELD}", Input)
        field.disabled = False
        field.focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel":
            return None if self.saving else True
        return True

    def show_note(self, text: str) -> None:
        self.query_one(f"#{self.NOTE}", Static).update(
            Content.styled(text, "$text-muted")
        )

    def show_error(self, text: str) -> None:
        self.query_one(f"#{self.ERROR}", Static).update(Content.styled(text, "$error"))
