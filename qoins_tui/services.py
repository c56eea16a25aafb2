"""The Services tab and a source's detail screen.

The tab is a table with one row per source (configured, detected agent logs,
subscriptions, imported files), sorted by the month's spend; ``/`` filters it by
name and Enter opens the source: its daily chart, the services it brought in by
model or SKU, the counts of its last refresh, its problems and its last error; ``k``
stores the selected source's API key in the OS keyring.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.events import Resize
from textual.message import Message
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Footer, Input, Static

from qoins_tui.analysis import Month
from qoins_tui.key_entry import KeyEntryScreen
from qoins_tui.keys import key_user
from qoins_tui.money import format_money, format_percent, format_tokens
from qoins_tui.store import ServiceLine
from qoins_tui.summary import MonthSummary, SourceRow, reconciliation_line
from qoins_tui.widgets import (
    DailyChart,
    QoinsHeader,
    chart_span,
    clip,
    cursor_key,
    format_when,
    money,
    sparkline,
)

WIDE_COLUMNS = 120
PREVIEW_ROWS = 30
"""From this height on a wide screen, the highlighted source shows below the table."""
STATUS_STYLE = {"ok": "success", "stale": "warning", "failed": "error"}
"""The theme colour of each status; ``never`` is dimmed."""


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    """Cells for the column's values; 0 for the columns sized by what they hold."""
    right: bool = False
    least: int | None = None
    """How narrow the column may get to leave the source's name whole; None: fixed.
    0 lets the column go altogether."""


NARROW = (
    Column("source", "Source", 0),
    Column("provider", "Provider", 9, least=5),
    Column("status", "Status", 6),
    Column("refreshed", "Updated", 7),
    Column("spent", "Spent", 0, right=True),
    Column("budget", "Budget", 0, right=True),
    Column("used", "Used", 4, right=True),
    Column("trend", "30 days", 7, least=0),
)
WIDE = (
    Column("source", "Source", 0),
    Column("kind", "Kind", 18, least=12),
    Column("provider", "Provider", 16, least=8),
    Column("status", "Status", 6),
    Column("refreshed", "Refreshed", 12),
    Column("spent", "This month", 0, right=True),
    Column("budget", "Budget", 0, right=True),
    Column("used", "Used", 5, right=True),
    Column("trend", "Last 30 days", 30, least=10),
)
SHRINK_ORDER = ("trend", "kind", "provider")
"""Which columns give way first when the source's name needs the room."""
LEAST_SOURCE = 10
PADDING = 1
"""Cells of padding on each side of a column."""
DETECTED = " (detected)"


class OpenSource(Message):
    """The user chose a source on the Services tab."""

    def __init__(self, row: SourceRow) -> None:
        super().__init__()
        self.row = row


class DetailsLoaded(Message, bubble=False):
    """The services a source brought in during ``month``, read in a worker."""

    def __init__(self, source: str, month: Month, lines: list[ServiceLine]) -> None:
        super().__init__()
        self.source = source
        self.month = month
        self.lines = lines


def source_name(row: SourceRow, detected: bool) -> str:
    """The name the Services table shows, ``(detected)`` after a detected source's."""
    return row.label + (DETECTED if detected and row.detected else "")


def show_source_chart(chart: DailyChart, row: SourceRow, summary: MonthSummary) -> str:
    """A source's days on the chart, with a line at the even pace of its own budget;
    returns what the days are called (``last 30 days``, ``November 2026``)."""
    span, name = chart_span(summary)
    days = [day for day, _ in summary.daily]
    pace = row.budget / summary.month.days if row.budget else None
    chart.show(list(zip(days, row.daily, strict=True))[span], pace, summary.currency)
    return name


