"""The Dashboard tab: the month's budget, forecast, top services and daily spend.

Every figure comes from one :class:`~qoins_tui.summary.MonthSummary`. At 80×24 the
budget, the forecast, four top services, one line of notes and the daily chart fit;
from 120 columns the panels sit side by side and add the comparison with the previous
month, every source with its sparkline and the notes in full. With nothing to show
yet, the welcome panel takes the tab's place.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from decimal import Decimal

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.events import Resize
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import Static

from qoins_tui.discovery import Finding
from qoins_tui.money import format_change, format_money, format_percent, format_tokens
from qoins_tui.summary import MonthSummary, SourceRow, TopLine
from qoins_tui.widgets import (
    DailyChart,
    bar,
    format_day,
    format_whole,
    money,
    sparkline,
)

WIDE_COLUMNS = 120
"""From this width on, panels sit side by side and show more."""
TALL_ROWS = 34
"""From this height on, lists show more lines."""
WARN_PERCENT = Decimal(75)
MIDDLE_ROWS = 12
"""At most this many top services and sources side by side on a wide screen."""

Line = Content | str | tuple[str, str]


def level_style(percent: Decimal | None) -> str:
    """The colour of a share of a budget: fine, close to it, or over it."""
    if percent is None:
        return ""
    if percent >= 100:
        return "$error"
    if percent >= WARN_PERCENT:
        return "$warning"
    return "$success"


def change_text(summary: MonthSummary) -> Content:
    """``month end vs November ↗ +15%``: this month's total (its forecast while it
    runs) against the previous month's, the arrow pointing the way spend moved."""
    previous = summary.month.previous().label.split()[0]
    if summary.change_percent is None:
        return Content(f"no spend in {previous} to compare")
    change = format_change(summary.change_percent)
    style = "$error" if summary.change_percent > 0 else "$success"
    lead = "month end vs" if summary.is_current else "vs"
    return Content.assemble(f"{lead} {previous} ", (change, style))


def _pad(left: Content, right: Content, width: int) -> Content:
    """``left`` and ``right`` on one line, ``right`` flush with the edge."""
    gap = max(1, width - left.cell_length - right.cell_length)
    return Content.assemble(left, " " * gap, right)


def _fit(content: Content, width: int) -> Content:
    if content.cell_length <= width:
        return content
    return content.truncate(max(width - 1, 0)) + "…"


class Panel(Widget):
    """A bordered box drawn from the summary; it shows as many lines as fit.

    :meth:`lines` gives the lines in order of importance for a width and the number
    of rows there is room for; a panel of automatic height asks for up to
    :attr:`max_lines` rows.
    """

    summary: MonthSummary | None = None

    @property
    def max_lines(self) -> int:
        return 100

    def show(self, summary: MonthSummary) -> None:
        self.summary = summary
        self.refresh(layout=True)

    def lines(self, summary: MonthSummary, width: int, room: int) -> list[Content]:
        raise NotImplementedError

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self.summary is None:
            return 1
        return max(1, len(self.lines(self.summary, width, self.max_lines)))

    def render(self) -> Content:
        if self.summary is None:
            return Content.styled("Reading the store…", "$text-muted")
        width = self.content_region.width or self.size.width
        room = max(self.size.height, 1)
        shown = self.lines(self.summary, width, room)[:room]
        return Content("\n").join(_fit(line, width) for line in shown)


class BudgetPanel(Panel):
    """``$95.94 of $110.00 87% ⚠``, a meter, and what is left."""

    def on_mount(self) -> None:
        self.border_title = "Budget"

    def lines(self, summary: MonthSummary, width: int, room: int) -> list[Content]:
        cur = summary.currency
        spent = money(summary.spent, cur, "bold")
        if summary.budget is None:
            result = [
                Content.assemble(spent, " spent"),
                Content.styled("No monthly budget set.", "$text-muted"),
                Content.styled(
                    "Add budget.monthly_limit to config.yml.", "$text-muted"
                ),
            ]
        else:
            percent = summary.percent or Decimal(0)
            style = level_style(percent)
            mark = " ⚠" if percent >= WARN_PERCENT else ""
            head = Content.assemble(spent, " of ", money(summary.budget, cur))
            fill = bar(float(percent / 100), width)
            filled = fill.rstrip()
            meter = Content.assemble(
                (filled, style), ("░" * (width - len(filled)), "$text-disabled")
            )
            result = [
                _pad(
                    head, Content.styled(format_percent(percent) + mark, style), width
                ),
                meter,
                self._left(summary),
            ]
        if summary.estimated:
            result.append(
                Content.assemble(
                    ("≈ ", "$text-muted"),
                    money(summary.estimated, cur),
                    (" of it estimated from usage", "$text-muted"),
                )
            )
        return result

    def _left(self, summary: MonthSummary) -> Content:
        remaining = summary.remaining or Decimal(0)
        cur = summary.currency
        if remaining < 0:
            left = Content.assemble(
                Content.styled(format_money(-remaining, cur), "$error"),
                (" over budget", "$error"),
            )
        else:
            left = Content.assemble(money(remaining, cur), " left")
        if not summary.is_current:
            return Content.assemble(left, " at month end")
        days = summary.days_left
        return Content.assemble(left, f" · {days} day{'s' if days != 1 else ''} to go")


