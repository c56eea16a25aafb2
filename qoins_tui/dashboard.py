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
    chart_span,
    clip,
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
    """The last resort for a line too long: panels pick a wording that fits first."""
    if content.cell_length <= width:
        return content
    return content.truncate(max(width - 1, 0)) + "…"


def _first_fitting(width: int, *choices: Content) -> Content:
    """The first of ``choices`` (longest wording first) that fits ``width``."""
    return next((c for c in choices if c.cell_length <= width), choices[-1])


def _wrapped(content: Content, width: int) -> list[Content]:
    return list(content.wrap(max(width, 10)))


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
            hint = Content.styled(
                "Add budget.monthly_limit to config.yml.", "$text-muted"
            )
            head = Content.assemble(
                spent, " spent", (" · no monthly budget", "$text-muted")
            )
            if head.cell_length <= width:
                result = [head, *_wrapped(hint, width)]
            else:
                result = [
                    Content.assemble(spent, " spent"),
                    Content.styled("No monthly budget.", "$text-muted"),
                    *_wrapped(hint, width),
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
            share = Content.styled(format_percent(percent) + mark, style)
            result = [
                _first_fitting(
                    width,
                    _pad(head, share, width),
                    _pad(head, Content.styled(format_percent(percent), style), width),
                    head,
                ),
                meter,
                self._left(summary, width),
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

    def _left(self, summary: MonthSummary, width: int) -> Content:
        """What is left (or how far over), with the days to go in the words that
        fit: ``$14,948.44 over budget · 29 days to go`` becomes ``… over · 29 days
        to go`` rather than losing its end."""
        remaining = summary.remaining or Decimal(0)
        cur = summary.currency
        if remaining < 0:
            figure = Content.styled(format_money(-remaining, cur), "$error")
            long = Content.assemble(figure, (" over budget", "$error"))
            short = Content.assemble(figure, (" over", "$error"))
        else:
            long = short = Content.assemble(money(remaining, cur), " left")
        if not summary.is_current:
            return _first_fitting(
                width, Content.assemble(long, " at month end"), long, short
            )
        days = summary.days_left
        to_go = f" · {days} day{'s' if days != 1 else ''} to go"
        return _first_fitting(
            width,
            Content.assemble(long, to_go),
            Content.assemble(short, to_go),
            long,
            short,
        )


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
            ranged = Content.assemble(head, (f" ({low}–{high})", "$text-muted"))
            head = _first_fitting(width, ranged, head)
        result = [head, self._verdict(summary, fc.projected)]
        result.extend(self._allowance(summary, width))
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

    def _allowance(self, summary: MonthSummary, width: int) -> list[Content]:
        """When the budget runs out and the daily spend that keeps within it, on
        one line in the words that fit, else on two."""
        if summary.remaining is not None and summary.remaining <= 0:
            used_up = Content.styled("Budget used up: the rest is over it.", "$error")
            return _wrapped(used_up, width)
        if summary.keep_under is None:
            return []
        per_day = f"{format_money(summary.keep_under, summary.currency)}/day"
        if summary.runs_out is None:
            return [Content(f"Keep under {per_day}")]
        runs_out = Content.styled(
            f"Runs out {format_day(summary.runs_out)}", "$warning"
        )
        for keep in (f"keep under {per_day}", f"keep ≤ {per_day}"):
            line = Content.assemble(runs_out, f" · {keep}")
            if line.cell_length <= width:
                return [line]
        return [runs_out, Content(f"Keep under {per_day}")]

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
        this_total = f"{this_name} so far " if summary.is_current else f"{this_name} "
        before = Content.assemble(f"{prev_name} ", money(summary.previous_spent, cur))
        now = Content.assemble(this_total, money(summary.spent, cur))
        both = Content.assemble(before, " · ", now)
        result.extend([both] if both.cell_length <= width else [before, now])
        previous_rate, rate = summary.usage_rates
        # Without the subscriptions, which bill on their own dates, not by the day.
        if previous_rate is not None:
            result.append(
                Content.assemble(
                    f"{prev_name} usage averaged ", money(previous_rate, cur), "/day"
                )
            )
        if rate is not None:
            words = "usage so far" if summary.is_current else "usage averaged"
            result.append(
                Content.assemble(f"{this_name} {words} ", money(rate, cur), "/day")
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
        amounts = [
            self._amount(line, summary, line.label in estimated) for line in shown
        ]
        budgets = [self._of_budget(line, summary) for line in shown]
        amount_width = max(len(a) for a in amounts)
        # name, amount, a bar of at least 4, the share and the widest "of $budget"
        others = 1 + amount_width + 1 + 4 + 1 + 4 + max(b.cell_length for b in budgets)
        name_width = min(max(len(line.label) for line in shown), max(width - others, 8))
        bar_width = max(4, min(width - others + 4 - name_width, 40))
        result = [
            Content.assemble(
                clip(line.label, name_width).ljust(name_width),
                " ",
                (amount.rjust(amount_width), "$error" if line.spent < 0 else ""),
                " ",
                (
                    bar(float(line.spent / peak) if peak > 0 else 0.0, bar_width),
                    "$secondary",
                ),
                " ",
                format_percent(line.share).rjust(4),
                of_budget,
            )
            for line, amount, of_budget in zip(shown, amounts, budgets, strict=True)
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

    @staticmethod
    def _amount(line: TopLine, summary: MonthSummary, is_estimated: bool) -> str:
        return ("≈" if is_estimated else "") + format_money(
            line.spent, summary.currency
        )

    @staticmethod
    def _of_budget(line: TopLine, summary: MonthSummary) -> Content:
        if line.budget is None:
            return Content("")
        used = line.spent / line.budget * 100 if line.budget else None
        return Content.styled(
            f"  of {format_money(line.budget, summary.currency)}", level_style(used)
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
        rows = summary.sources
        shown = rows if len(rows) <= room else rows[: room - 1]
        notes = [self._note(row, summary) for row in shown]
        amounts = [format_money(row.spent, summary.currency) for row in shown]
        note_width = max(note.cell_length for note in notes)
        amount_width = max(len(amount) for amount in amounts)
        # glyph, name, amount, a sparkline of at least 8 and the widest note
        others = 2 + 1 + amount_width + 2 + 8 + 2 + note_width
        name_width = min(max(len(row.label) for row in shown), max(width - others, 12))
        spark_width = max(0, min(30, width - others + 8 - name_width))
        result = [
            self._line(row, summary, name_width, amount_width, spark_width, note)
            for row, note in zip(shown, notes, strict=True)
        ]
        if len(shown) < len(rows):
            result.append(
                Content.styled(
                    f"+ {len(rows) - len(shown)} more on the Services tab",
                    "$text-muted",
                )
            )
        return result

    @staticmethod
    def _note(row: SourceRow, summary: MonthSummary) -> Content:
        if row.status != "ok":
            return Content.styled(row.status, _STATUS.get(row.status, ("?", ""))[1])
        if row.plan_value and not row.spent:
            return Content.styled(
                f"{format_money(row.plan_value, summary.currency)} paid by plan",
                "$text-muted",
            )
        if row.percent is not None:
            return Content.styled(
                f"{format_percent(row.percent)} of budget", level_style(row.percent)
            )
        return Content("")

    @staticmethod
    def _line(
        row: SourceRow,
        summary: MonthSummary,
        name_width: int,
        amount_width: int,
        spark_width: int,
        note: Content,
    ) -> Content:
        glyph, style = _STATUS.get(row.status, ("?", ""))
        name_style = "$error" if row.status == "failed" else ""
        spent_style = "$error" if row.status == "failed" or row.spent < 0 else ""
        amount = format_money(row.spent, summary.currency)
        return Content.assemble(
            (glyph, style),
            " ",
            (clip(row.label, name_width).ljust(name_width), name_style),
            " ",
            (amount.rjust(amount_width), spent_style),
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
        figures = [
            Content.assemble(
                "≈" if key in estimated else "", money(amount, summary.currency)
            )
            for key, amount in shown
        ]
        name_room = width - max(f.cell_length for f in figures) - 2
        result = []
        for ((provider, service), _amount), figure in zip(shown, figures, strict=True):
            # The provider is the first to go; then the service loses its end.
            name = _first_fitting(
                name_room,
                Content.assemble(service or "—", (f"  {provider}", "$text-muted")),
                Content(clip(service or "—", name_room)),
            )
            result.append(_pad(name, figure, width))
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
    if summary.rates_note is not None:
        items.append(
            (
                Content(f"Other currencies converted at {summary.rates_note}."),
                summary.rates_note,
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
        span, name = chart_span(summary)
        self.border_title = f"Daily spend, {name}"
        self.border_subtitle = change_text(summary).markup
        pace = summary.budget / summary.month.days if summary.budget else None
        self.query_one(DailyChart).show(summary.daily[span], pace, summary.currency)


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
                "  1. Coding-agent logs, which QOINs reads from the folders above:",
                "\n     Claude Code, Codex CLI and Gemini CLI\n",
                "  2. A line in ",
                ("config.yml", "bold $accent"),
                ", such as ",
                ("services: {openai: {budget_limit: 40}}", "$accent"),
                "\n     and the API's admin key: ",
                ("qoins keys set openai", "bold $accent"),
                "\n  3. A cost export: ",
                ("qoins import FILE", "bold $accent"),
                "\n     ",
                (
                    "(FOCUS CSV, Parquet or JSON lines, or Cursor's usage CSV)\n",
                    "$text-muted",
                ),
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
