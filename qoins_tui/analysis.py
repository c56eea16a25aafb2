"""Month arithmetic and the month-end forecast: pure functions over query results.

Nothing here reads the store, the clock or the config; callers pass what they read,
so every figure can be checked by hand.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MONEY_PLACES = Decimal("0.000000000001")
"""The store's money scale: a quotient such as an average is rounded to it."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH.match(text.strip())
        if (
            not match
            or not 1 <= int(match.group(2)) <= 12
            or not 1900 <= int(match.group(1)) <= 9998
        ):
            raise ValueError(
                f"{text!r} is not a month between 1900-01 and 9998-12; write YYYY-MM, "
                "such as 2026-12."
            )
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def days(self) -> int:
        return calendar.monthrange(self.year, self.month)[1]

    @property
    def last_day(self) -> dt.date:
        return dt.date(self.year, self.month, self.days)

    @property
    def end(self) -> dt.date:
        """The first day of the next month: the window's exclusive end."""
        return self.next().first_day

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{calendar.month_name[self.month]} {self.year}"


@dataclass(frozen=True)
class Forecast:
    """The month-end total and how it was reached."""

    projected: Decimal | None
    basis: str
    """``complete`` (a past month), ``month`` (this month's complete days),
    ``previous month`` (its daily rate, before a whole day has passed),
    ``insufficient`` (no rate to go by) or ``future``."""
    daily_rate: Decimal | None = None
    low: Decimal | None = None
    high: Decimal | None = None


def forecast(
    month: Month,
    today: dt.date,
    daily_usage: Mapping[dt.date, Decimal],
    daily_all: Mapping[dt.date, Decimal],
    *,
    scheduled_rest: Decimal = Decimal(0),
    previous_rate: Decimal | None = None,
) -> Forecast:
    """Spend through yesterday + average per complete day × days left (today included).

    ``daily_all`` is every charge per local day; ``daily_usage`` the same without the
    known fixed charges (subscriptions), which are not extrapolated: those still to
    come this month, today's included, arrive as ``scheduled_rest``. Today's partial
    spend never counts as a whole day, but when it already exceeds the average it
    stands for today, so the projection never falls below what is spent.
    """
    if today < month.first_day:
        return Forecast(None, "future")
    if today > month.last_day:
        total = sum(daily_all.values(), Decimal(0))
        return Forecast(total, "complete")
    complete_days = (today - month.first_day).days
    days_left = month.days - complete_days
    through_yesterday = sum((v for d, v in daily_all.items() if d < today), Decimal(0))
    today_usage = daily_usage.get(today, Decimal(0))
    if complete_days == 0:
        if previous_rate is None:
            return Forecast(None, "insufficient")
        projected = (
            max(today_usage, previous_rate)
            + previous_rate * (days_left - 1)
            + scheduled_rest
        )
        return Forecast(_money(projected), "previous month", _money(previous_rate))
    usage = [
        daily_usage.get(month.first_day + dt.timedelta(i), Decimal(0))
        for i in range(complete_days)
    ]
    rate = sum(usage, Decimal(0)) / complete_days
    projected = (
        through_yesterday
        + max(today_usage, rate)
        + rate * (days_left - 1)
        + scheduled_rest
    )
    low = high = None
    if complete_days >= 3:
        spread = _stdev(usage) * Decimal(math.sqrt(days_left)) * Decimal("1.28")
        low = _money(max(projected - spread, through_yesterday + today_usage))
        high = _money(projected + spread)
    return Forecast(_money(projected), "month", _money(rate), low, high)


def daily_rate_of(
    month: Month, daily_usage: Mapping[dt.date, Decimal]
) -> Decimal | None:
    """A whole month's average spend per day, or None when it has no charges."""
    if not daily_usage:
        return None
    return sum(daily_usage.values(), Decimal(0)) / month.days


def percent(part: Decimal, whole: Decimal | None) -> Decimal | None:
    """part ÷ whole × 100, not capped; None without a whole to compare with."""
    if whole is None or whole == 0:
        return None
    return part / whole * 100


def change(current: Decimal, previous: Decimal | None) -> Decimal | None:
    """Percent change against the previous figure; None when there is none."""
    if previous is None or previous == 0:
        return None
    return (current - previous) / abs(previous) * 100


def runs_out(
    budget: Decimal | None,
    spent: Decimal,
    rate: Decimal | None,
    today: dt.date,
    month: Month,
) -> dt.date | None:
    """The day spend reaches the budget at the current rate, if within the month."""
    if budget is None or rate is None or rate <= 0:
        return None
    if spent >= budget:
        return today
    days = int((budget - spent) / rate)
    if days > (month.last_day - today).days:
        return None
    return today + dt.timedelta(days=days)


def days_left(month: Month, today: dt.date) -> int:
    """Days of the month still to come, today included; 0 for a past month."""
    if today > month.last_day:
        return 0
    if today < month.first_day:
        return month.days
    return (month.last_day - today).days + 1


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_PLACES)


def _stdev(values: list[Decimal]) -> Decimal:
    if len(values) < 2:
        return Decimal(0)
    mean = sum(values, Decimal(0)) / len(values)
    variance = sum(((v - mean) ** 2 for v in values), Decimal(0)) / (len(values) - 1)
    return variance.sqrt()
