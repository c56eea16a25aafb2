"""The Alerts tab: the alerts the rules raised, newest first, and the rules.

The list shows one row per stored alert: when it fired, its severity, its rule in
words, its scope, the figures it fired on and how each channel's delivery went (a
failed one says whether the next refresh retries it). ``/`` cycles the list through
the active, the acknowledged and all alerts; space acknowledges the selected alert or
takes the acknowledgement back, and an alert changed so stays in view until the
filter changes, so a second space undoes a first; Enter opens the alert's message and
each delivery's error. ``R`` switches to the rules: what raises an alert for each
budget and which channels hear of it. The app reads the alerts in a worker and hands
them over with :meth:`AlertsView.show`.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.events import Resize
from textual.geometry import Size
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import DataTable, Static

from qoins_tui.alerts import RETRY_DAYS, RuleRow, covered_note, rule_rows
from qoins_tui.config import Settings
from qoins_tui.money import format_money, format_percent
from qoins_tui.store import AlertRecord, Delivery
from qoins_tui.summary import local_today
from qoins_tui.widgets import clip, cursor_key, format_when

FILTERS = ("active", "acknowledged", "all")
"""The states ``/`` cycles through, the first the default; cleared alerts show
under ``all`` only."""
NEXT_FILTER = dict(zip(FILTERS, FILTERS[1:] + FILTERS[:1], strict=True))
WIDE_COLUMNS = 120
"""From this width on, an alert takes one line and the time shows in full."""
DETAIL_ROWS = 30
"""From this height on a wide screen, the selected alert shows below the list."""
PADDING = 1
"""Cells of padding on each side of a column."""
LEAST_DELIVERY = 20
"""The deliveries' column never gets narrower than this."""
SCOPE_CELLS = 20
"""A scope longer than this ends in "…"; the alert in full shows it whole."""
SEVERITY_COLOUR = {"critical": "error", "warning": "warning"}
"""The theme colour of a severity; ``info`` keeps the text's own."""
NO_CHANNEL = "not sent: no channel"

Piece = tuple[str, str]
"""Text and the theme colour it is drawn in ("" for the text's own)."""


class AlertsLoaded(Message, bubble=False):
    """Every stored alert, newest first; ``ticket`` tells a stale read from the
    latest."""

    def __init__(self, alerts: list[AlertRecord], ticket: int) -> None:
        super().__init__()
        self.alerts = alerts
        self.ticket = ticket


class AcknowledgeAlert(Message):
    """The user asked to acknowledge an alert, or with ``acknowledged`` False to
    take its acknowledgement back."""

    def __init__(self, alert: AlertRecord, acknowledged: bool) -> None:
        super().__init__()
        self.alert = alert
        self.acknowledged = acknowledged


def rule_words(alert: AlertRecord) -> str:
    """``90% used``, ``projected 95%``, ``daily 75%``, ``spike``, ``spike 3h``,
    ``renewal``, ``ending``: the words the rules view uses."""
    kind, _, level = alert.rule.partition(":")
    if kind == "actual":
        return f"{level}% used"
    if kind in ("projected", "daily"):
        return f"{kind} {level}%"
    if kind == "spike-hours":
        return f"spike {level}h"
    return kind


def figures(alert: AlertRecord) -> tuple[str, str]:
    """What the alert fired on, and a note on it: the amount against the budget
    and the share of it; for a projection the month-end figure; for a spike the
    day's or the window's spend and the usual level; for a renewal the amount
    alone."""
    cur = alert.currency
    if alert.kind in ("spike", "spike-hours") and alert.amount is not None:
        usual = (
            f"{format_money(alert.budget, cur)} usual"
            if alert.budget is not None
            else ""
        )
        return format_money(alert.amount, cur), usual
    amount = alert.amount
    when = ""
    if alert.kind == "projected" and alert.projected is not None:
        amount = alert.projected
        when = " at month end"
    if amount is None:
        return "—", ""
    if not alert.budget:
        return format_money(amount, cur), ""
    share = format_percent(amount / alert.budget * 100)
    main = f"{format_money(amount, cur)} / {format_money(alert.budget, cur)}"
    return main, share + when


