"""The month as every front end shows it: spend, budget, forecast, sources, trends.

:func:`build_summary` queries the store once per figure and hands the results to the
pure functions of :mod:`qoins_tui.analysis`; ``qoins status``, its ``--json`` and the
app's Dashboard and Services tabs all draw from the same :class:`MonthSummary`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from collectors import COLLECTOR_TYPES, Collector
from collectors.subscriptions import billing_dates
from qoins_tui import analysis
from qoins_tui.analysis import Forecast, Month
from qoins_tui.config import Settings, SourceConfig
from qoins_tui.money import format_money
from qoins_tui.refresh import IMPORT_PREFIX, NO_KEY, SUBSCRIPTIONS, planned_sources
from qoins_tui.store import (
    Counts,
    MonthQuery,
    Reconciliation,
    RefreshRecord,
    ServiceLine,
    ServiceSpend,
    Store,
)

STALE_AFTER = dt.timedelta(hours=26)
CHART_DAYS = 30


@dataclass(frozen=True)
class SourceRow:
    """One source as the Services tab lists it."""

    name: str
    title: str
    providers: tuple[str, ...]
    status: str
    """ok, failed, stale or never."""
    last_refresh: dt.datetime | None
    error: str | None
    spent: Decimal
    budget: Decimal | None
    percent: Decimal | None
    counts: Counts
    daily: tuple[Decimal, ...]
    """The last 30 days of the view, oldest first, for a sparkline."""
    plan_value: Decimal = Decimal(0)
    detected: bool = False
    imported: bool = False
    account_label: str = "Account"
    caveat: str | None = None
    """What the source's figures leave out, from its collector."""
    """What the source calls the project or account its charges belong to."""
    no_key: bool = False
    """The last refresh failed because neither the keyring nor the config held the
    source's key."""

    @property
    def label(self) -> str:
        return import_label(self.name) if self.imported else self.name

    @property
    def status_text(self) -> str:
        """The status as the Services tab words it: a failure for want of a key is
        ``no key``."""
        return "no key" if self.no_key else self.status


@dataclass(frozen=True)
class TopLine:
    """A Dashboard top-services line: a source, or the imports of one provider."""

    label: str
    spent: Decimal
    share: Decimal | None
    budget: Decimal | None


@dataclass(frozen=True)
class MonthSummary:
    month: Month
    today: dt.date
    currency: str
    spent: Decimal
    estimated: Decimal
    budget: Decimal | None
    remaining: Decimal | None
    percent: Decimal | None
    days_left: int
    forecast: Forecast
    previous_spent: Decimal | None
    change_percent: Decimal | None
    """The month's total (projected while it runs) against the previous month's."""
    services: list[ServiceSpend]
    top: list[TopLine]
    budgets: list[tuple[str, Decimal, Decimal, Decimal | None]]
    """(scope, amount, spent, percent) of every budget besides the total."""
    unpriced: list[tuple[str, str, int]]
    unconverted: list[tuple[str, Decimal]]
    sources: list[SourceRow]
    daily: list[tuple[dt.date, Decimal]]
    plan_value: Decimal
    reconciliation: list[Reconciliation] = field(default_factory=list)
    """Bills beside the estimates they replaced, per provider and source."""
    runs_out: dt.date | None = None
    usage_rates: tuple[Decimal | None, Decimal | None] = (None, None)
    """Spend per day without the subscriptions, the previous month's over all its
    days and this one's (over its complete days while it runs); None without
    usage. Like for like, where the totals include the subscriptions."""
    keep_under: Decimal | None = None
    warnings: list[str] = field(default_factory=list)
    rates_of: tuple[dt.date, dt.date] | None = None
    """The oldest and newest day of the ECB rates that converted the month's
    charges; None when none did."""

    @property
    def rates_note(self) -> str | None:
        """``ECB rates of 2026-12-03`` (or of a span of days), None without them."""
        if self.rates_of is None:
            return None
        oldest, newest = self.rates_of
        days = str(oldest) if oldest == newest else f"{oldest} to {newest}"
        return f"ECB rates of {days}"

    @property
    def is_current(self) -> bool:
        return self.month == Month.of(self.today)

    @property
    def unpriced_tokens(self) -> int:
        return sum(tokens for _, _, tokens in self.unpriced)


def import_label(source: str) -> str:
    return source.removeprefix(IMPORT_PREFIX).rsplit("/", 1)[-1]


def local_today(settings: Settings, now: dt.datetime) -> dt.date:
    return now.astimezone(settings.budget.zone).date()