class ForecastPanel(Panel):
    """The month-end figure with its range, the verdict and the daily allowance."""

    def on_mount(self) -> None:
        self.border_title = "Forecast"

    def lines(self, summary: MonthSummary, width: int, room: int) -> list[Content]:
        if not summary.is_current:
            return self._past(summary)
        cur = summary.currency
        fc = summary.forecast
        if fc.projected is None:
            return [
                Content.assemble("Month end  ", ("not enough data yet", "$text-muted")),
                Content.styled(
                    "A forecast needs one whole day of spend.", "$text-muted"
                ),
            ]
        head = Content.assemble("Month end  ", money(fc.projected, cur, "bold"))
        if fc.low is not None and fc.high is not None:
            low = format_whole(fc.low, cur)
            high = format_whole(fc.high, cur)
            head = Content.assemble(head, (f" ({low}–{high})", "$text-muted"))
        result = [head, self._verdict(summary, fc.projected)]
        allowance = self._allowance(summary, width)
        if allowance is not None:
            result.append(allowance)
        if fc.daily_rate is not None:
            rate = format_money(fc.daily_rate, cur)
            basis = (
                f"at {rate}/day, last month's pace"
                if fc.basis == "previous month"
                else f"at {rate}/day over {summary.today.day - 1} full days"
            )
            result.append(Content.styled(basis, "$text-muted"))
        return result

    def _verdict(self, summary: MonthSummary, total: Decimal) -> Content:
        if summary.budget is None:
            return Content.styled("No budget to compare with.", "$text-muted")
        gap = total - summary.budget
        if gap > 0:
            return Content.assemble(
                ("Over budget by ", "$error"),
                (format_money(gap, summary.currency), "bold $error"),
            )
        return Content.assemble(
            ("Under budget by ", "$success"),
            (format_money(-gap, summary.currency), "bold $success"),
        )

    def _allowance(self, summary: MonthSummary, width: int) -> Content | None:
        if summary.remaining is not None and summary.remaining <= 0:
            return Content.styled("Budget used up: the rest is over it.", "$error")
        if summary.keep_under is None:
            return None
        keep = f"keep under {format_money(summary.keep_under, summary.currency)}/day"
        if summary.runs_out is None:
            return Content(keep[0].upper() + keep[1:])
        runs_out = f"Runs out {format_day(summary.runs_out)}"
        if len(runs_out) + 3 + len(keep) > width:
            keep = keep.removesuffix("ay")
        return Content.assemble((runs_out, "$warning"), f" · {keep}")

    def _past(self, summary: MonthSummary) -> list[Content]:
        cur = summary.currency
        total = summary.forecast.projected or summary.spent
        days = summary.month.days
        return [
            Content.assemble("Month total  ", money(total, cur, "bold")),
            self._verdict(summary, total),
            Content.styled(
                f"averaged {format_money(total / days, cur)}/day over {days} days",
                "$text-muted",
            ),
        ]


class TrendPanel(Panel):
    """The month against the one before: totals and the daily average of each."""

    def on_mount(self) -> None:
        self.border_title = "Against last month"

    def lines(self, summary: MonthSummary, width: int, room: int) -> list[Content]:
        cur = summary.currency
        previous = summary.month.previous()
        prev_name = previous.label.split()[0]
        this_name = summary.month.label.split()[0]
        result = [change_text(summary)]
        if summary.previous_spent is None:
            return result
        result.append(
            Content.assemble(
                f"{prev_name} ",
                money(summary.previous_spent, cur),
                f" · {this_name} so far ",
                money(summary.spent, cur),
            )
        )
        previous_rate = summary.previous_spent / previous.days
        result.append(
            Content.assemble(
                f"{prev_name} averaged ", money(previous_rate, cur), "/day"
            )
        )
        rate = summary.forecast.daily_rate
        if (
            summary.is_current
            and rate is not None
            and summary.forecast.basis == "month"
        ):
            result.append(
                Content.assemble(f"{this_name} so far ", money(rate, cur), "/day")
            )
        return result