def retries(alert: AlertRecord, now: dt.datetime) -> bool:
    """Whether a failed delivery of ``alert`` is tried again on the next refresh:
    for :data:`~qoins_tui.alerts.RETRY_DAYS` days after it fired."""
    return now - alert.fired_at <= dt.timedelta(days=RETRY_DAYS)


def delivery_items(alert: AlertRecord, now: dt.datetime) -> list[list[Piece]]:
    """Each channel's delivery as pieces that stay together where a line breaks:
    ``toast ✓``, ``email ✗ retry on next refresh``, ``slack ✗ gave up``; the
    sent ones first, so a failure ends the list where the eye lands."""
    if alert.covered:
        note = covered_note(alert)
        return [[(word, "text-muted") for word in note.split()]]
    if not alert.deliveries:
        return [[(word, "text-muted") for word in NO_CHANNEL.split()]]
    items = []
    order = {"sent": 0, "pending": 1}
    for delivery in sorted(alert.deliveries, key=lambda d: order.get(d.status, 2)):
        if delivery.status == "sent":
            items.append([(f"{delivery.channel} ✓", "success")])
        elif delivery.status == "failed":
            fate = "retry on next refresh" if retries(alert, now) else "gave up"
            items.append(
                [(f"{delivery.channel} ✗", "error")]
                + [
                    (word, "warning" if fate != "gave up" else "error")
                    for word in fate.split()
                ]
            )
        else:
            items.append([(f"{delivery.channel} pending", "text-muted")])
    return items


def pack(items: Sequence[Sequence[Piece]], width: int) -> list[list[Piece]]:
    """Lines of at most ``width`` cells: items joined by `` · ``, each item whole on
    a line where it fits on one, else broken between its words."""
    lines: list[list[Piece]] = [[]]
    used = 0

    def put(text: str, colour: str, sep: str) -> None:
        nonlocal used
        if lines[-1] and used + len(sep) + len(text) > width:
            lines.append([])
            used = 0
        if lines[-1]:
            lines[-1].append((sep, "text-muted" if sep.strip() else ""))
        else:
            sep = ""
        text = clip(text, width)
        lines[-1].append((text, colour))
        used += len(sep) + len(text)

    for item in items:
        whole = sum(len(text) for text, _ in item) + len(item) - 1
        if lines[-1] and used + 3 + whole > width >= whole:
            lines.append([])
            used = 0
        for index, (text, colour) in enumerate(item):
            put(text, colour, " · " if index == 0 else " ")
    return lines