def month_query(settings: Settings, start: dt.date, end: dt.date) -> MonthQuery:
    budget = settings.budget
    return MonthQuery(start, end, budget.timezone, budget.currency, budget.rates)


def build_summary(
    store: Store, settings: Settings, month: Month, now: dt.datetime
) -> MonthSummary:
    with store.session():
        return _build_summary(store, settings, month, now)


def _build_summary(
    store: Store, settings: Settings, month: Month, now: dt.datetime
) -> MonthSummary:
    today = local_today(settings, now)
    q = month_query(settings, month.first_day, month.end)
    services = store.spend_by_service(q)
    spent = sum((s.spent for s in services), Decimal(0))
    estimated = sum((s.estimated for s in services), Decimal(0))
    budget = settings.budget.monthly_limit

    daily_all = store.daily_spend(q)
    daily_usage = store.daily_spend(q, exclude_sources=[SUBSCRIPTIONS])
    previous = month.previous()
    pq = month_query(settings, previous.first_day, previous.end)
    previous_usage = store.daily_spend(pq, exclude_sources=[SUBSCRIPTIONS])
    previous_rate = analysis.daily_rate_of(previous, previous_usage)
    previous_all = store.daily_spend(pq)
    previous_spent = sum(previous_all.values(), Decimal(0)) if previous_all else None
    scheduled = _scheduled_rest(settings, month, today)
    fc = analysis.forecast(
        month,
        today,
        daily_usage,
        daily_all,
        scheduled_rest=scheduled,
        previous_rate=previous_rate,
    )
    usage_rate = (
        analysis.daily_rate_of(month, daily_usage)
        if fc.basis == "complete"
        else fc.daily_rate
        if fc.basis == "month"
        else None
    )

    chart_end = (
        min(today, month.last_day) if month <= Month.of(today) else month.last_day
    )
    chart_start = chart_end - dt.timedelta(days=CHART_DAYS - 1)
    cq = month_query(settings, chart_start, chart_end + dt.timedelta(days=1))
    chart = store.daily_spend(cq)
    daily = [
        (
            chart_start + dt.timedelta(i),
            chart.get(chart_start + dt.timedelta(i), Decimal(0)),
        )
        for i in range(CHART_DAYS)
    ]
    by_source_daily = store.daily_spend_by_source(cq)

    plan = store.plan_value(q)
    sources = _source_rows(
        store, settings, services, plan, now, by_source_daily, chart_start
    )
    days = analysis.days_left(month, today)
    remaining = budget - spent if budget is not None else None
    runs_out = None
    keep_under = None
    if month == Month.of(today) and budget is not None:
        runs_out = analysis.runs_out(budget, spent, fc.daily_rate, today, month)
        if remaining is not None and days:
            keep_under = max(remaining - due_after(settings, today), Decimal(0)) / days
    return MonthSummary(
        month=month,
        today=today,
        currency=settings.budget.currency,
        spent=spent,
        estimated=estimated,
        budget=budget,
        remaining=remaining,
        percent=analysis.percent(spent, budget),
        days_left=days,
        forecast=fc,
        previous_spent=previous_spent,
        usage_rates=(previous_rate, usage_rate),
        change_percent=(
            None
            if fc.basis == "future"
            else analysis.change(
                fc.projected if fc.projected is not None else spent, previous_spent
            )
        ),
        services=services,
        top=_top_lines(settings, services, spent),
        budgets=[
            (row.name, row.budget, row.spent, row.percent)
            for row in sources
            if row.budget is not None
        ],
        unpriced=store.unpriced(q),
        unconverted=store.unconverted(q),
        sources=sources,
        daily=daily,
        plan_value=sum(plan.values(), Decimal(0)),
        reconciliation=store.reconciliation(q),
        runs_out=runs_out,
        keep_under=keep_under,
        warnings=list(settings.warnings),
        rates_of=store.rate_days(q),
    )


def source_details(
    store: Store, settings: Settings, month: Month, source: str
) -> list[ServiceLine]:
    return store.source_details(
        month_query(settings, month.first_day, month.end), source
    )


def due_after(settings: Settings, today: dt.date) -> Decimal:
    """Subscription charges still to come this month after today: money the daily
    pace that keeps a budget must leave for them."""
    tomorrow = today + dt.timedelta(days=1)
    if Month.of(tomorrow) != Month.of(today):
        return Decimal(0)
    return _scheduled_rest(settings, Month.of(today), tomorrow)


