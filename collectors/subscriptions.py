"""Fixed recurring costs from the config's ``subscriptions`` (domains, plans, seats).

No API is called. Each billing date from ``start`` to today charges amount × seats in
full, as a Purchase on that calendar date; the date falls on ``start``'s day of the
month, or the month's last day when the month is shorter. The config is the whole
truth: a subscription removed from it takes its charges along, so a cancelled one
stays listed with ``ends`` to keep its history.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from collectors.base import Charge, RecordBatch, RecordCollector


@dataclass(frozen=True)
class Subscription:
    name: str
    provider: str
    amount: Decimal
    currency: str
    period: str
    """``monthly`` or ``yearly``."""
    start: dt.date
    seats: int = 1
    renews: dt.date | None = None
    ends: dt.date | None = None
    project: str | None = None
    category: str | None = None

    @property
    def charge(self) -> Decimal:
        return self.amount * self.seats


def billing_dates(
    sub: Subscription, first: dt.date, last: dt.date
) -> Iterator[dt.date]:
    """The subscription's billing dates within ``[first, last]``, oldest first."""
    step = 12 if sub.period == "yearly" else 1
    index = 0
    while True:
        months = sub.start.month - 1 + index * step
        year = sub.start.year + months // 12
        month = months % 12 + 1
        day = min(sub.start.day, calendar.monthrange(year, month)[1])
        date = dt.date(year, month, day)
        index += 1
        if date > last or (sub.ends is not None and date > sub.ends):
            return
        if date >= first:
            yield date


class SubscriptionsCollector(RecordCollector):
    type = "subscriptions"
    title = "Subscriptions"

    def collect(self) -> RecordBatch:
        subscriptions: tuple[Subscription, ...] = self.context.extra.get(
            "subscriptions", ()
        )
        today = self.context.now.astimezone(self.context.zone).date()
        charges = [
            Charge(
                record_key=f"{sub.name}:{date.isoformat()}",
                provider=sub.provider,
                service=sub.name,
                service_category=sub.category,
                billed_cost=sub.charge,
                currency=sub.currency,
                charge_date=date,
                charge_category="Purchase",
                quantity=Decimal(sub.seats),
                unit="seats",
                cost_basis="billed",
                tags={"project": sub.project} if sub.project else None,
            )
            for sub in subscriptions
            for date in billing_dates(sub, sub.start, today)
        ]
        return RecordBatch(charges=charges, replaces_all=True, read=len(subscriptions))