def detail_lines(
    alert: AlertRecord,
    now: dt.datetime,
    today: dt.date,
    zone: dt.tzinfo,
    width: int,
) -> list[Content]:
    """The alert in full, in lines of at most ``width`` cells: what fired and when,
    its state, its message, and how each channel's delivery went, with the error of
    a failed one under it."""

    def when(moment: dt.datetime) -> str:
        return format_when(moment, today, zone)

    width = max(width, 20)
    colour = SEVERITY_COLOUR.get(alert.severity)
    main, note = figures(alert)
    about = Content.assemble(
        (alert.severity, f"bold ${colour}" if colour else "bold"),
        f" · {rule_words(alert)} · {alert.scope} · fired {when(alert.fired_at)}",
        f" · {main}" + (f" ({note})" if note else "") if main != "—" else "",
    )
    if alert.cleared_at is not None:
        state = Content.styled(
            f"Cleared {when(alert.cleared_at)}: "
            + (
                "the projection fell back, or the spend itself reached the "
                "threshold and its own alert took over."
                if alert.kind == "projected"
                else "its condition no longer holds."
            ),
            "$success",
        )
    elif alert.acknowledged_at is not None:
        state = Content.styled(
            f"Acknowledged {when(alert.acknowledged_at)}; space takes it back.",
            "$text-muted",
        )
    else:
        state = Content.styled("Active; space acknowledges it.", "$text-muted")
    lines = [
        *Content.styled(alert.title, "bold").wrap(width),
        *about.wrap(width),
        *state.wrap(width),
        Content(""),
    ]
    for line in alert.message.splitlines():
        lines.extend(Content(line).wrap(width) or [Content("")])
    lines.extend([Content(""), Content.styled("Delivery", "bold $secondary")])
    if alert.covered:
        note_text = (
            "Not sent: a spike within the same day was found at the same time, and "
            "its alert, which says when, is the one delivered."
            if alert.kind == "spike"
            else "Not sent: a higher threshold of the same budget was crossed at the "
            "same time, and its alert is the one delivered."
        )
        lines.extend(
            _hang(Content("  "), Content.styled(note_text, "$text-muted"), width)
        )
    elif not alert.deliveries:
        lines.extend(
            _hang(
                Content("  "),
                Content.styled("Not sent: the rule names no channel.", "$text-muted"),
                width,
            )
        )
    name_width = max((len(d.channel) for d in alert.deliveries), default=0) + 2
    for delivery in alert.deliveries:
        head = Content(f"  {delivery.channel.ljust(name_width)}")
        status = Content.assemble(*_delivery_line(alert, delivery, now, when))
        lines.extend(_hang(head, status, width))
        if delivery.error:
            error = Content.styled(delivery.error, "$error")
            lines.extend(_hang(Content(" " * head.cell_length), error, width))
    return lines


def _hang(head: Content, body: Content, width: int) -> list[Content]:
    """``head`` then ``body``, whose lines wrap under its own first line."""
    room = max(width - head.cell_length, 10)
    pad = Content(" " * head.cell_length)
    return [
        Content.assemble(head if index == 0 else pad, line)
        for index, line in enumerate(body.wrap(room))
    ]


def _delivery_line(
    alert: AlertRecord,
    delivery: Delivery,
    now: dt.datetime,
    when: Callable[[dt.datetime], str],
) -> list[str | tuple[str, str]]:
    last = f" {when(delivery.last_attempt)}" if delivery.last_attempt else ""
    if delivery.status == "sent":
        return [("sent", "$success"), last]
    if delivery.status != "failed":
        return [("pending", "$text-muted")]
    tries = "once" if delivery.attempts == 1 else f"{delivery.attempts} times"
    fate = (
        ("retry on next refresh", "$warning")
        if retries(alert, now)
        else (f"gave up {RETRY_DAYS} days after it fired", "$error")
    )
    return [("failed", "$error"), f" {tries}, last{last} · ", fate]


class AlertDetail(Widget):
    """One alert in full, its lines wrapped to the widget's width."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[AlertRecord, dt.datetime, dt.date, dt.tzinfo] | None = None

    def show(
        self,
        alert: AlertRecord | None,
        now: dt.datetime,
        today: dt.date,
        zone: dt.tzinfo,
    ) -> None:
        self._shown = (alert, now, today, zone) if alert is not None else None
        self.refresh(layout=True)

    def _lines(self, width: int) -> list[Content]:
        if self._shown is None:
            return []
        return detail_lines(*self._shown, width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self._lines(width)))

    def render(self) -> Content:
        return Content("\n").join(self._lines(self.content_region.width))


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int


@dataclass(frozen=True)
class Row:
    """One alert's lines in each column but the last, and its deliveries."""

    cells: dict[str, list[list[Piece]]]
    delivery: list[list[Piece]]


WIDE_LABELS = {
    "when": "When",
    "severity": "Severity",
    "rule": "Rule",
    "scope": "Scope",
    "figures": "Figures",
    "state": "State",
}
NARROW_LABELS = {"when": "When", "rule": "Rule", "figures": "Figures"}


def _length(line: Sequence[Piece]) -> int:
    return sum(len(text) for text, _ in line)


