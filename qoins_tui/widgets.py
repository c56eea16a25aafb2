"""Pieces every QOINs view shares: money and token text, bars, sparklines, the header,
the daily chart and the keys screen.

Money is written by :func:`qoins_tui.money.format_money` (the budget currency's symbol,
two decimals, thousands separators); :func:`money` adds the error colour to negative
amounts (credits and refunds).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.color import Color
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.geometry import Size
from textual.reactive import var
from textual.screen import ModalScreen
from textual.widgets import DataTable, ProgressBar, Static
from textual_plotext import PlotextPlot

from qoins_tui.money import format_money
from qoins_tui.summary import MonthSummary

BLOCKS = " ▏▎▍▌▋▊▉█"
SPARKS = "▁▂▃▄▅▆▇█"
CENT = Decimal("0.01")


def format_whole(amount: Decimal, currency: str) -> str:
    """Money rounded to whole units, for ranges and chart axes: ``$116``."""
    text = format_money(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP), currency)
    return text.removesuffix(".00")


def money(amount: Decimal, currency: str, style: str = "") -> Content:
    """Money as content: negative amounts in the error colour."""
    text = format_money(amount, currency)
    if amount.quantize(CENT, rounding=ROUND_HALF_UP) < 0:
        return Content.styled(text, "$error")
    return Content.styled(text, style) if style else Content(text)


def format_day(day: dt.date) -> str:
    """``Dec 8``: the short date the dashboard and tables use."""
    return f"{day:%b} {day.day}"


def format_when(
    moment: dt.datetime, today: dt.date, zone: dt.tzinfo, *, short: bool = False
) -> str:
    """``09:12`` today, ``Dec 20 09:12`` (``Dec 20`` when ``short``) on an earlier
    day, in the budget's zone."""
    local = moment.astimezone(zone)
    if local.date() == today:
        return f"{local:%H:%M}"
    day = format_day(local.date())
    return day if short else f"{day} {local:%H:%M}"