class TopServices(Panel):
    """The configured sources by spend: amount, a bar, share of the month, budget."""

    def on_mount(self) -> None:
        self.border_title = "Top services"

    @property
    def max_lines(self) -> int:
        wide = any(node.has_class("-wide") for node in self.ancestors)
        tall = any(node.has_class("-tall") for node in self.ancestors)
        return MIDDLE_ROWS if wide else 7 if tall else 4

    def lines(self, summary: MonthSummary, width: int, room: int) -> list[Content]:
        top = summary.top
        if not top:
            return [Content.styled("No spend this month.", "$text-muted")]
        estimated = {s.source for s in summary.services if s.estimated}
        shown = top if len(top) <= room else top[: room - 1]
        peak = max((line.spent for line in top), default=Decimal(0))
        name_width = min(max(len(line.label) for line in shown), 18)
        result = [
            self._line(line, summary, peak, name_width, width, line.label in estimated)
            for line in shown
        ]
        if len(shown) < len(top):
            rest = top[len(shown) :]
            total = sum((line.spent for line in rest), Decimal(0))
            result.append(
                Content.styled(
                    f"+ {len(rest)} more · {format_money(total, summary.currency)}",
                    "$text-muted",
                )
            )
        return result

    def _line(
        self,
        line: TopLine,
        summary: MonthSummary,
        peak: Decimal,
        name_width: int,
        width: int,
        is_estimated: bool,
    ) -> Content:
        cur = summary.currency
        name = line.label[:name_width].ljust(name_width)
        amount = format_money(line.spent, cur)
        amount = ("≈" if is_estimated else "") + amount
        share = format_percent(line.share).rjust(4)
        of_budget = Content("")
        if line.budget is not None:
            used = line.spent / line.budget * 100 if line.budget else None
            of_budget = Content.styled(
                f"  of {format_money(line.budget, cur)}", level_style(used)
            )
        fixed = name_width + 1 + 11 + 1 + 1 + len(share) + 13
        bar_width = max(4, min(width - fixed, 40))
        fraction = float(line.spent / peak) if peak > 0 else 0.0
        amount_style = "$error" if line.spent < 0 else ""
        return Content.assemble(
            name,
            " ",
            (amount.rjust(11), amount_style),
            " ",
            (bar(fraction, bar_width), "$secondary"),
            " ",
            share,
            of_budget,
        )


_STATUS = {
    "ok": ("●", "$success"),
    "stale": ("●", "$warning"),
    "failed": ("✖", "$error"),
    "never": ("○", "$text-muted"),
}


class SourcesPanel(Panel):
    """Every source at a glance: status, spend and its last 30 days."""

    def on_mount(self) -> None:
        self.border_title = "Sources"

    @property
    def max_lines(self) -> int:
        return MIDDLE_ROWS

    def lines(self, summary: MonthSummary, width: int, room: int) -> list[Content]:
        if not summary.sources:
            return [Content.styled("No sources yet.", "$text-muted")]
        name_width = min(max(len(row.label) for row in summary.sources), 22)
        rows = summary.sources
        shown = rows if len(rows) <= room else rows[: room - 1]
        result = [self._line(row, summary, name_width, width) for row in shown]
        if len(shown) < len(rows):
            result.append(
                Content.styled(
                    f"+ {len(rows) - len(shown)} more on the Services tab",
                    "$text-muted",
                )
            )
        return result

    def _line(
        self, row: SourceRow, summary: MonthSummary, name_width: int, width: int
    ) -> Content:
        glyph, style = _STATUS.get(row.status, ("?", ""))
        spark_width = max(0, min(30, width - name_width - 2 - 1 - 11 - 2 - 16))
        name_style = "$error" if row.status == "failed" else ""
        spent_style = "$error" if row.status == "failed" or row.spent < 0 else ""
        if row.status != "ok":
            note = Content.styled(row.status, style)
        elif row.plan_value and not row.spent:
            note = Content.styled(
                f"{format_money(row.plan_value, summary.currency)} paid by plan",
                "$text-muted",
            )
        elif row.percent is not None:
            note = Content.styled(
                f"{format_percent(row.percent)} of budget", level_style(row.percent)
            )
        else:
            note = Content("")
        return Content.assemble(
            (glyph, style),
            " ",
            (row.label[:name_width].ljust(name_width), name_style),
            " ",
            (format_money(row.spent, summary.currency).rjust(11), spent_style),
            "  ",
            (sparkline(row.daily, spark_width).ljust(spark_width), "$secondary"),
            "  ",
            note,
        )