class AlertScreen(ModalScreen[bool]):
    """One alert in full over the list; escape or enter closes it, space closes it
    asking the list to acknowledge the alert (or take that back)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", key_display="esc"),
        Binding("enter", "close", "Close", show=False),
        Binding("space", "acknowledge", "Acknowledge or take back", show=False),
    ]

    def __init__(
        self,
        alert: AlertRecord,
        now: dt.datetime,
        today: dt.date,
        zone: dt.tzinfo,
    ) -> None:
        super().__init__()
        self.alert = alert
        self._when = (now, today, zone)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="alert") as box:
            box.border_title = "Alert"
            box.border_subtitle = (
                "esc closes"
                if self.alert.state == "cleared"
                else "space acknowledges · esc closes"
                if self.alert.state == "active"
                else "space takes back · esc closes"
            )
            yield AlertDetail(id="alert-text")

    def on_mount(self) -> None:
        self.query_one(AlertDetail).show(self.alert, *self._when)

    def action_close(self) -> None:
        self.dismiss(False)

    def action_acknowledge(self) -> None:
        if self.alert.state != "cleared":
            self.dismiss(True)


class AlertsView(Vertical, can_focus=True):
    """The Alerts tab's content; the app hands it every alert on each reload.

    It takes the focus itself while it has no table to show, so that its keys
    (``R``, ``/``) still work.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "space",
            "acknowledge",
            "Acknowledge",
            tooltip="Acknowledge the selected alert",
        ),
        Binding(
            "space",
            "take_back",
            "Take back",
            tooltip="Take back the selected alert's acknowledgement",
        ),
        Binding(
            "R",
            "show_rules",
            "Rules",
            tooltip="The alert rules: what raises an alert and who hears of it",
        ),
        Binding(
            "escape",
            "hide_rules",
            "Back",
            key_display="esc",
            tooltip="From the rules back to the alerts (R too)",
        ),
        Binding("R", "hide_rules", show=False),
    ]

    def __init__(
        self,
        *,
        settings: Callable[[], Settings],
        clock: Callable[[], dt.datetime],
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.settings = settings
        """The app's current settings: the rules and the time zone come from it."""
        self.clock = clock
        """The app's clock: times show as today's or an earlier day's, and a failed
        delivery is retried for :data:`~qoins_tui.alerts.RETRY_DAYS` from it."""
        self.alerts: list[AlertRecord] | None = None
        self.filter = FILTERS[0]
        self.kept: set[int] = set()
        """Alerts acknowledged or taken back here since the filter last changed:
        they stay in view, so space can undo."""
        self.showing_rules = False

    def compose(self) -> ComposeResult:
        yield Static(id="alerts-title", markup=False)
        yield DataTable(id="alerts-table", cursor_type="row", cell_padding=PADDING)
        yield DataTable(id="rules-table", cursor_type="row", cell_padding=PADDING)
        yield Static(id="alerts-empty", markup=False)
        with VerticalScroll(id="alert-detail"):
            yield AlertDetail(id="alert-detail-text")
        yield Static(id="alerts-total", markup=False)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._fill())
        self.query_one("#alert-detail").border_title = "Selected alert"

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#alerts-table", DataTable)

    @property
    def rules_table(self) -> DataTable[Text]:
        return self.query_one("#rules-table", DataTable)

    @property
    def visible_alerts(self) -> list[AlertRecord]:
        """The alerts the list shows: those in the filter's state, and those
        changed here since it was chosen. A covered alert (stored, never sent) shows
        under ``all`` only."""
        return [
            a
            for a in self.alerts or []
            if self.filter == "all"
            or a.listed == self.filter
            or a.alert_id in self.kept
        ]

    def show(self, alerts: list[AlertRecord]) -> None:
        self.alerts = alerts
        self._fill()

    def focus_list(self) -> None:
        if self.has_class("-empty"):
            self.focus()
        else:
            (self.rules_table if self.showing_rules else self.table).focus()

    def cycle_filter(self) -> None:
        self.filter = NEXT_FILTER[self.filter]
        self.kept.clear()
        self._fill()

    def selected_alert(self) -> AlertRecord | None:
        """The alert under the list's cursor, if any."""
        key = cursor_key(self.table)
        return next((a for a in self.visible_alerts if str(a.alert_id) == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("acknowledge", "take_back"):
            alert = None if self.showing_rules else self.selected_alert()
            if alert is None:
                return False
            return alert.state == (
                "active" if action == "acknowledge" else "acknowledged"
            )
        if action == "show_rules":
            return not self.showing_rules
        if action == "hide_rules":
            return self.showing_rules
        return True

    def action_acknowledge(self) -> None:
        self._acknowledge(True)

    def action_take_back(self) -> None:
        self._acknowledge(False)

    def _acknowledge(self, acknowledged: bool) -> None:
        alert = self.selected_alert()
        if alert is not None:
            self.kept.add(alert.alert_id)
            self.post_message(AcknowledgeAlert(alert, acknowledged))

    def action_show_rules(self) -> None:
        self.showing_rules = True
        self._fill()
        self.focus_list()
        self.app.refresh_bindings()

    def action_hide_rules(self) -> None:
        self.showing_rules = False
        self._fill()
        self.focus_list()
        self.app.refresh_bindings()

    @on(DataTable.RowSelected, "#alerts-table")
    def _row_chosen(self) -> None:
        alert = self.selected_alert()
        if alert is not None:
            self.app.push_screen(
                AlertScreen(alert, self._now, self._today, self._zone),
                partial(self._alert_closed, alert),
            )

    def _alert_closed(self, alert: AlertRecord, toggle: bool | None) -> None:
        if toggle:
            self.kept.add(alert.alert_id)
            self.post_message(AcknowledgeAlert(alert, alert.state == "active"))

    @on(DataTable.RowHighlighted, "#alerts-table")
    def _row_highlighted(self) -> None:
        self._show_detail()
        self.app.refresh_bindings()

    def on_resize(self, event: Resize) -> None:
        wide = event.size.width >= WIDE_COLUMNS
        self.set_class(wide and event.size.height >= DETAIL_ROWS, "-detail")
        self._fill()

    # -- drawing -------------------------------------------------------------------

    @property
    def _zone(self) -> dt.tzinfo:
        return self.settings().budget.zone

    @property
    def _now(self) -> dt.datetime:
        return self.clock()

    @property
    def _today(self) -> dt.date:
        return local_today(self.settings(), self._now)

    def _colour(self, name: str) -> Style:
        """A theme colour as a Rich style; muted text is dimmed, as in the tables
        of the other tabs (the theme's muted colour is relative to the text's)."""
        if name == "text-muted":
            return Style(dim=True)
        return Style(color=self.app.theme_variables[name]) if name else Style()

    def _text(self, pieces: Sequence[Piece]) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        for piece, colour in pieces:
            text.append(piece, self._colour(colour))
        return text

    def _fill(self) -> None:
        if not self.is_mounted or self.size.width == 0:
            return
        self.set_class(self.showing_rules, "-rules")
        if self.showing_rules:
            self._fill_rules()
        else:
            self._fill_alerts()
        if self.has_focus_within:
            self.focus_list()
        self._show_title()
        self._show_total()

    def _fill_alerts(self) -> None:
        table = self.table
        selected = cursor_key(table)
        alerts = self.visible_alerts
        wide = self.size.width >= WIDE_COLUMNS
        table.clear(columns=True)
        if self.alerts is not None:
            rows = [self._row(alert, wide) for alert in alerts]
            columns = self._columns(rows, wide)
            for column in columns:
                table.add_column(column.label, width=column.width, key=column.key)
            for alert, row in zip(alerts, rows, strict=True):
                cells = self._drawn(row, columns)
                height = max(len(cell.split()) for cell in cells)
                table.add_row(*cells, key=str(alert.alert_id), height=height)
            if selected is not None and any(
                str(a.alert_id) == selected for a in alerts
            ):
                table.move_cursor(row=table.get_row_index(selected), animate=False)
        self._show_empty(alerts)
        self._show_detail()

    def _row(self, alert: AlertRecord, wide: bool) -> Row:
        """The lines of ``alert`` in each column, and its deliveries.

        Wide, an alert takes one line (more where its deliveries need them). Narrow,
        each column holds two things on two lines: the time and the severity, the
        rule and the scope (and the state where the filter does not say it), the
        figures and their share of the budget.
        """
        when = format_when(alert.fired_at, self._today, self._zone, short=not wide)
        severity = (alert.severity, SEVERITY_COLOUR.get(alert.severity, ""))
        state = [[(alert.state, "text-muted")]] if self._says_state(alert) else []
        main, note = figures(alert)
        delivery = delivery_items(alert, self._now)
        if wide:
            share = [(f" ({note})", "text-muted")] if note else []
            cells = {
                "when": [[(when, "")]],
                "severity": [[severity]],
                "rule": [[(rule_words(alert), "")]],
                "scope": [[(alert.scope, "")]],
                "figures": [[(main, ""), *share]],
                "state": state,
            }
        else:
            cells = {
                "when": [[(when, "")], [severity]],
                "rule": [
                    [(rule_words(alert), "")],
                    [(alert.scope, "text-muted")],
                    *state,
                ],
                "figures": [[(main, "")], [(note, "text-muted")]],
            }
        return Row(cells, delivery)

    def _says_state(self, alert: AlertRecord) -> bool:
        """Whether a row says its state: where the filter does not say it."""
        if self.filter == "all":
            return alert.state != "active"
        return alert.state != self.filter

    def _columns(self, rows: Sequence[Row], wide: bool) -> list[Column]:
        """Every column as wide as its longest line, the one holding the scope at
        most :data:`SCOPE_CELLS`; a state column only where a row says its state;
        and the deliveries in what is left, their lines broken to fit."""
        labels = WIDE_LABELS if wide else NARROW_LABELS
        widths = {}
        for key, label in labels.items():
            lines = [line for row in rows for line in row.cells.get(key, [])]
            longest = max((_length(line) for line in lines), default=0)
            widths[key] = max(longest, len(label)) if lines else 0
        scope = "scope" if wide else "rule"
        widths[scope] = min(widths[scope], SCOPE_CELLS)
        room = self.size.width - self._scrollbar(rows)
        taken = sum(w + 2 * PADDING for w in widths.values() if w)
        return [
            Column(key, label, widths[key])
            for key, label in labels.items()
            if widths[key]
        ] + [
            Column(
                "delivery",
                "Delivery",
                max(LEAST_DELIVERY, room - taken - 2 * PADDING),
            )
        ]

    def _scrollbar(self, rows: Sequence[Row]) -> int:
        """The cells the list's scroll bar takes when its rows will not all fit."""
        lines = sum(max(len(cells) for cells in row.cells.values()) for row in rows)
        room = self.size.height - 3
        if self.has_class("-detail"):
            room //= 2
        return self.table.styles.scrollbar_size_vertical if lines > room else 0

    def _drawn(self, row: Row, columns: Sequence[Column]) -> list[Text]:
        cells = []
        for column in columns:
            if column.key == "delivery":
                lines = pack(row.delivery, column.width)
            else:
                lines = row.cells.get(column.key, [])
            cells.append(Text("\n").join(self._text(line) for line in lines))
        return cells

    def _show_empty(self, alerts: list[AlertRecord]) -> None:
        empty = self.query_one("#alerts-empty", Static)
        self.set_class(not alerts, "-empty")
        if self.alerts is None:
            empty.update(Content.styled("Reading the alerts…", "$text-muted"))
        elif not self.alerts:
            empty.update(
                Content.assemble(
                    "No alerts yet. Alerts fire when spending crosses a threshold "
                    "of a budget (the month's total, a source's, a day's), when a "
                    "day's or a few hours' spend spikes above the usual, and before a "
                    "subscription renews or ends. ",
                    ("qoins --refresh", "bold $accent"),
                    " or ",
                    ("r", "bold $accent"),
                    " checks them; ",
                    ("R", "bold $accent"),
                    " lists the rules.",
                )
            )
        elif not alerts:
            empty.update(
                Content.assemble(
                    f"No {self.filter} alerts. ",
                    ("/", "bold $accent"),
                    f" shows {NEXT_FILTER[self.filter]}.",
                )
            )
        else:
            empty.update("")

    def _show_detail(self) -> None:
        self.query_one(AlertDetail).show(
            self.selected_alert(), self._now, self._today, self._zone
        )

    def _show_title(self) -> None:
        title = self.query_one("#alerts-title", Static)
        if self.showing_rules:
            title.update(
                Content.assemble(
                    ("Alert rules", "bold $secondary"),
                    (
                        "  what raises an alert · R or esc: back to the alerts",
                        "$text-muted",
                    ),
                )
            )
            return
        hint = f"/ shows {NEXT_FILTER[self.filter]} · " if self.alerts else ""
        title.update(
            Content.assemble(
                ("Alerts", "bold $secondary"),
                " · ",
                (self.filter, "bold"),
                (f"  {hint}R the rules", "$text-muted"),
            )
        )

    def _show_total(self) -> None:
        total = self.query_one("#alerts-total", Static)
        if self.showing_rules:
            count = self.rules_table.row_count
            total.update(
                Content.assemble(
                    f"{count} rule{'s' if count != 1 else ''}",
                    (
                        "  ·  thresholds and channels: budget.alerts in config.yml",
                        "$text-muted",
                    ),
                )
            )
            return
        alerts = self.alerts or []
        if not alerts:
            total.update("")
            return
        tally = Counter(a.listed for a in alerts)
        counts = [
            (tally[state], state)
            for state in ("active", "covered", "acknowledged", "cleared")
            if state != "covered" or tally[state]
        ]
        parts: list[Content | str | tuple[str, str]] = [
            " · ".join(f"{n} {state}" for n, state in counts)
        ]
        if self.visible_alerts:
            parts.append(("  ·  enter opens an alert", "$text-muted"))
        total.update(Content.assemble(*parts))

    # -- the rules -------------------------------------------------------------------

    def _fill_rules(self) -> None:
        table = self.rules_table
        rules = rule_rows(self.settings())
        table.clear(columns=True)
        channels = [", ".join(rule.channels) or "—" for rule in rules]
        widths = {
            "scope": min(max([5, *(len(r.scope) for r in rules)]), SCOPE_CELLS),
            "rule": max([4, *(len(r.rule) for r in rules)]),
            "channels": max([8, *map(len, channels)]),
        }
        taken = sum(w + 2 * PADDING for w in widths.values())
        # What is left, less the scroll bar: conditions longer than that wrap.
        room = self.size.width - taken - 2 * PADDING - 2
        longest = max((len(r.condition) for r in rules), default=0)
        condition = max(LEAST_DELIVERY, min(room, longest))
        table.add_column("Scope", width=widths["scope"], key="scope")
        table.add_column("Rule", width=widths["rule"], key="rule")
        table.add_column("Condition", width=condition, key="condition")
        table.add_column("Channels", width=widths["channels"], key="channels")
        for rule, heard in zip(rules, channels, strict=True):
            lines = pack([[(word, "") for word in rule.condition.split()]], condition)
            table.add_row(
                Text(clip(rule.scope, widths["scope"]), no_wrap=True),
                Text(rule.rule, no_wrap=True),
                Text("\n").join(self._text(line) for line in lines),
                Text(heard, no_wrap=True),
                key=_rule_key(rule),
                height=len(lines),
            )
        empty = self.query_one("#alerts-empty", Static)
        self.set_class(not rules, "-empty")
        empty.update(
            ""
            if rules
            else "No rules apply: thresholds need a budget (budget.monthly_limit "
            "or a source's budget_limit in config.yml)."
        )


def _rule_key(rule: RuleRow) -> str:
    return f"{rule.scope}\t{rule.rule}"
