"""The modal that sets a budget from the app: the total, or one source's.

The amount is checked with :func:`~qoins_tui.budgets.parse_amount` when Enter is
pressed, so a bad one is explained in the modal and nothing is written. A good one
goes through :func:`~qoins_tui.budgets.set_budget` in a thread worker, which writes
only the amount's text into config.yml and records the change in the store; the
worker then reads the file back so the app can take up its settings at once.
Enter saves, escape cancels.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, Static

from qoins_tui import budgets
from qoins_tui.budgets import BudgetUpdate
from qoins_tui.config import Settings, load_file
from qoins_tui.entry import EntryScreen, Refused
from qoins_tui.errors import BudgetError, QoinsError
from qoins_tui.money import format_money
from qoins_tui.store import Store

HINT = (
    "A plain number with at most two decimals; none or an empty field removes "
    "the budget."
)


def amount_text(amount: Decimal | None, currency: str) -> str:
    """``$50.00``, or ``no budget``."""
    return "no budget" if amount is None else format_money(amount, currency)


@dataclass(frozen=True)
class SavedBudget:
    """What the modal did: the update, and the settings of the file it wrote (None
    when the budget had that amount already and nothing was written)."""

    update: BudgetUpdate
    settings: Settings | None


class BudgetSaved(Message, bubble=False):
    def __init__(self, saved: SavedBudget) -> None:
        super().__init__()
        self.saved = saved


class BudgetEntryScreen(EntryScreen[SavedBudget | None]):
    """The amount of one scope's budget, pre-filled; dismissed with what was saved."""

    CSS_PATH = "budget_entry.tcss"
    FIELD = "budget"
    NOTE = "budget-hint"
    ERROR = "budget-error"
    REFUSED_NOTE = HINT

    def __init__(
        self,
        scope: str,
        settings: Settings,
        store: Store,
        clock: Callable[[], dt.datetime],
    ) -> None:
        super().__init__()
        self.scope = scope
        self.config = settings.path
        self.currency = settings.budget.currency
        self.amount = budgets.current_amount(settings, scope)
        self.store = store
        self.clock = clock

    def compose(self) -> ComposeResult:
        now = (
            Content.styled("No budget yet", "bold")
            if self.amount is None
            else Content.assemble(
                "Now ", (format_money(self.amount, self.currency), "bold"), " a month"
            )
        )
        where = (
            f"Written to {self.config}; the rest of the file stays as it is."
            if self.config is not None
            else f"No config.yml yet: saving creates {budgets.default_config_path()}."
        )
        with Vertical(id="budget-entry") as box:
            box.border_title = f"Budget for {self.scope}"
            box.border_subtitle = "enter saves · esc cancels"
            yield Static(
                Content.assemble(now, f" · amounts in {self.currency}"),
                id="budget-now",
            )
            yield Static(Content.styled(where, "$text-muted"), id="budget-where")
            yield Input(
                "" if self.amount is None else format(self.amount, "f"),
                placeholder="50 or 49.99",
                id="budget",
            )
            yield Static(Content.styled(HINT, "$text-muted"), id="budget-hint")
            yield Static(id="budget-error")

    @on(Input.Submitted, "#budget")
    def _submit(self, event: Input.Submitted) -> None:
        text = event.value.strip() or budgets.REMOVE
        try:
            budgets.parse_amount(text, self.currency)
        except BudgetError as exc:
            self.show_error(exc.message)
            return
        self.start_saving("Saving…")
        self._save(text)

    @work(
        thread=True,
        exclusive=True,
        exit_on_error=False,
        group="budget-save",
        description="Writing a budget into config.yml",
    )
    def _save(self, text: str) -> None:
        try:
            update = budgets.set_budget(
                self.store, self.config, self.scope, text, self.clock()
            )
            settings = load_file(update.path) if update.changed else None
        except QoinsError as exc:
            self.post_message(Refused(exc.message))
            return
        self.post_message(BudgetSaved(SavedBudget(update, settings)))

    def on_budget_saved(self, message: BudgetSaved) -> None:
        self.dismiss(message.saved)

    def action_cancel(self) -> None:
        self.dismiss(None)