def _scheduled_rest(settings: Settings, month: Month, today: dt.date) -> Decimal:
    """Subscription charges from today to the month's end, in the budget currency."""
    if not month.first_day <= today <= month.last_day:
        return Decimal(0)
    total = Decimal(0)
    for sub in settings.subscriptions:
        if sub.currency == settings.budget.currency:
            rate = Decimal(1)
        elif sub.currency in settings.budget.rates:
            rate = settings.budget.rates[sub.currency]
        else:
            continue
        for _ in billing_dates(sub, max(today, sub.start), month.last_day):
            total += sub.charge * rate
    return total


def _top_lines(
    settings: Settings, services: list[ServiceSpend], spent: Decimal
) -> list[TopLine]:
    """Configured sources by spend; imported files grouped under their provider."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for s in services:
        key = s.source
        if s.source.startswith(IMPORT_PREFIX):
            key = s.provider or import_label(s.source)
        totals[key] += s.spent
    limits = {src.name: src.budget_limit for src in settings.sources}
    return [
        TopLine(label, amount, analysis.percent(amount, spent), limits.get(label))
        for label, amount in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def _source_rows(
    store: Store,
    settings: Settings,
    services: list[ServiceSpend],
    plan: Mapping[str, Decimal],
    now: dt.datetime,
    daily: Mapping[str, Mapping[dt.date, Decimal]],
    chart_start: dt.date,
) -> list[SourceRow]:
    planned = {s.name: s for s in planned_sources(settings)}
    refreshes = store.last_refreshes()
    spent: dict[str, Decimal] = defaultdict(Decimal)
    providers: dict[str, set[str]] = defaultdict(set)
    for s in services:
        spent[s.source] += s.spent
        if s.provider:
            providers[s.source].add(s.provider)
    stored = set(store.sources_with_charges())
    names = list(planned)
    for name in sorted(set(refreshes) | set(spent)):
        # A source no longer configured nor detected stays while charges of it are
        # stored (they still count); one that stored none, such as an entry that
        # only ever failed and was then removed, is gone. So is a refused import.
        if name not in planned and (name in stored or name in spent):
            names.append(name)
    rows = []
    for name in names:
        config = planned.get(name)
        record = refreshes.get(name)
        budget = config.budget_limit if config else None
        series = daily.get(name, {})
        kind, collector = _collector(config, record)
        rows.append(
            SourceRow(
                name=name,
                title=collector.title if collector else kind,
                account_label=collector.account_label if collector else "Account",
                caveat=collector.caveat if collector else None,
                providers=tuple(sorted(providers.get(name, ()))),
                # No refresh runs a source without an entry (imported Cursor
                # exports), so it cannot fall behind: it is as fresh as its import.
                status=_status(
                    record, now, name.startswith(IMPORT_PREFIX) or config is None
                ),
                last_refresh=record.finished_at if record else None,
                error=record.error if record else None,
                spent=spent.get(name, Decimal(0)),
                budget=budget,
                percent=analysis.percent(spent.get(name, Decimal(0)), budget),
                counts=record.counts if record else Counts(),
                daily=tuple(
                    series.get(chart_start + dt.timedelta(i), Decimal(0))
                    for i in range(CHART_DAYS)
                ),
                plan_value=plan.get(name, Decimal(0)),
                detected=bool(config and config.detected),
                imported=name.startswith(IMPORT_PREFIX),
                no_key=bool(record and record.status == NO_KEY),
            )
        )
    rows.sort(key=lambda r: (-r.spent, r.name))
    return rows


def _collector(
    config: SourceConfig | None, record: RefreshRecord | None
) -> tuple[str, type[Collector] | None]:
    """The source's type and its collector, from the config or the last refresh."""
    kind = config.type if config else (record.kind if record else None)
    return kind or "", COLLECTOR_TYPES.get(kind or "")


def _status(record: RefreshRecord | None, now: dt.datetime, imported: bool) -> str:
    if record is None:
        return "never"
    if record.status != "ok":
        return "failed"
    if not imported and record.last_ok and now - record.last_ok > STALE_AFTER:
        return "stale"
    return "ok"


def reconciliation_line(r: Reconciliation, currency: str) -> str:
    """A provider's bill beside a source's estimate of the same days, in words."""
    sign = "+" if r.difference > 0 else "−" if r.difference < 0 else "±"
    return (
        f"{r.provider} bill {format_money(r.billed, currency)} · {r.source} estimate "
        f"{format_money(r.estimated, currency)} ({sign}"
        f"{format_money(abs(r.difference), currency)}) on {r.days} "
        f"day{'s' if r.days != 1 else ''} · the bill counts"
    )