def title_content(row: SourceRow, summary: MonthSummary, zone: dt.tzinfo) -> Content:
    """Two lines: the source, its kind and providers; its status and the month."""
    cur = summary.currency
    status_style = f"${STATUS_STYLE[row.status]}" if row.status in STATUS_STYLE else ""
    kind = f"{row.title}, detected" if row.detected else row.title
    about = " · ".join(part for part in (kind, ", ".join(row.providers)) if part)
    when = (
        f"refreshed {format_when(row.last_refresh, summary.today, zone)}"
        if row.last_refresh
        else "not refreshed yet"
    )
    parts: list[Content | str | tuple[str, str]] = [
        (row.label, "bold $secondary"),
        (f"  {about}", "$text-muted"),
        "\n",
        (row.status_text, f"bold {status_style}".strip()),
        f" · {when} · {'this month' if summary.is_current else summary.month.label} ",
        money(row.spent, cur, "bold"),
    ]
    if row.budget is not None:
        parts.extend(
            [" of ", money(row.budget, cur), f" ({format_percent(row.percent)})"]
        )
    if row.plan_value:
        parts.extend(
            [" · ", money(row.plan_value, cur), (" paid by plan", "$text-muted")]
        )
    for r in summary.reconciliation:
        if r.source == row.name or r.provider in row.providers:
            parts.extend(["\n", reconciliation_line(r, cur)])
    return Content.assemble(*parts)


def counts_content(row: SourceRow) -> Content:
    """The last refresh's counts in two columns, the worrying ones in warning colour."""
    if row.last_refresh is None:
        return Content.styled("Not refreshed yet; press r.", "$text-muted")
    c = row.counts
    pairs = [
        ("read", c.read),
        ("counted", c.counted),
        ("new", c.new),
        ("changed", c.changed),
        ("duplicate", c.duplicate),
        ("malformed", c.malformed),
        ("skipped", c.skipped),
        ("unpriced", c.unpriced),
    ]
    half = len(pairs) // 2
    lines = [
        Content.assemble(
            (left.ljust(10), "$text-muted"),
            f"{left_value:>9,}    ",
            (right.ljust(10), "$text-muted"),
            (
                f"{right_value:>9,}",
                "$warning" if right_value and right != "duplicate" else "",
            ),
        )
        for (left, left_value), (right, right_value) in zip(
            pairs[:half], pairs[half:], strict=True
        )
    ]
    return Content("\n").join(lines)


def notes_content(row: SourceRow) -> Content:
    """Files the last refresh could not read, then the lines it skipped, then what
    the source's figures leave out."""
    counts = row.counts
    parts = [Content.styled(f"✖ {problem}", "$error") for problem in counts.problems]
    parts.extend(Content.styled(f"• {note}", "$text-muted") for note in counts.notes)
    if counts.unpriced:
        parts.append(
            Content.styled(
                f"• {counts.unpriced} unpriced: their model has no price, so their "
                "tokens are kept without a cost; add it under prices: in config.yml.",
                "$text-muted",
            )
        )
    if not parts and row.error:
        parts = [
            Content.styled(
                "✖ The last refresh failed before it read anything.", "$error"
            )
        ]
    if not parts:
        parts = [Content.styled("None in the last refresh.", "$text-muted")]
    if row.caveat:
        parts.append(Content.styled(f"• {row.caveat}", "$text-muted"))
    return Content("\n").join(parts)