class ServiceBreakdown(Panel):
    """What each provider billed, service by service, across all sources."""

    def on_mount(self) -> None:
        self.border_title = "By service"

    def lines(self, summary: MonthSummary, width: int, room: int) -> list[Content]:
        totals: dict[tuple[str, str], Decimal] = {}
        estimated: set[tuple[str, str]] = set()
        for spend in summary.services:
            key = (spend.provider, spend.service)
            totals[key] = totals.get(key, Decimal(0)) + spend.spent
            if spend.estimated:
                estimated.add(key)
        if not totals:
            return [Content.styled("No spend this month.", "$text-muted")]
        ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ranked if len(ranked) <= room else ranked[: room - 1]
        result = []
        for (provider, service), amount in shown:
            mark = "≈" if (provider, service) in estimated else ""
            figure = Content.assemble(mark, money(amount, summary.currency))
            name = Content.assemble(service or "—", (f"  {provider}", "$text-muted"))
            result.append(_pad(_fit(name, width - 13), figure, width))
        if len(shown) < len(ranked):
            rest = ranked[len(shown) :]
            total = sum((amount for _, amount in rest), Decimal(0))
            result.append(
                Content.styled(
                    f"+ {len(rest)} more · {format_money(total, summary.currency)}",
                    "$text-muted",
                )
            )
        return result


def note_items(summary: MonthSummary) -> list[tuple[Content, str]]:
    """Things worth knowing about the month: (full sentence, short form)."""
    cur = summary.currency
    items: list[tuple[Content, str]] = []
    for provider, model, tokens in summary.unpriced:
        name = model or provider or "a model"
        items.append(
            (
                Content.assemble(
                    (f"{format_tokens(tokens)} tokens", "$warning"),
                    f" of {name} have no price; add it under prices: in config.yml.",
                ),
                f"{format_tokens(tokens)} tokens of {name} unpriced",
            )
        )
    if summary.estimated:
        amount = format_money(summary.estimated, cur)
        items.append(
            (
                Content.assemble(
                    "≈ ",
                    money(summary.estimated, cur),
                    " of the month is estimated from token counts at list prices.",
                ),
                f"≈{amount} estimated",
            )
        )
    if summary.plan_value:
        amount = format_money(summary.plan_value, cur)
        items.append(
            (
                Content.assemble(
                    money(summary.plan_value, cur),
                    " of agent usage paid by your plan (not counted as spend).",
                ),
                f"{amount} paid by plan",
            )
        )
    for currency, unconverted in summary.unconverted:
        text = format_money(unconverted, currency)
        items.append(
            (
                Content.assemble(
                    (text, "$warning"),
                    " has no exchange rate and is left out of the totals; "
                    f"add budget.rates.{currency} to config.yml.",
                ),
                f"{text} unconverted",
            )
        )
    for warning in summary.warnings:
        items.append((Content.styled(warning, "$warning"), warning))
    return items


class NotesPanel(Panel):
    """The notes in full, one per line, for wide screens."""

    def on_mount(self) -> None:
        self.border_title = "Worth knowing"

    def lines(self, summary: MonthSummary, width: int, room: int) -> list[Content]:
        items = note_items(summary)
        if not items:
            return [Content.styled("Nothing unusual this month.", "$text-muted")]
        result: list[Content] = []
        for full, _short in items:
            result.extend(
                Content.assemble("• ", line) if i == 0 else Content.assemble("  ", line)
                for i, line in enumerate(full.wrap(max(width - 2, 10)))
            )
        return result


class NotesStrip(Panel):
    """The notes in short, on one line, where there is no room for a panel."""

    @property
    def max_lines(self) -> int:
        return 1

    def lines(self, summary: MonthSummary, width: int, room: int) -> list[Content]:
        shorts = [short for _full, short in note_items(summary)]
        if not shorts:
            return [Content("")]
        text = ""
        for index, short in enumerate(shorts):
            candidate = f"{text} · {short}" if text else short
            remaining = len(shorts) - index - 1
            tail = f" · +{remaining} more" if remaining else ""
            if len(candidate) + len(tail) > width:
                return [Content.styled(f"{text} · +{remaining + 1} more", "$warning")]
            text = candidate
        return [Content.styled(text, "$warning")]