def clip(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, its end replaced by ``…`` when cut."""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…" if width > 0 else ""


def chart_span(summary: MonthSummary) -> tuple[slice, str]:
    """Which of the summary's chart days to draw, and what they are called.

    While the month runs, the chart shows the last 30 days. For a past month it
    shows that month's own days only, named by the month, or by their dates when
    the 30 days the summary holds do not reach back to the month's first day.
    """
    days = [day for day, _ in summary.daily]
    if summary.is_current or not days:
        return slice(None), "last 30 days"
    month = summary.month
    inside = [
        i for i, day in enumerate(days) if month.first_day <= day <= month.last_day
    ]
    if not inside:
        return slice(None), f"30 days to {format_day(days[-1])}"
    first, last = days[inside[0]], days[inside[-1]]
    if first == month.first_day and last == month.last_day:
        name = month.label
    else:
        name = f"{format_day(first)}–{last.day}"
    return slice(inside[0], inside[-1] + 1), name


def bar(fraction: float, width: int) -> str:
    """A horizontal bar ``width`` cells wide, filled to ``fraction`` in eighths."""
    if width <= 0:
        return ""
    eighths = round(max(0.0, min(fraction, 1.0)) * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (BLOCKS[part] if part else "")
    return text.ljust(width)


def sparkline(values: Sequence[Decimal], width: int) -> str:
    """``values`` (oldest first) squeezed into ``width`` cells, one bucket a cell.

    Each cell shows its bucket's total against the largest bucket; a bucket without
    spend stays blank, so one monthly charge reads as one bar.
    """
    if not values or width <= 0:
        return ""
    width = min(width, len(values))
    buckets = [Decimal(0)] * width
    for index, value in enumerate(values):
        buckets[index * width // len(values)] += max(value, Decimal(0))
    peak = max(buckets)
    if peak <= 0:
        return " " * width
    levels = len(SPARKS)
    return "".join(
        " " if b <= 0 else SPARKS[max(math.ceil(float(b / peak) * levels) - 1, 0)]
        for b in buckets
    )


@dataclass(frozen=True)
class HeaderState:
    """What the header shows: the month on view and where the refresh stands."""

    month: str
    status: Content
    progress: tuple[int, int] | None = None
    """(done, total) while a refresh runs."""
    demo: bool = False


class QoinsHeader(Horizontal):
    """One line: ``QOINs · December 2026`` on the left, the refresh state on the right.

    It follows the app's ``header_state`` so every screen's header agrees.
    """

    DEFAULT_CSS = """
    QoinsHeader {
        dock: top;
        height: 1;
        background: $panel;
        color: $foreground;
        padding: 0 1;
        #header-title { width: 1fr; }
        #header-progress { width: 14; display: none; }
        #header-progress Bar { width: 12; }
        #header-status { width: auto; }
        &.-refreshing #header-progress { display: block; }
    }
    """

    state: var[HeaderState | None] = var(None)

    def compose(self) -> ComposeResult:
        yield Static(id="header-title", markup=False)
        yield ProgressBar(id="header-progress", show_percentage=False, show_eta=False)
        yield Static(id="header-status", markup=False)

    def on_mount(self) -> None:
        self.watch(self.app, "header_state", self._follow, init=True)

    def _follow(self, state: HeaderState | None) -> None:
        self.state = state

    def watch_state(self, state: HeaderState | None) -> None:
        if state is None:
            return
        title = Content.assemble(
            ("QOINs", "bold $secondary"),
            " · ",
            (state.month, "bold"),
            ("  demo", "italic $accent") if state.demo else "",
        )
        self.query_one("#header-title", Static).update(title)
        self.query_one("#header-status", Static).update(state.status)
        progress = self.query_one("#header-progress", ProgressBar)
        self.set_class(state.progress is not None, "-refreshing")
        if state.progress is not None:
            done, total = state.progress
            progress.update(total=max(total, 1), progress=done)


class DailyChart(PlotextPlot):
    """Spend per day as bars, with a line at the budget's even pace.

    The chart takes a whole number of columns per day, so every bar has the same
    width; its container centres it. Colours come from the app's theme and follow a
    theme switch.
    """

    DEFAULT_CSS = """
    DailyChart {
        width: auto;
        height: 1fr;
        min-height: 4;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._days: list[tuple[dt.date, Decimal]] = []
        self._pace: Decimal | None = None
        self._currency = "USD"

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._draw())

    def show(
        self,
        days: Sequence[tuple[dt.date, Decimal]],
        pace: Decimal | None,
        currency: str,
    ) -> None:
        self._days = list(days)
        self._pace = pace
        self._currency = currency
        self.refresh(layout=True)
        self._draw()

    @property
    def days(self) -> list[tuple[dt.date, Decimal]]:
        """The days on the chart, oldest first, with each day's spend."""
        return list(self._days)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        label = max(
            (len(text) for text in self._y_ticks(container.height)[1]), default=0
        )
        slots = len(self._days) or 1
        per_day = (container.width - label) // slots
        return label + slots * per_day if per_day >= 1 else container.width

    def on_resize(self) -> None:
        self._draw()

    @property
    def _top(self) -> float:
        """The largest day or the pace; one currency unit when there is neither, so
        an empty chart's axis reads $0 to $1 rather than repeating $0.01."""
        values = [float(amount) for _, amount in self._days]
        top = max([*values, float(self._pace or 0)])
        return top if top > 0 else 1.0

    @property
    def _low(self) -> float:
        return min([*(float(amount) for _, amount in self._days), 0.0])

    def _draw(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.frame(False)
        if not self._days:
            self.refresh()
            return
        colours = self.app.theme_variables
        values = [float(amount) for _, amount in self._days]
        xs = list(range(1, len(values) + 1))
        y_ticks = self._y_ticks(self.size.height)
        label = max((len(text) for text in y_ticks[1]), default=0)
        x_low, x_high, bar_width = bar_layout(self.size.width - label, len(values))
        plt.bar(
            xs, values, color=_rgb(colours["primary"]), marker="hd", width=bar_width
        )
        if self._pace is not None and self._pace > 0:
            plt.horizontal_line(float(self._pace), color=_rgb(colours["warning"]))
        plt.xlim(x_low, x_high)
        plt.ylim(self._low, self._top * 1.05)
        plt.yticks(*y_ticks)
        plt.xticks(*self._x_ticks())
        self.refresh()

    def _x_ticks(self) -> tuple[list[float], list[str]]:
        """A date every week, or every third day where the chart is wide enough."""
        step = 7 if self.size.width < 120 else 3
        last = len(self._days)
        ticks = list(range(last, 0, -step))[::-1]
        return [float(t) for t in ticks], [
            format_day(self._days[t - 1][0]) for t in ticks
        ]

    def _y_ticks(self, height: int) -> tuple[list[float], list[str]]:
        """Round amounts up the axis: two or three where the chart is short."""
        low, top = self._low, self._top
        count = 2 if height < 10 else 4
        step = _nice_step((top - low) / count)
        first = math.floor(low / step) * step
        ticks = [first + step * i for i in range(count + 2) if first + step * i <= top]
        labels = [
            format_whole(Decimal(str(t)), self._currency)
            if step >= 1
            else format_money(Decimal(str(round(t, 2))), self._currency)
            for t in ticks
        ]
        return ticks, labels


def bar_layout(canvas: int, days: int) -> tuple[float, float, float]:
    """(x from, x to, bar width) that put every day's bar on the same cells.

    plotext draws bars on a grid of half cells and maps ``x`` to it as
    ``floor(0.5 + (halves - 1) * (x - x_from) / (x_to - x_from))``; limits chosen so
    that one day is exactly ``2 * per_day`` halves wide make day ``i`` start on half
    ``2 * per_day * (i - 1)``. Its bar then fills whole cells (all but the last cell
    of the day, which stays empty between bars); with one cell a day it fills the
    cell's left half, so bars never merge.
    """
    per_day = max(canvas // max(days, 1), 1)
    halves = 2 * max(canvas, 1)
    filled = 2 * per_day - 2 if per_day > 1 else 1
    span = (halves - 1) / (2 * per_day)
    # The bar's edges land a quarter of a half inside its first and last halves, so
    # rounding in plotext cannot move them onto a neighbour.
    x_from = 1 - (filled - 1) / (4 * per_day)
    width = (filled - 0.5) / (2 * per_day)
    return x_from, x_from + span, width


def _nice_step(rough: float) -> float:
    """The smallest of 1, 2, 2.5 and 5 times a power of ten at or above ``rough``."""
    if rough <= 0:
        return 1.0
    power: float = 10.0 ** math.floor(math.log10(rough))
    return next(
        (f * power for f in (1.0, 2.0, 2.5, 5.0) if f * power >= rough), 10 * power
    )


def _rgb(colour: str) -> tuple[int, int, int]:
    return Color.parse(colour).rgb


class KeysScreen(ModalScreen[None]):
    """Every key of the app, grouped by where it works; escape or ? closes it."""

    DEFAULT_CSS = """
    KeysScreen {
        align: center middle;
        #keys {
            width: 72;
            max-width: 100%;
            height: auto;
            max-height: 100%;
            /* The header and the footer stay in view. */
            margin: 1 0;
            border: round $primary;
            border-title-color: $secondary;
            background: $surface;
            padding: 0 1;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
    ]

    def __init__(self, sections: Sequence[tuple[str, Sequence[tuple[str, str]]]]):
        super().__init__()
        self._sections = sections

    def compose(self) -> ComposeResult:
        parts: list[Content | str | tuple[str, str]] = []
        for index, (title, keys) in enumerate(self._sections):
            if index:
                parts.append("\n")
            parts.append((title, "bold $secondary"))
            for key, description in keys:
                parts.extend(["\n  ", (key.ljust(8), "bold $accent"), description])
        with VerticalScroll(id="keys") as scroll:
            scroll.border_title = "Keys"
            scroll.border_subtitle = "esc closes"
            yield Static(Content.assemble(*parts), markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


def cursor_key(table: DataTable[Any]) -> str | None:
    """The key of the row under a table's cursor; None in an empty table."""
    if not table.row_count:
        return None
    try:
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    except LookupError:
        return None
    return key.value