class SourcePreview(Vertical):
    """The highlighted source on wide, tall screens: its status, last refresh,
    problems and daily chart, without opening it."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="preview-row"):
            yield Static(id="preview-title", classes="box", markup=False)
            yield Static(id="preview-counts", classes="box", markup=False)
            yield Static(id="preview-notes", classes="box", markup=False)
        with Vertical(id="preview-chart-box", classes="box"):
            yield DailyChart(id="preview-chart")

    def show(self, row: SourceRow, summary: MonthSummary, zone: dt.tzinfo) -> None:
        title = self.query_one("#preview-title", Static)
        title.border_title = "Selected source"
        content = title_content(row, summary, zone)
        if row.error:
            content = Content.assemble(
                content, "\n\n", Content.styled(row.error, "$error")
            )
        title.update(content)
        counts = self.query_one("#preview-counts", Static)
        when = (
            format_when(row.last_refresh, summary.today, zone)
            if row.last_refresh
            else ""
        )
        counts.border_title = f"Last refresh {when}".strip()
        counts.update(counts_content(row))
        notes = self.query_one("#preview-notes", Static)
        notes.border_title = "Problems and notes"
        notes.update(notes_content(row))
        chart_box = self.query_one("#preview-chart-box")
        span = show_source_chart(self.query_one(DailyChart), row, summary)
        chart_box.border_title = f"{row.label}, daily spend, {span}"


class ServicesView(Vertical):
    """The Services tab's content; the app hands it each new summary."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "clear_filter",
            "Clear filter",
            key_display="esc",
            tooltip="Clear the filter and show every source",
        ),
        Binding(
            "k",
            "key",
            "Key",
            tooltip="Store the selected source's API key in the OS keyring",
        ),
        # For a source that takes no key, k answers with a toast instead.
        Binding("k", "no_key", show=False),
    ]

    def __init__(
        self,
        *,
        secret_keys: Callable[[str], Sequence[str]],
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.secret_keys = secret_keys
        """The secrets a source takes, by the source's name; empty for most."""
        self.summary: MonthSummary | None = None
        self.zone: dt.tzinfo = dt.UTC
        self.filter_text = ""
        self._columns: Sequence[Column] = ()

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Filter sources by name", id="filter")
        yield DataTable(id="sources-table", cursor_type="row", cell_padding=PADDING)
        yield Static(id="services-empty", markup=False)
        yield SourcePreview(id="source-preview")
        yield Static(id="services-total", markup=False)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._fill())

    @property
    def table(self) -> DataTable[Text]:
        return self.query_one("#sources-table", DataTable)

    @property
    def visible_rows(self) -> list[SourceRow]:
        """The rows the table shows: the month's sources matching the filter."""
        if self.summary is None:
            return []
        wanted = self.filter_text.casefold()
        return [r for r in self.summary.sources if wanted in r.label.casefold()]

    def show(self, summary: MonthSummary, zone: dt.tzinfo) -> None:
        self.summary = summary
        self.zone = zone
        self._fill()

    def start_filter(self) -> None:
        self.add_class("-filtering")
        self.query_one("#filter", Input).focus()
        self.app.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_filter":
            return self.has_class("-filtering")
        if action == "key":
            row = self.selected_row()
            return row is not None and bool(self.secret_keys(row.name))
        if action == "no_key":
            return self.selected_row() is not None
        return True

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.filter_text = ""
        self.remove_class("-filtering")
        self.table.focus()
        self.app.refresh_bindings()
        self._fill()

    def action_key(self) -> None:
        row = self.selected_row()
        if row is not None:
            enter_key(self, row, self.secret_keys(row.name))

    def action_no_key(self) -> None:
        row = self.selected_row()
        if row is not None:
            say_no_key(self, row)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._fill()

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.table.focus()

    @on(DataTable.RowSelected, "#sources-table")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        chosen = next(
            (r for r in self.visible_rows if r.name == event.row_key.value), None
        )
        if chosen is not None:
            self.post_message(OpenSource(chosen))

    @on(DataTable.RowHighlighted, "#sources-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._preview(event.row_key.value)
        self.refresh_bindings()

    def on_resize(self, event: Resize) -> None:
        self.set_class(
            event.size.width >= WIDE_COLUMNS and event.size.height >= PREVIEW_ROWS,
            "-preview",
        )
        if self.summary is not None:
            self._fill()

    def _preview(self, source: str | None) -> None:
        row = next((r for r in self.visible_rows if r.name == source), None)
        if row is not None and self.summary is not None:
            self.query_one(SourcePreview).show(row, self.summary, self.zone)

    def _fill(self) -> None:
        if self.summary is None or not self.is_mounted:
            return
        table = self.table
        wide = self.size.width >= WIDE_COLUMNS
        rows = self.visible_rows
        columns, detected = self._layout(WIDE if wide else NARROW, rows)
        selected = self._selected_key()
        table.clear(columns=True)
        self._columns = columns
        for column in columns:
            table.add_column(
                Text(column.label, justify="right" if column.right else "left"),
                width=column.width,
                key=column.key,
            )
        for row in rows:
            table.add_row(*self._cells(row, columns, detected), key=row.name)
        if selected is not None and any(r.name == selected for r in rows):
            table.move_cursor(row=table.get_row_index(selected), animate=False)
        self._preview(self._selected_key())
        self._show_empty(rows)
        self._show_total()

    def _layout(
        self, columns: Sequence[Column], rows: Sequence[SourceRow]
    ) -> tuple[list[Column], bool]:
        """The columns' widths, and whether "(detected)" follows a detected name.

        Amounts get the width of the largest one, never less. The source's name
        comes next: the trend, the kind and the provider shrink (the trend may go)
        before the name is cut, and "(detected)" goes before the name does.
        """
        assert self.summary is not None
        cur = self.summary.currency
        widths = {c.key: c.width for c in columns}
        figures = {
            "spent": [format_money(r.spent, cur) for r in rows],
            "budget": [format_money(r.budget, cur) for r in rows if r.budget],
            "used": [format_percent(r.percent) for r in rows],
        }
        for column in columns:
            if column.key in figures:
                longest = max(map(len, figures[column.key]), default=0)
                widths[column.key] = max(widths[column.key], len(column.label), longest)
        room = self.size.width - self._scrollbar(rows)

        def names(detected: bool) -> int:
            longest = max((len(source_name(r, detected)) for r in rows), default=0)
            return max(LEAST_SOURCE, longest)

        def over() -> int:
            return sum(w + 2 * PADDING for w in widths.values() if w > 0) - room

        widths["source"] = names(True)
        by_key = {c.key: c for c in columns}
        for key in SHRINK_ORDER:
            least = by_key[key].least if key in by_key else None
            if least is not None and over() > 0:
                widths[key] = max(least, widths[key] - over())
                if least == 0 and widths[key] < 4:
                    widths[key] = 0
        detected = True
        if over() > 0 and any(r.detected for r in rows):
            detected = False
            widths["source"] = names(False)
        widths["source"] = max(LEAST_SOURCE, widths["source"] - max(over(), 0))
        kept = [c for c in columns if widths[c.key] > 0]
        return [
            Column(c.key, c.label, widths[c.key], c.right, c.least) for c in kept
        ], detected

    def _scrollbar(self, rows: Sequence[SourceRow]) -> int:
        """The cells the table's scroll bar takes when its rows will not all fit."""
        room = self.size.height - 2 - (3 if self.has_class("-filtering") else 0)
        if self.has_class("-preview"):
            room //= 2
        return self.table.styles.scrollbar_size_vertical if len(rows) > room else 0

    def selected_row(self) -> SourceRow | None:
        """The source under the table's cursor, if any."""
        key = self._selected_key()
        return next((r for r in self.visible_rows if r.name == key), None)

    def _selected_key(self) -> str | None:
        return cursor_key(self.table)

    def _cells(
        self, row: SourceRow, columns: Sequence[Column], detected: bool
    ) -> list[Text]:
        assert self.summary is not None
        colours = self.app.theme_variables
        failed = row.status == "failed"
        base = Style(color=colours["error"]) if failed else Style()
        status_colour = STATUS_STYLE.get(row.status)
        cur = self.summary.currency
        used_style = Style()
        if row.percent is not None and row.percent >= 100:
            used_style = Style(color=colours["error"])
        elif row.percent is not None and row.percent >= 75:
            used_style = Style(color=colours["warning"])
        spent = format_money(row.spent, cur)
        values = {
            "source": (source_name(row, detected), base),
            "kind": (row.title, base),
            "provider": (", ".join(row.providers) or "—", base),
            "status": (
                row.status_text,
                Style(color=colours[status_colour])
                if status_colour
                else Style(dim=True),
            ),
            "refreshed": (
                format_when(
                    row.last_refresh,
                    self.summary.today,
                    self.zone,
                    short=not any(c.key == "kind" for c in columns),
                )
                if row.last_refresh
                else "never",
                base,
            ),
            "spent": (
                spent,
                Style(color=colours["error"]) if row.spent < 0 or failed else Style(),
            ),
            "budget": (
                format_money(row.budget, cur) if row.budget is not None else "—",
                base,
            ),
            "used": (format_percent(row.percent), used_style + base),
            "trend": ("", Style(color=colours["secondary"])),
        }
        cells = []
        for column in columns:
            text, style = values[column.key]
            if column.key == "trend":
                text = sparkline(row.daily, column.width)
            cells.append(
                Text(
                    text,
                    style=style,
                    justify="right" if column.right else "left",
                    overflow="ellipsis",
                    no_wrap=True,
                )
            )
        return cells

    def _show_empty(self, rows: list[SourceRow]) -> None:
        empty = self.query_one("#services-empty", Static)
        self.set_class(not rows, "-empty")
        if rows:
            empty.update("")
        elif self.filter_text:
            empty.update(
                f"No source matches “{self.filter_text}”. Escape clears the filter."
            )
        else:
            empty.update(
                "No sources yet. Add one under services: in config.yml, or bring in "
                "a cost export with qoins import FILE."
            )

    def _show_total(self) -> None:
        assert self.summary is not None
        rows = self.visible_rows
        failed = sum(1 for r in rows if r.status == "failed")
        total = sum((r.spent for r in rows), Decimal(0))
        label = "source" if len(rows) == 1 else "sources"
        shown = (
            f"{len(rows)} of {len(self.summary.sources)} {label}"
            if self.filter_text
            else f"{len(rows)} {label}"
        )
        parts: list[Content | str | tuple[str, str]] = [shown]
        if failed:
            parts.append((f" · {failed} failed", "$error"))
        month = "this month" if self.summary.is_current else self.summary.month.label
        parts.extend([" · ", money(total, self.summary.currency), f" {month}"])
        if rows:
            parts.append(("  ·  enter opens a source", "$text-muted"))
        self.query_one("#services-total", Static).update(Content.assemble(*parts))


def say_no_key(widget: Widget, row: SourceRow) -> None:
    widget.notify(
        f"{row.label} ({row.title}) needs no API key.",
        title="No key to store",
        markup=False,
    )


def enter_key(widget: Widget, row: SourceRow, secret_keys: Sequence[str]) -> None:
    """Open the masked field for the source's first secret; a toast confirms a
    stored key."""

    def closed(stored: bool | None) -> None:
        if stored:
            widget.notify(
                f"The key of {row.label} is in the OS keyring; the next refresh "
                "uses it.",
                title="Key stored",
                markup=False,
            )

    user = key_user(row.name, secret_keys, secret_keys[0])
    widget.app.push_screen(KeyEntryScreen(row.label, user), closed)


class SourceScreen(Screen[None]):
    """One source in full for the month on view; escape goes back."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "escape",
            "back",
            "Back",
            key_display="esc",
            tooltip="Back to the Services tab",
        ),
        Binding(
            "k",
            "key",
            "Key",
            tooltip="Store this source's API key in the OS keyring",
        ),
        Binding("k", "no_key", show=False),
    ]

    def __init__(
        self,
        row: SourceRow,
        summary: MonthSummary,
        zone: dt.tzinfo,
        secret_keys: Sequence[str] = (),
    ):
        super().__init__()
        self.row = row
        self.summary = summary
        self.zone = zone
        self.secret_keys = secret_keys
        """The secrets the source takes; ``k`` is shown only when there are any."""
        self.lines: list[ServiceLine] | None = None

    @property
    def source(self) -> str:
        return self.row.name

    def compose(self) -> ComposeResult:
        yield QoinsHeader()
        with VerticalScroll(id="source-body"):
            yield Static(id="source-title", markup=False)
            with Horizontal(id="source-top"):
                with Vertical(id="source-chart-box", classes="box"):
                    yield DailyChart(id="source-chart")
                with Vertical(id="source-services-box", classes="box"):
                    yield DataTable(
                        id="source-services", cursor_type="row", cell_padding=PADDING
                    )
            with Horizontal(id="source-bottom"):
                yield Static(id="source-counts", classes="box", markup=False)
                yield Static(id="source-notes", classes="box", markup=False)
            yield Static(id="source-error", classes="box", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._fill_lines())
        self.show(self.row, self.summary)

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width >= WIDE_COLUMNS, "-wide")
        # The services table sizes its columns to its box, known after this layout.
        self.call_after_refresh(self._fill_lines)

    def action_back(self) -> None:
        self.dismiss(None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "key":
            return bool(self.secret_keys)
        if action == "no_key":
            return not self.secret_keys
        return True

    def action_key(self) -> None:
        enter_key(self, self.row, self.secret_keys)

    def action_no_key(self) -> None:
        say_no_key(self, self.row)

    def show(self, row: SourceRow, summary: MonthSummary) -> None:
        """Draw the source for ``summary``'s month; its services arrive separately."""
        self.row = row
        self.summary = summary
        self.lines = None
        self._show_title()
        span = show_source_chart(self.query_one(DailyChart), row, summary)
        self.query_one("#source-chart-box").border_title = f"Daily spend, {span}"
        self.query_one(
            "#source-services-box"
        ).border_title = f"What it brought in, {summary.month.label}"
        self._fill_lines()
        self._show_counts()
        self._show_notes()
        self._show_error()

    def on_details_loaded(self, message: DetailsLoaded) -> None:
        if message.source == self.source and message.month == self.summary.month:
            self.lines = message.lines
            self._fill_lines()

    def _show_title(self) -> None:
        self.query_one("#source-title", Static).update(
            title_content(self.row, self.summary, self.zone)
        )

    def _fill_lines(self) -> None:
        """The services table: names cut to the room left once the charges and
        the amounts have theirs, so an amount is always whole and in view."""
        table = self.query_one("#source-services", DataTable)
        table.clear(columns=True)
        lines = self.lines or []
        if self.lines is None:
            message = "Reading the store…"
        elif not lines:
            message = f"Nothing in {self.summary.month.label}."
        else:
            message = ""
        names = [_service_name(line) for line in lines]
        details = [_detail_name(line) for line in lines]
        accounts = [line.account or "—" for line in lines]
        two_names = any(details)
        by_account = any(line.account for line in lines)
        amounts = [self._amount(line) for line in lines]
        charges = [f"{line.charges:,}" for line in lines]
        charges_width = max([len("Charges"), *map(len, charges)])
        amount_width = max([len("Amount"), *(a.cell_len for a in amounts)])
        name_columns = 1 + two_names + by_account
        name_room = (
            self._lines_width(len(lines))
            - charges_width
            - amount_width
            - 2 * PADDING * (name_columns + 2)
        )
        widths = _share(
            name_room,
            [
                max([len(message), len("Service"), *map(len, names)]),
                *(
                    [max([len("Model or SKU"), *map(len, details)])]
                    if two_names
                    else []
                ),
                *(
                    [max([len(self.row.account_label), *map(len, accounts)])]
                    if by_account
                    else []
                ),
            ],
        )
        # Agent logs name the service after the model: one column, called that.
        models = not two_names and any(line.detail for line in lines)
        table.add_column(
            "Model" if models else "Service", key="service", width=widths[0]
        )
        if two_names:
            table.add_column("Model or SKU", key="detail", width=widths[1])
        if by_account:
            table.add_column(self.row.account_label, key="account", width=widths[-1])
        table.add_column(
            Text("Charges", justify="right"), key="charges", width=charges_width
        )
        table.add_column(
            Text("Amount", justify="right"), key="amount", width=amount_width
        )
        if message:
            blanks = [""] * (len(table.columns) - 1)
            table.add_row(Text(clip(message, widths[0]), style="dim"), *blanks)
            return
        for line, name, detail, account, count, amount in zip(
            lines, names, details, accounts, charges, amounts, strict=True
        ):
            cells = [Text(clip(name, widths[0]), no_wrap=True)]
            if two_names:
                # Blank where the model repeats the service, a dash where there is none.
                shown = detail or ("" if line.detail else "—")
                cells.append(Text(clip(shown, widths[1]), no_wrap=True))
            if by_account:
                cells.append(Text(clip(account, widths[-1]), no_wrap=True))
            cells.extend([Text(count, justify="right"), amount])
            table.add_row(*cells)

    def _lines_width(self, rows: int) -> int:
        """The cells the services table may fill: its box, less a scroll bar when
        the rows will not all fit (the box grows to 14 rows when narrow)."""
        box = self.query_one("#source-services-box")
        table = self.query_one("#source-services", DataTable)
        width = box.content_region.width or self.size.width - 4
        height = box.content_region.height if self.has_class("-wide") else 12
        if rows + 1 > height:
            width -= table.styles.scrollbar_size_vertical
        return width

    def _amount(self, line: ServiceLine) -> Text:
        colours = self.app.theme_variables
        cur = self.summary.currency
        if line.amount is None and line.superseded:
            # Replaced by the bill: that it has no price changes nothing.
            text = Text(f"{format_tokens(line.tokens)} tokens", justify="right")
        elif line.amount is None:
            tokens = f" · {format_tokens(line.tokens)} tokens" if line.tokens else ""
            text = Text(
                f"unpriced{tokens}",
                style=Style(color=colours["warning"]),
                justify="right",
            )
        else:
            text = Text(
                format_money(line.amount, cur),
                style=Style(color=colours["error"]) if line.amount < 0 else Style(),
                justify="right",
            )
        if line.has_unpriced and line.amount is not None:
            text.append(" + unpriced", style=Style(color=colours["warning"]))
        if line.plan:
            text.append(" plan", style=Style(dim=True))
        if line.superseded:
            text.stylize(Style(dim=True))
            text.append(" not counted", style=Style(dim=True))
        return text

    def _show_counts(self) -> None:
        box = self.query_one("#source-counts", Static)
        row = self.row
        when = (
            format_when(row.last_refresh, self.summary.today, self.zone)
            if row.last_refresh
            else ""
        )
        box.border_title = f"Last refresh {when}".strip()
        box.update(counts_content(row))

    def _show_notes(self) -> None:
        box = self.query_one("#source-notes", Static)
        box.border_title = "Problems and notes"
        box.update(notes_content(self.row))

    def _show_error(self) -> None:
        box = self.query_one("#source-error", Static)
        box.border_title = "Last error"
        error = self.row.error
        repeats_problems = error == "; ".join(self.row.counts.problems)
        self.set_class(error is None or repeats_problems, "-no-error")
        box.update(Content.styled(error or "", "$error"))


def _service_name(line: ServiceLine) -> str:
    return line.service or line.provider or "—"


def _detail_name(line: ServiceLine) -> str:
    """The model or SKU; blank where it only repeats the service, as agent logs do
    (their service is the model)."""
    if line.detail and line.detail.casefold() == _service_name(line).casefold():
        return ""
    return line.detail


def _share(room: int, wanted: Sequence[int]) -> list[int]:
    """Split ``room`` cells between columns that want ``wanted`` cells each.

    Each gets what it wants when all fit, the last one taking what is left over;
    otherwise a column wanting less than an even share keeps it and the others
    split the rest evenly, none below four cells.
    """
    if not wanted:
        return []
    if sum(wanted) <= room:
        return [*wanted[:-1], room - sum(wanted[:-1])]
    widths = list(wanted)
    order = sorted(range(len(wanted)), key=lambda i: wanted[i])
    left, count = room, len(wanted)
    for i in order:
        fair = left // count
        widths[i] = max(4, min(wanted[i], fair))
        left -= widths[i]
        count -= 1
    return widths