class DailyPanel(Vertical):
    """The last 30 days as bars, a line at the even pace, and the month's trend."""

    def compose(self) -> ComposeResult:
        yield DailyChart(id="daily-chart")

    def show(self, summary: MonthSummary) -> None:
        last = summary.daily[-1][0] if summary.daily else summary.today
        self.border_title = (
            "Daily spend, last 30 days"
            if summary.is_current
            else f"Daily spend, 30 days to {format_day(last)}"
        )
        self.border_subtitle = change_text(summary).markup
        pace = summary.budget / summary.month.days if summary.budget else None
        self.query_one(DailyChart).show(summary.daily, pace, summary.currency)


class WelcomePanel(VerticalScroll):
    """What QOINs looked for, what it found, and how to give it something to show."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._findings: list[Finding] = []

    def compose(self) -> ComposeResult:
        yield Static(id="welcome-text", markup=False)

    def on_mount(self) -> None:
        self.border_title = "Welcome to QOINs"

    def show(self, findings: Sequence[Finding]) -> None:
        self._findings = list(findings)
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        width = self.scrollable_content_region.width or 76
        parts: list[Line] = [
            "QOINs keeps what you spend on AI APIs, coding agents, cloud and dev tools "
            "in one local file. It has nothing to show yet.\n\n",
            ("What QOINs looked for\n", "bold $secondary"),
        ]
        what_width = max((len(f.what) for f in self._findings), default=0) + 2
        indent = 2 + 8 + what_width
        for finding in self._findings:
            mark = (
                ("✔ found ", "$success")
                if finding.found
                else ("✖ none  ", "$text-muted")
            )
            where = textwrap.wrap(finding.where, max(width - indent, 20)) or [""]
            parts.extend(["  ", mark, finding.what.ljust(what_width), where[0], "\n"])
            parts.extend(f"{' ' * indent}{line}\n" for line in where[1:])
        parts.extend(
            [
                ("\nThree ways to add a source\n", "bold $secondary"),
                "  1. An API key: ",
                ("qoins keys set NAME", "bold $accent"),
                ("  (API sources come in a later version)\n", "$text-muted"),
                "  2. A line in ",
                ("config.yml", "bold $accent"),
                ", such as ",
                ("services: {claude_code: {billing: plan}}", "$accent"),
                "\n  3. A cost export: ",
                ("qoins import FILE", "bold $accent"),
                ("  (FOCUS CSV, Parquet or JSON lines)\n", "$text-muted"),
                "\nTo see a filled example first, run ",
                ("qoins --demo", "bold $accent"),
                ".",
            ]
        )
        self.query_one("#welcome-text", Static).update(Content.assemble(*parts))


class DashboardView(Vertical):
    """The Dashboard tab's content; the app hands it each new summary."""

    def compose(self) -> ComposeResult:
        yield WelcomePanel(id="welcome")
        with Horizontal(id="dash-top"):
            yield BudgetPanel(id="budget", classes="panel")
            yield ForecastPanel(id="forecast", classes="panel")
            yield TrendPanel(id="trend", classes="panel")
        with Horizontal(id="dash-middle"):
            yield TopServices(id="top", classes="panel")
            yield SourcesPanel(id="sources", classes="panel")
        yield NotesStrip(id="notes-strip")
        with Horizontal(id="dash-bottom"):
            yield DailyPanel(id="daily", classes="panel")
            with Vertical(id="dash-side"):
                yield NotesPanel(id="notes", classes="panel")
                yield ServiceBreakdown(id="by-service", classes="panel")

    summary: MonthSummary | None = None

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width >= WIDE_COLUMNS, "-wide")
        self.set_class(event.size.height >= TALL_ROWS, "-tall")
        self._size_middle()

    def show(self, summary: MonthSummary) -> None:
        self.summary = summary
        self.remove_class("-welcome")
        for panel in self.query(Panel):
            panel.show(summary)
        self.query_one(DailyPanel).show(summary)
        self._size_middle()

    def _size_middle(self) -> None:
        """Side by side, top services and sources share the height the longer needs."""
        middle = self.query_one("#dash-middle")
        if self.summary is not None and self.has_class("-wide"):
            longest = max(len(self.summary.top), len(self.summary.sources), 1)
            middle.styles.height = min(longest, MIDDLE_ROWS) + 2
        else:
            middle.styles.height = "auto"

    def show_welcome(self, findings: Sequence[Finding]) -> None:
        self.add_class("-welcome")
        self.query_one(WelcomePanel).show(findings)
